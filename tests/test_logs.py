"""Structured logs: every tier writes records with the request's id; SQL over them in DuckDB."""

from minicluster.apps import create_users, users_api
from minicluster.cluster import Cluster
from minicluster.logs import LogSink


def shop(cluster):
    db = cluster.add_database("db", host="db1")
    create_users(db, 20)
    cache = cluster.add_cache("cache", host="cache1")
    webs = [cluster.add_web_server(f"web{i}", users_api(), host=f"web{i}", database=db, cache=cache) for i in (1, 2)]
    lb = cluster.add_load_balancer("lb", webs, health_check=False)
    cluster.expose("api.mysite.com", lb)
    return cluster.client(), db


def test_logging_is_off_until_enabled():
    with Cluster(seed=1) as cluster:
        client, _ = shop(cluster)
        client.get("http://api.mysite.com/users/1")
        assert cluster.logs.records == []


def test_one_request_is_followed_across_the_balancer_the_web_server_and_its_calls():
    with Cluster(seed=1) as cluster:
        client, db = shop(cluster)
        cluster.logs.enable()
        client.get("http://api.mysite.com/users/3")
        client.get("http://api.mysite.com/users/3")
        client.get("http://api.mysite.com/users/abc")
        cluster.nemesis.crash(cluster.node("web2"))  # round robin sends it the next request
        assert client.get("http://api.mysite.com/users/4").status == 502
        loaded = cluster.logs.to_duckdb(db)
        assert loaded == len(cluster.logs.records) > 0
        first = db.execute("SELECT node, event FROM logs WHERE request_id = 'req-000001' ORDER BY time")
        assert first == [("cache", "get"), ("db", "execute"), ("cache", "set"), ("web1", "request"), ("lb", "forward")]
        second = db.execute("SELECT node, event FROM logs WHERE request_id = 'req-000002' ORDER BY time")
        assert second == [("cache", "get"), ("web2", "request"), ("lb", "forward")], "a cache hit: no query"
        errors = db.execute(
            "SELECT node, status, count(*) FROM logs WHERE status >= 400 GROUP BY node, status ORDER BY node, status"
        )
        assert errors == [("lb", 400, 1), ("lb", 502, 1), ("web1", 400, 1)]
        slowest = db.execute("SELECT request_id FROM logs WHERE node = 'lb' ORDER BY latency_ms DESC LIMIT 1")
        assert slowest[0][0].startswith("req-")


def test_request_ids_are_numbered_in_order():
    sink = LogSink()
    assert [sink.new_request_id() for _ in range(2)] == ["req-000001", "req-000002"]
