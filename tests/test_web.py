import threading

import pytest

from minicluster.errors import ConfigError, NodeDown, Overloaded
from minicluster.web import Reply, Request, Response, Router, WebServer


@pytest.fixture
def servers():
    made = []

    def make(handler, **kw):
        server = WebServer("web", handler, **kw)
        made.append(server)
        return server

    yield make
    for s in made:
        s.stop()


def test_router_dispatches_decodes_and_answers_404_405(servers):
    router = Router().route("GET", "/users/{id}", lambda req, ctx: Response.json({"id": req.path_params["id"]}))
    server = servers(router)
    assert server.handle(Request("GET", "/users/1%20OR%201")).data() == {"id": "1 OR 1"}
    assert server.handle(Request("GET", "/nope")).status == 404
    assert server.handle(Request("POST", "/users/1")).status == 405


def test_handler_bugs_become_500_and_the_worker_survives(servers):
    def handler(req, ctx):
        if req.path == "/boom":
            raise KeyError("x")
        if req.path == "/none":
            return None
        return Response.json({"ok": True})

    server = servers(handler, workers=1)
    assert server.handle(Request("GET", "/boom")).status == 500
    assert "KeyError" in server.handle(Request("GET", "/boom")).body
    assert server.handle(Request("GET", "/none")).status == 500
    assert server.handle(Request("GET", "/")).status == 200
    assert server.metrics.counter("handler_exceptions").value == 3
    assert server.metrics.counter("errors").value == 3
    assert server.metrics.counter("status_2xx").value == 1


def test_workers_serve_in_parallel(servers):
    # Four requests that each wait for the other three can only finish if four workers run at once.
    barrier = threading.Barrier(4, timeout=10)

    def handler(req, ctx):
        barrier.wait()
        return Response.json({})

    server = servers(handler, workers=4)
    futures = [server.submit(Request("GET", "/")) for _ in range(4)]
    assert [f.result(timeout=10).status for f in futures] == [200] * 4


class Gate:
    """A handler that holds its worker until released, and says when a request entered service."""

    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, req, ctx):
        self.started.set()
        self.release.wait(10)
        return Response.json({})


def test_full_queue_rejects(servers):
    gate = Gate()
    server = servers(gate, workers=1, queue_size=2)
    first = server.submit(Request("GET", "/"))
    gate.started.wait(10)
    queued = [server.submit(Request("GET", "/")) for _ in range(2)]
    with pytest.raises(Overloaded, match="queue of 2 is full"):
        server.submit(Request("GET", "/"))
    gate.release.set()
    assert all(f.result(10).status == 200 for f in [first, *queued])
    assert server.metrics.counter("rejected").value == 1


def test_crash_refuses_new_and_drops_queued_requests(servers):
    gate = Gate()
    server = servers(gate, workers=1)
    in_service = server.submit(Request("GET", "/"))
    gate.started.wait(10)
    waiting = server.submit(Request("GET", "/"))
    server.crash()
    with pytest.raises(NodeDown):
        server.submit(Request("GET", "/"))
    gate.release.set()
    assert in_service.result(10).status == 200, "a request already in service completes"
    with pytest.raises(NodeDown):
        waiting.result(10)
    server.recover()
    assert server.handle(Request("GET", "/"), timeout=10).status == 200


def test_latency_metrics_are_recorded(servers):
    server = servers(lambda req, ctx: Response.json({}), workers=2)
    for _ in range(10):
        server.handle(Request("GET", "/"))
    m = server.metrics
    assert m.counter("requests").value == 10
    assert m.histogram("latency").count == 10
    assert len(m.series("completion_times")) == 10


def test_a_long_lived_server_keeps_only_its_latest_completions(servers, monkeypatch):
    monkeypatch.setattr(WebServer, "series_kept", 4)
    server = servers(lambda req, ctx: Response(500 if req.path == "/fail" else 200), workers=1)
    for path in ["/"] * 6 + ["/fail"] * 5:
        server.handle(Request("GET", path), timeout=10)
    m = server.metrics
    assert m.counter("requests").value == 11, "every request is still counted"
    completions, errors = m.series("completion_times"), m.series("error_times")
    assert (len(completions), completions.dropped) == (4, 7)
    assert (len(errors), errors.dropped) == (4, 1)
    assert completions.points[-1][0] == errors.points[-1][0], "the latest kept: the last request failed"


def test_bad_server_config_is_named():
    with pytest.raises(ConfigError, match="web: workers must be an integer > 0, got 0"):
        WebServer("web", lambda r, c: None, workers=0)
    with pytest.raises(ConfigError, match="handler must be callable"):
        WebServer("web", "not a function")


def test_context_without_database_explains(servers):
    server = servers(lambda req, ctx: ctx.db)
    response = server.handle(Request("GET", "/"))
    assert response.status == 500 and "ConfigError" in response.body


def test_a_reply_waits_times_out_and_can_be_read_again():
    reply = Reply()
    assert not reply.done()
    with pytest.raises(TimeoutError, match="no response within 0.01 s"):
        reply.result(timeout=0.01)
    answer = Response.json({"ok": True})
    threading.Thread(target=reply.set_result, args=(answer,)).start()
    assert reply.result(timeout=10) is answer
    assert reply.result(timeout=0) is answer and reply.done()  # read again, at once
    failed = Reply()
    failed.set_exception(NodeDown("web1 is down"))
    for _ in range(2):
        with pytest.raises(NodeDown, match="web1 is down"):
            failed.result(timeout=0)
