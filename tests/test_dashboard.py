"""The dashboard: interval numbers per host, for the tier (merged histograms) and at the edge."""

import pytest

from minicluster.cluster import Cluster
from minicluster.dashboard import Dashboard
from minicluster.errors import ConfigError
from minicluster.web import Response, Router


def _router(delay_ms):
    return Router().route("GET", "/x", lambda request, ctx: Response.json({"ms": delay_ms}))


@pytest.fixture
def fleet():
    with Cluster(seed=1) as cluster:
        fast = cluster.add_web_server("fast", _router(0), workers=2)
        slow = cluster.add_web_server("slow", _router(0), workers=2, service_time=0.02)
        lb = cluster.add_load_balancer("lb", [fast, slow], health_check=False)
        cluster.expose("app", lb)
        yield cluster, fast, slow, lb


def test_each_interval_counts_only_its_own_requests(fleet):
    cluster, fast, slow, lb = fleet
    client = cluster.client()
    served = {"n": 0}
    board = Dashboard([fast, slow], edge=lb, business={"served": lambda: served["n"]})
    for _ in range(10):
        client.get("http://app/x")
        served["n"] += 1
    first = board.sample()
    for _ in range(4):
        client.get("http://app/x")
    served["n"] += 4
    second = board.sample()
    seconds = [first["t"], second["t"] - first["t"]]
    assert first["fast req/s"] * seconds[0] == pytest.approx(5, rel=0.05)
    assert (second["fast req/s"] + second["slow req/s"]) * seconds[1] == pytest.approx(4, rel=0.05)
    assert second["served/s"] * seconds[1] == pytest.approx(4, rel=0.05)
    # the tier's p99 comes from every request of the interval: the slow server's 20 ms, not a mean with 0
    assert second["tier p99 ms"] >= 19 and second["fast p99 ms"] < 10
    assert len(board.rows) == 2


def test_the_edge_sees_the_errors_of_a_dead_server_that_the_servers_cannot(fleet):
    cluster, fast, slow, lb = fleet
    client = cluster.client()
    board = Dashboard([fast, slow], edge=lb)
    cluster.nemesis.crash(slow)
    statuses = [client.get("http://app/x").status for _ in range(10)]
    row = board.sample()
    assert statuses.count(502) == 5
    assert row["tier errors %"] == 0 and row["users' errors %"] == pytest.approx(50)


def test_watch_samples_until_the_load_returns_and_hands_back_its_result_or_error(fleet):
    cluster, fast, slow, lb = fleet
    client = cluster.client()
    board = Dashboard([fast, slow])
    assert board.watch(lambda: [client.get("http://app/x").status for _ in range(30)], every=0.01) == [200] * 30
    assert len(board.rows) >= 2 and sum(r["fast req/s"] > 0 for r in board.rows) >= 1

    def broken():
        raise RuntimeError("the load generator broke")

    with pytest.raises(RuntimeError, match="broke"):
        board.watch(broken)
    with pytest.raises(ConfigError):
        Dashboard([])


def test_the_widget_shows_the_latest_interval(fleet):
    cluster, fast, slow, lb = fleet
    board = Dashboard([fast, slow], edge=lb)
    box = board.widget()
    cluster.client().get("http://app/x")
    board.sample()
    table = box.value
    assert "<td>fast</td>" in table and "users' errors %" in table and "tier p99 ms" in table


def test_a_sparkline_runs_from_the_lowest_bar_to_the_highest():
    from minicluster.dashboard import sparkline

    assert sparkline([0, 5, 10]) == "▁▅█" and sparkline([3, 3]) == "▁▁" and sparkline([]) == ""
    assert len(sparkline(range(100), width=40)) == 40
