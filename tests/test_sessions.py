"""Session stores, the shop app, draining a backend and the autoscaler."""

import threading

import pytest

from minicluster.apps import shop_api, shop_target
from minicluster.autoscale import Autoscaler
from minicluster.cache import CacheNode
from minicluster.clock import ManualClock
from minicluster.cluster import Cluster
from minicluster.errors import ConfigError
from minicluster.sessions import SESSIONS_DDL, LocalSessions, RedisSessions, SQLSessions
from minicluster.storage import DatabaseNode
from minicluster.web import Request, Response, Router


def test_redis_sessions_slide_their_ttl_on_every_read(tmp_path):
    client = CacheNode("sessions").client()
    store = RedisSessions(client, ttl=60)
    store.put("s1", {"user": "ada"})
    client.pexpire("session:s1", 500)
    assert store.get("s1") == {"user": "ada"} and client.pttl("session:s1") > 59_000
    store.delete("s1")
    assert store.get("s1") is None
    with pytest.raises(ConfigError, match="session ttl must be a number > 0, got 0"):
        RedisSessions(client, ttl=0)


def test_sql_sessions_hide_expired_rows_which_stay_until_cleanup(tmp_path):
    clock = ManualClock()
    db = DatabaseNode("db", tmp_path / "db.duckdb")
    db.execute(SESSIONS_DDL)
    with db.connect() as conn:
        store = SQLSessions(conn, ttl=10, clock=clock)
        store.put("s1", {"user": "ada"})
        store.put("s2", {"user": "grace"})
        clock.advance(8)
        assert store.get("s1") == {"user": "ada"}, "read at 8 s: alive, and its expiry moves to 18 s"
        clock.advance(5)
        assert store.get("s1") is not None and store.get("s2") is None
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2, "s2 is hidden, not gone"
        assert store.cleanup() == 1
        assert conn.execute("SELECT sid FROM sessions").fetchall() == [("s1",)]
    db.close()


def test_local_sessions_are_copies_kept_in_memory():
    store = LocalSessions()
    data = {"user": "ada", "items": []}
    store.put("s1", data)
    data["items"].append("leaked?")
    assert store.get("s1") == {"user": "ada", "items": []} and len(store) == 1


@pytest.mark.parametrize("store", ["local", "redis", "sql"])
def test_the_shop_logs_in_reads_and_adds_to_the_cart(store):
    from minicluster.stages import stateless_web

    with Cluster(seed=1) as cluster:
        stage = stateless_web.build(cluster, servers=1, store=store, health_check=False)
        client = cluster.client()
        sid = client.request("POST", "http://api.mysite.com/login", body="ada").data()["session"]
        cookie = {"Cookie": f"session={sid}"}
        client.request("POST", "http://api.mysite.com/cart", body="book", headers=cookie)
        assert client.request("GET", "http://api.mysite.com/cart", headers=cookie).data() == {
            "user": "ada",
            "items": ["book"],
        }
        assert client.request("GET", "http://api.mysite.com/cart").status == 401
        assert stage.webs[0].metrics.counter("status_5xx").value == 0


def test_a_stateful_server_that_crashes_forgets_its_sessions():
    from minicluster.stages import stateless_web

    with Cluster(seed=1) as cluster:
        stage = stateless_web.build(cluster, servers=1, store="local", health_check=False)
        user = shop_target(cluster)
        user(1)
        assert user(1).status == 200 and user.logged_out == 0
        cluster.nemesis.crash(stage.webs[0])
        cluster.nemesis.recover(stage.webs[0])
        assert user(1).status == 401 and user.logged_out == 1


def test_an_unknown_session_store_is_named():
    with pytest.raises(ConfigError, match="a session store is 'local', 'redis' or 'sql', got 'disk'"):
        shop_api("disk")


def _slow_app(release: threading.Event, entered: threading.Event | None = None):
    """A handler that holds each request until ``release`` (and says when one is inside)."""

    def handler(request: Request, ctx) -> Response:
        if entered is not None:
            entered.set()
        release.wait(10)
        return Response.json({"ok": True})

    return Router().route("GET", "/", handler)


def test_draining_waits_for_the_requests_already_sent_then_none_fails():
    with Cluster(seed=1) as cluster:
        release, entered = threading.Event(), threading.Event()
        web = cluster.add_web_server("web1", _slow_app(release, entered), workers=2)
        lb = cluster.add_load_balancer("lb", [web], health_check=False)
        answers = []
        thread = threading.Thread(target=lambda: answers.append(lb.handle(Request("GET", "/"))))
        thread.start()
        assert entered.wait(5), "the request reached web1"
        assert not lb.drain("web1", timeout=0.3), "the request sent to web1 is not answered yet"
        assert lb.backends == (), "but web1 takes no new request"
        release.set()
        thread.join(5)
        with pytest.raises(ConfigError, match="no backend named 'web1'"):
            lb.drain("web1")
        assert [a.status for a in answers] == [200]


def test_the_autoscaler_adds_a_server_when_busy_and_drains_one_when_idle():
    with Cluster(seed=1) as cluster:
        release = threading.Event()
        app = _slow_app(release)
        made = []

        def make():
            web = cluster.add_web_server(f"web{len(made) + 2}", app, workers=1)
            made.append(web)
            return web

        first = cluster.add_web_server("web1", app, workers=1)
        lb = cluster.add_load_balancer("lb", [first], health_check=False)
        scaler = Autoscaler(lb, make, target=1, min_servers=1, max_servers=3, cooldown=0)
        replies = [first.submit(Request("GET", "/")) for _ in range(3)]  # one in service, two queued
        assert scaler.step().desired == 3 and len(lb.backends) == 2
        release.set()
        for reply in replies:
            assert reply.result(5).status == 200
        scaler.step()  # at most the last request is still counted inside: one server is enough
        assert len(lb.backends) == 1 and [a[1] for a in scaler.actions] == ["out", "in"]
        assert [e.action for e in cluster.timeline.events(source="autoscaler")] == ["scale out", "scale in"]


def test_autoscaler_bounds_are_checked():
    with Cluster(seed=1) as cluster:
        lb = cluster.add_load_balancer("lb", [], health_check=False)
        with pytest.raises(ConfigError, match="min_servers 3 is more than max_servers 2"):
            Autoscaler(lb, lambda: None, min_servers=3, max_servers=2)
