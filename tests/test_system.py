"""The whole system: every tier at once, one fault of each kind survived, with the numbers."""

import statistics

import pytest

from minicluster import system
from minicluster.cache import CacheNode
from minicluster.cluster import Cluster
from minicluster.queue import StreamQueue, apply_once


@pytest.fixture(scope="module")
def everything():
    return system.run(rate=200, duration=4.0, seed=42)


def test_every_tier_is_in_the_diagram():
    with Cluster(seed=1) as cluster:
        whole = system.build(cluster)
        text = whole.diagram().text
        for name in ("edge-us", "static", "lb", "web1", "sessions", "cache", "users-primary", "users-replica2",
                     "shard-proxy", "shard3", "queue", "thumbnailers"):  # fmt: skip
            assert f"{name} (" in text, name
        assert "web1 -> users-primary: writes" in text and "shard-proxy -> shard0" in text


def test_one_fault_of_each_kind_is_survived(everything):
    rows = {row["fault"]: row for row in everything.rows}
    assert len(rows) == 6
    failures = {fault: (row["failed"], row["failing for s"]) for fault, row in rows.items()}
    kinds = everything.loads["load"].error_kinds
    assert everything["failed"] / everything["total"] < 0.03, (everything["failed"], failures, kinds)
    assert everything["total"] > 600
    assert rows["the cache crashes"]["failed"] == 0
    assert rows["web2 crashes"]["failing for s"] <= 0.5, "the health check ejects the dead server soon"
    assert everything["promotions"] == 1
    slow = rows["shard1 slows down x5"]
    assert slow["failed"] == 0
    # Slower than before it, by more than the requests that touch no shard. Compared as a difference, not
    # a ratio: a stall of the machine (the other test worker) adds about the same delay to every request
    # in flight, and a difference cancels most of it where a ratio does not (a CI run saw posts and feeds
    # x0.86 in the slow window against x0.83 for the rest). Against the median of three windows before
    # it, not the one window before: a stall there made its gap ~3 ms wider than the slow window's in a
    # full suite run. Shard1's queries take 2 ms, 10 ms slowed (and stay slowed to the end): 5.2-7.0 ms
    # showed in ten runs, two CPU hogs beside three of them; 0.3-1.3 ms with the fault made a no-op.
    first = everything["windows"]["web2 crashes"][0]
    before = {w: _gap(everything, w) for w in ((0.0, first), "web2 crashes", "the primary crashes")}
    growth = _gap(everything, "shard1 slows down x5") - statistics.median(before.values())
    assert growth > 0.003, (growth, before)
    edge = rows["edge-us goes dark"]
    assert edge["failed"] == 0 and edge["median ms after"] > 3 * edge["median ms before"]


def _gap(everything, window, shard_kinds=("posts", "feed"), others=("profile", "cart")) -> float:
    """Seconds by which the median request of ``shard_kinds`` is slower than the median of ``others`` in
    ``window`` (a fault's window, from its start to the next fault's, or ``(start, end)`` seconds in)."""
    lo, hi = everything["windows"][window] if isinstance(window, str) else window

    def median(kinds):
        took = sorted(x for kind, t, ok, x in everything["requests"] if kind in kinds and ok and lo <= t < hi)
        return took[len(took) // 2]

    return median(shard_kinds) - median(others)


def test_every_accepted_photo_is_counted_once_through_a_worker_death(everything):
    photos = everything["photos"]
    assert photos["uploaded"] > 30 and photos["left in the queue"] == 0
    assert photos["bytes counted"] == photos["bytes accepted"]
    assert any(e.target == "a thumbnail worker" for e in everything.timeline)


def test_every_request_was_logged_and_the_sessions_survived(everything):
    assert everything["logged"] > everything["total"]
    requests, failed = everything["by kind"]["cart"]
    # Only carts caught in web2's crash (sent to it before the health check ejected it) may fail: that
    # window's failures, of every kind, bound them. Sessions kept in a web server's memory would fail
    # every cart of its users from then on, to the end of the run.
    crash = next(row for row in everything.rows if row["fault"] == "web2 crashes")
    assert requests > 0 and failed <= crash["failed"], "carts live in Redis: a dead web server logs nobody out"


def test_the_shard_proxy_routes_by_user_and_fans_out():
    with Cluster(seed=1) as cluster:
        nodes = [cluster.add_database(f"s{i}") for i in range(3)]
        for i, node in enumerate(nodes):
            node.execute("CREATE TABLE t (shard INTEGER)")
            node.execute("INSERT INTO t VALUES (?)", [i])
        proxy = system.ShardProxy("p", nodes, pool_size=2)
        try:
            users = range(1, 30)
            assert [proxy.execute(u, "SELECT shard FROM t") for u in users] == [
                [(proxy.router.shard_for(u),)] for u in users
            ]
            assert {proxy.router.shard_for(u) for u in users} == {0, 1, 2}
            assert proxy.fan_out("SELECT shard FROM t") == [[(0,)], [(1,)], [(2,)]]
        finally:
            proxy.stop()


def test_the_failover_monitor_promotes_once_the_primary_stays_down():
    from minicluster.replication import ReplicaSet

    with Cluster(seed=1) as cluster:
        rs = ReplicaSet(cluster, cluster.add_database("a"), [cluster.add_database("b")])
        monitor = system.FailoverMonitor(rs, every=0.01, after=2)
        try:
            assert not monitor.promoted.wait(0.05), "nothing to do while the primary is up"
            cluster.nemesis.crash(rs.primary.node)
            assert monitor.promoted.wait(5)
            assert rs.primary.name == "b" and monitor.promotions == 1
        finally:
            monitor.stop()


def test_the_failover_monitor_waits_for_a_replica_when_every_one_is_down_too():
    """No replica up to promote is not the end of the automation (it ended the monitor's thread): it looks
    again, and promotes the first replica that comes back."""
    from minicluster.replication import ReplicaSet

    with Cluster(seed=1) as cluster:
        rs = ReplicaSet(cluster, cluster.add_database("a"), [cluster.add_database("b")])
        replica = rs.replicas[0]
        cluster.nemesis.crash(replica.node)
        cluster.nemesis.crash(rs.primary.node)
        monitor = system.FailoverMonitor(rs, every=0.01, after=2)
        try:
            assert monitor.waited.wait(5), "no look found the primary down with no replica to promote"
            assert not monitor.promoted.is_set()
            cluster.nemesis.recover(replica.node)
            assert monitor.promoted.wait(5), "the monitor stopped when no replica was up"
            assert rs.primary.name == "b" and monitor.promotions == 1
        finally:
            monitor.stop()


def test_apply_once_applies_an_effect_once_however_often_it_is_delivered():
    redis = CacheNode("q").client()
    StreamQueue(redis, "jobs")
    applied = [apply_once(redis, "done:7", lambda pipe: pipe.incrby("total", 5)) for _ in range(3)]
    assert applied == [True, False, False] and int(redis.get("total")) == 5
