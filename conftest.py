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
from nbval import plugin as nbval_plugin

os.environ["MINICLUSTER_TREE"] = "stubs"
# Checks of the learner's tree record progress; under the tests, not in the checkout's own file.
_STATE = tempfile.mkdtemp(prefix="minicluster-tests-")
os.environ["MINICLUSTER_STATE"] = str(Path(_STATE) / "progress.json")
# Real servers are used only where a test asks for them (tests/test_servers.py): none configured by the
# learner's `minicluster servers up` or shell is seen by the rest of the suite.
os.environ["MINICLUSTER_CONFIG"] = str(Path(_STATE) / "servers.json")
for _name in ("MINICLUSTER_REDIS_URL", "MINICLUSTER_POSTGRES_DSN", "MINICLUSTER_PGBOUNCER_DSN"):
    os.environ.pop(_name, None)
atexit.register(shutil.rmtree, _STATE, ignore_errors=True)  # the suite leaves no temp folder behind
matplotlib.use("Agg")

# nbval compares no images (PNG and JPEG are skipped); JupyterLab caches an SVG of each Mermaid diagram
# in the saved notebook (see minicluster/workbook/browser.py), which a kernel never produces: skip it
# too. nbval has no option for it, so its per-file list is extended here.
_nbval_init = nbval_plugin.IPyNbFile.__init__


def _skipping_svg(self, *args, **kwargs):
    _nbval_init(self, *args, **kwargs)
    self.skip_compare = (*self.skip_compare, "image/svg+xml")


nbval_plugin.IPyNbFile.__init__ = _skipping_svg
