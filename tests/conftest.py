import pytest

from minicluster import Response, Router


@pytest.fixture
def echo_router():
    """An app with one route, ``GET /echo/{word}``, answering ``{"word": word}``."""
    return Router().route("GET", "/echo/{word}", lambda req, ctx: Response.json({"word": req.path_params["word"]}))
