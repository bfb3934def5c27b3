import pytest
import redis

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
