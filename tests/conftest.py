import os
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


@pytest.fixture(scope="session")
def real():
    """Real servers for the session (``minicluster servers up``, its config kept apart from the library's so
    no other test sees them), stopped at the end; a skip naming what is missing, or a failure under
    ``MINICLUSTER_REQUIRE_SERVERS=1``."""
    import os

    from minicluster import servers

    try:
        for server in ("redis", "postgres", "pgbouncer"):
            servers.program(server)
    except servers.ServersError as exc:
        if os.environ.get("MINICLUSTER_REQUIRE_SERVERS") == "1":
            pytest.fail(f"MINICLUSTER_REQUIRE_SERVERS=1 but {exc}")
        pytest.skip(str(exc))
    saved = os.environ.get("MINICLUSTER_CONFIG")
    os.environ["MINICLUSTER_CONFIG"] = str(TEST_SERVERS)
    try:
        state = servers.up()
    finally:
        _restore("MINICLUSTER_CONFIG", saved)
    try:
        yield state
    finally:
        os.environ["MINICLUSTER_CONFIG"] = str(TEST_SERVERS)
        try:
            servers.down()
        finally:
            _restore("MINICLUSTER_CONFIG", saved)


#: Where the test session's servers are recorded (``.ci/run`` stops them from there if pytest dies): one
#: file per pytest-xdist worker, each of which starts servers of its own.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
TEST_SERVERS = ROOT / ".minicluster" / (f"test-servers-{_WORKER}.json" if _WORKER else "test-servers.json")


def _restore(name, value):
    import os

    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
