"""Test-suite set-up shared by the unit tests and the notebooks that nbval runs.

The notebooks load exercises from the tree named by ``MINICLUSTER_TREE``; under the test suite that
is ``solutions/``, so their stored outputs are the passing ones. The variable is set here, before any
notebook kernel starts (kernels inherit the environment of this process).
"""

import os

import matplotlib

os.environ["MINICLUSTER_TREE"] = "solutions"
matplotlib.use("Agg")
