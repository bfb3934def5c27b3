import shutil
from pathlib import Path

import pytest

from minicluster import Response, Router


@pytest.fixture
def echo_router():
    """An app with one route, ``GET /echo/{word}``, answering ``{"word": word}``."""
    return Router().route("GET", "/echo/{word}", lambda req, ctx: Response.json({"word": req.path_params["word"]}))


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workbook(tmp_path, monkeypatch):
    """A copy of the workbook (exercises, solutions, mutants) in a temp folder, used as the project root."""
    for tree in ("exercises", "solutions", "tests/mutants"):
        shutil.copytree(ROOT / tree, tmp_path / tree)
    monkeypatch.setenv("MINICLUSTER_ROOT", str(tmp_path))
    monkeypatch.delenv("MINICLUSTER_TREE", raising=False)
    monkeypatch.delenv("MINICLUSTER_STATE", raising=False)
    return tmp_path
