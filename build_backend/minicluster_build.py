"""setuptools' build backend, with the project's data files in editable installs too.

``pip install -e .`` builds an editable wheel; setuptools means to put the ``data-files`` of
``pyproject.toml`` in it (``editable_wheel._run_install("data")``) but asks the distribution for
``has_data()``, which does not exist (it is ``has_data_files()``), so they are silently left out.
The workbook's one data file enables its Jupyter server extension
(``etc/jupyter/jupyter_server_config.d/minicluster.json``), without which opening a notebook in
JupyterLab can modify it. ``tests/test_environment.py`` checks the installed file is there.
"""

from setuptools.build_meta import *  # noqa: F403 (this module is the backend: it re-exports setuptools')
from setuptools.dist import Distribution

if not hasattr(Distribution, "has_data"):
    Distribution.has_data = Distribution.has_data_files
