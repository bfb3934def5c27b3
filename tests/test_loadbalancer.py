import pytest

from minicluster import Cluster, Request
from minicluster.balancers import LeastConnections, RoundRobin
from minicluster.clock import ManualClock
from minicluster.errors import ConfigError
from minicluster.loadbalancer import HealthCheck, LoadBalancer
from minicluster.web import Response, WebServer


@pytest.fixture
def farm(echo_router):
    servers = [WebServer(f"web{i}", echo_router, workers=2) for i in range(1, 4)]
    lb = LoadBalancer("lb", RoundRobin())
    for s in servers:
        lb.add_backend(s)
    yield lb, servers
    for s in servers:
        s.stop()


def get(lb):
    return lb.handle(Request("GET", "/echo/x"), timeout=10)


def test_requests_are_spread_and_counted(farm):
    lb, servers = farm
    assert [get(lb).status for _ in range(6)] == [200] * 6
    assert [s.metrics.counter("requests").value for s in servers] == [2, 2, 2]
    assert lb.metrics.counter("to_web2").value == 2


def test_dead_backend_gives_502_until_ejected_then_none(farm):
    lb, servers = farm
    servers[1].crash()
    statuses = [get(lb).status for _ in range(3)]
    assert statuses == [200, 502, 200]
    check = HealthCheck(lb, fall=2, rise=2, clock=ManualClock())
    check.probe_all()
    assert lb.backend("web2").healthy, "one failed probe is not enough (fall=2)"
    check.probe_all()
    assert not lb.backend("web2").healthy
    assert all(get(lb).status == 200 for _ in range(6))
    servers[1].recover()
    check.probe_all()
    assert not lb.backend("web2").healthy, "one good probe is not enough (rise=2)"
    check.probe_all()
    assert lb.backend("web2").healthy
    assert [(e.action, e.target) for e in lb.events if e.action in ("eject", "readmit")] == [
        ("eject", "web2"),
        ("readmit", "web2"),
    ]


def test_all_backends_ejected_gives_503(farm):
    lb, _ = farm
    for b in lb.backends:
        lb.set_health(b, False)
    response = get(lb)
    assert response.status == 503 and "no healthy backend" in response.data()["error"]


def test_backends_can_be_added_and_removed_under_load(farm, echo_router):
    lb, servers = farm
    extra = WebServer("web4", echo_router)
    try:
        lb.add_backend(extra)
        assert [get(lb).status for _ in range(8)] == [200] * 8
        assert extra.metrics.counter("requests").value == 2
        lb.remove_backend("web1")
        before = servers[0].metrics.counter("requests").value
        assert all(get(lb).status == 200 for _ in range(6))
        assert servers[0].metrics.counter("requests").value == before
        with pytest.raises(ConfigError, match="no backend named 'web1'"):
            lb.remove_backend("web1")
        with pytest.raises(ConfigError, match="already a backend"):
            lb.add_backend(extra)
    finally:
        extra.stop()


def test_release_is_called_even_when_the_backend_fails(farm):
    lb, servers = farm
    lb.policy = LeastConnections()
    servers[0].crash()
    for _ in range(5):
        get(lb)
    assert all(lb.policy.in_flight(b) == 0 for b in lb.backends)


def test_health_check_thread_ejects_a_crashed_server(echo_router):
    with Cluster(latency=0.0) as c:
        webs = [c.add_web_server(f"web{i}", echo_router) for i in range(1, 3)]
        lb = c.add_load_balancer("lb", webs, interval=0.01)
        c.nemesis.crash(webs[0])
        event = lb.wait_for("eject", "web1", timeout=10)
        assert event is not None and not lb.backend("web1").healthy
        assert "lb -> web1: ejected" in c.diagram().text
        c.nemesis.recover(webs[0])
        assert lb.wait_for("readmit", "web1", timeout=10) is not None
        assert "lb -> web1: HTTP" in c.diagram().text


def test_handler_errors_pass_through_and_unknown_backend_is_named():
    lb = LoadBalancer("lb")
    with pytest.raises(ConfigError, match="must handle requests"):
        lb.add_backend(object())
    server = WebServer("w", lambda r, c: Response.json({}, 404))
    try:
        lb.add_backend(server)
        assert lb.handle(Request("GET", "/")).status == 404
        with pytest.raises(ConfigError, match="no backend named 'x'"):
            lb.backend("x")
    finally:
        server.stop()
