from minicluster import Cluster
from minicluster.stages import web_db_split


def test_every_query_crosses_the_network_to_the_database_host():
    with Cluster(seed=1) as c:
        stage = web_db_split.build(c, workers=2, service_time=0.0, query_time=0.0)
        assert stage.db.host == "db1" and stage.webs[0].host == "web1"
        assert stage.target()(5).status == 200
        assert ("web1", "db", "SQL") in c.links
        c.network.partition("web1", "db1")
        assert stage.target()(5).status == 500


def test_database_cores_cap_concurrent_queries():
    with Cluster(seed=1) as c:
        stage = web_db_split.build(c, workers=8, service_time=0.0, query_time=0.02, db_cores=1)
        from minicluster.load import closed_loop

        closed_loop(stage.target(), users=8, requests_per_user=3)
        waits = stage.db.metrics.histogram("core_wait")
        # One core, eight concurrent requests: most queries waited for the core.
        assert waits.percentile(90) > 0.02


def test_vertical_scaling_flattens_at_the_database_ceiling():
    # 30 ms web + 10 ms DB per request, one DB core: web ceiling w / 40 ms, database ceiling 100 req/s.
    # 0.8 s per point: with 0.4 s, sixteen workers opening their connections weighed enough that a busy
    # CI machine once measured 54 req/s against the 60 asserted below.
    sweep = web_db_split.vertical_scaling(
        workers=(1, 2, 8, 16), duration=0.8, service_time=0.03, query_time=0.01, db_cores=1
    )
    one, two, eight, sixteen = sweep.column("throughput")
    assert sweep["ceiling"] == 100
    assert two > 1.6 * one, "below the ceiling, workers add throughput"
    assert eight <= 1.05 * sweep["ceiling"] and sixteen <= 1.05 * sweep["ceiling"], "no worker count passes it"
    # Flat at the ceiling, not collapsing under it: ~91 req/s here. Under 0.6 of it only on a machine whose every
    # core is busy, where each hand-off of the database's one core waits for a thread to get the interpreter
    # lock back (53 req/s with a CPU hog beside the other test worker's tests).
    assert sixteen > 0.45 * sweep["ceiling"], sweep.column("throughput")


def test_crash_of_the_only_server_fails_every_request_while_down():
    run = web_db_split.crash_the_only_server(rate=100, duration=1.0, crash_at=0.3, recover_at=0.6)
    result, events = run.load, run.timeline
    assert [(e.kind, e.action, e.target) for e in events] == [("fault", "crash", "web1"), ("heal", "recover", "web1")]
    down, up = (e.at - result.started_at for e in events)
    assert (run["down"], run["up"]) == (down, up)
    failed = [t for t, _ in result.failures.points]
    assert result.error_kinds.keys() == {"NodeDown"}
    assert failed and all(down - 0.01 <= t <= up + 0.05 for t in failed)
    assert 0.15 < result.error_rate < 0.5


def test_dns_pins_a_client_to_one_server():
    pinned = web_db_split.dns_is_not_a_balancer(web_servers=3, requests=10)
    assert sorted(pinned["served"].values()) == [0, 0, 10]
    assert pinned["failed_after_crash"] == 10


def test_dns_spreads_many_clients_evenly_but_not_their_requests_and_not_around_a_dead_server():
    spread = web_db_split.dns_with_many_clients(web_servers=3, clients=30, seed=5)
    assert spread["clients"] == {"web1": 10, "web2": 10, "web3": 10}, "round robin answers: one client each in turn"
    served = spread["served"]
    assert max(served.values()) > 1.2 * min(served.values()), "busy clients stay where they landed"
    assert spread["failed_clients"] == 10, "exactly the clients given the dead server's address fail"
    assert spread.column("clients") == [10, 10, 10]


def test_more_web_servers_stop_at_the_database_and_a_bigger_database_stops_at_the_web_tier():
    out = web_db_split.horizontal_scaling(servers=(1, 4, 8), workers=2, duration=0.4)
    assert out.column("limit") == ["web tier", "database", "database"]
    one, four, eight = out.column("throughput")
    assert four > 2.2 * one, "while the web tier binds, servers add throughput"
    assert eight < 1.25 * four, "past the database's ceiling they do not"
    assert all(r["throughput"] <= 1.05 * min(r["web_ceiling"], r["db_ceiling"]) for r in out.rows)
    up = web_db_split.database_scaling(cores=(1, 2), web_servers=8, workers=2, duration=0.4)
    assert up.column("db_ceiling") == [125, 250] and up.column("limit") == ["database", "database"]
    assert up.column("throughput")[1] > 1.5 * up.column("throughput")[0]
