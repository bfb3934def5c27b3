"""Test-suite set-up shared by the unit tests and the notebooks that nbval runs.

The notebooks load exercises from the tree named by ``MINICLUSTER_TREE``; under the test suite that
is ``stubs``, the exercises as shipped (generated from the solutions, whatever the learner has written
in ``exercises/``), so the stored outputs are what a learner sees first and a learner's own solutions
never turn ``pytest`` red. The variables are set here, before any notebook kernel starts (kernels
inherit the environment of this process). That the solutions pass is proven by tests/test_checkers.py
and, through the notebooks, by tests/test_notebooks.py.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib

os.environ["MINICLUSTER_TREE"] = "stubs"
# Checks of the learner's tree record progress; under the tests, not in the checkout's own file.
_STATE = tempfile.mkdtemp(prefix="minicluster-tests-")
os.environ["MINICLUSTER_STATE"] = str(Path(_STATE) / "progress.json")
atexit.register(shutil.rmtree, _STATE, ignore_errors=True)  # the suite leaves no temp folder behind
matplotlib.use("Agg")
