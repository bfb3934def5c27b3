"""Test-suite set-up shared by the unit tests and the notebooks that nbval runs.

The notebooks load exercises from the tree named by ``MINICLUSTER_TREE``; under the test suite that
is ``solutions/``, so their stored outputs are the passing ones. The variables are set here, before any
notebook kernel starts (kernels inherit the environment of this process).
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib

os.environ["MINICLUSTER_TREE"] = "solutions"
# Checks of the learner's tree record progress; under the tests, not in the checkout's own file.
_STATE = tempfile.mkdtemp(prefix="minicluster-tests-")
os.environ["MINICLUSTER_STATE"] = str(Path(_STATE) / "progress.json")
atexit.register(shutil.rmtree, _STATE, ignore_errors=True)  # the suite leaves no temp folder behind
matplotlib.use("Agg")
