import threading

import pytest
import redis

from minicluster import Cluster, ManualClock, Request, Response
from minicluster.cache import CacheNode
from minicluster.errors import ConfigError, NodeDown


def test_cache_clients_share_one_server_and_crash_loses_data():
    cache = CacheNode("cache")
    a, b = cache.client(), cache.client()
    a.set("user:1", "Ada", ex=60)
    assert b.get("user:1") == "Ada"
    assert 0 < b.ttl("user:1") <= 60
    other = CacheNode("cache2").client()
    assert other.get("user:1") is None, "two cache nodes share nothing"
    cache.crash()
    with pytest.raises(NodeDown):
        cache.client()
    with pytest.raises(redis.exceptions.ConnectionError):
        a.get("user:1")
    cache.recover()
    assert cache.client().get("user:1") is None, "a crashed cache comes back empty"


def test_bad_cache_url():
    with pytest.raises(ConfigError, match="http://localhost"):
        CacheNode("cache", url="http://localhost")


def _cached_counter(request, ctx):
    return Response.json({"hits": ctx.cache.incr("hits")})


def _warm_every_worker(workers):
    """A handler whose first ``workers`` requests meet at a barrier: each is held by a different worker."""
    barrier = threading.Barrier(workers)

    def handler(request, ctx):
        if request.path == "/warm":
            ctx.cache.ping()
            barrier.wait(timeout=10)
            return Response.json({})
        return _cached_counter(request, ctx)

    return handler


def test_clients_of_a_recovered_cache_work_again():
    """Every worker keeps its cache client; after a crash and recovery, all of them answer again."""
    with Cluster() as cluster:
        cache = cluster.add_cache("cache", host="cache1")
        web = cluster.add_web_server("web", _warm_every_worker(4), host="web1", workers=4, cache=cache)
        assert {r.status for r in _at_once(web, 4, "/warm")} == {200}, "every worker opened its client"
        cluster.nemesis.crash(cache)
        assert {r.status for r in _at_once(web, 8)} == {500}
        cluster.nemesis.recover(cache)
        responses = _at_once(web, 8)
        assert [r.status for r in responses] == [200] * 8
        assert sorted(r.data()["hits"] for r in responses) == list(range(1, 9)), "it came back empty"


def test_cache_calls_cross_the_network():
    clock = ManualClock()
    with Cluster(clock=clock, latency=0.001) as cluster:
        cache = cluster.add_cache("cache", host="cache1")
        web = cluster.add_web_server("web", _cached_counter, host="web1", workers=1, cache=cache)
        before = clock.now()
        assert web.handle(Request("GET", "/"), timeout=5).status == 200
        assert clock.now() - before == pytest.approx(0.002), "one round trip to the cache host"
        cluster.nemesis.partition("web1", "cache1")
        assert web.handle(Request("GET", "/"), timeout=5).status == 500


def _at_once(web, n, path="/"):
    replies = [web.submit(Request("GET", path)) for _ in range(n)]
    return [reply.result(timeout=10) for reply in replies]


def test_cache_aside_read_through_and_write_through_skip_a_cache_that_is_down():
    from minicluster.cache import ReadThrough, cache_aside, write_through

    cache = CacheNode("patterns")
    client = cache.client()
    loads, table = [], {"user:1": "Ada"}

    def load():
        loads.append(1)
        return table["user:1"]

    assert cache_aside(client, "user:1", load, ttl=5) == "Ada" == cache_aside(client, "user:1", load, ttl=5)
    assert len(loads) == 1 and 0 < client.pttl("user:1") <= 5000
    reader = ReadThrough(client, lambda key: table.get(key), ttl=5)
    assert reader.get("user:2") is None and client.get("user:2") is None, "nothing cached for a missing row"
    write_through(client, "user:1", "Ada L.", lambda value: table.__setitem__("user:1", value), ttl=5)
    assert table["user:1"] == client.get("user:1") == "Ada L."
    cache.crash()
    assert cache_aside(client, "user:1", load, ttl=5) == "Ada L." and len(loads) == 2, "down: the database answers"
    write_through(client, "user:1", "Ada King", lambda value: table.__setitem__("user:1", value), ttl=5)
    assert table["user:1"] == "Ada King"
