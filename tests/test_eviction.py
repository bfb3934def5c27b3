"""Eviction policies and the cache node's key budget: which key goes when the cache is full."""

import pytest

from minicluster.cache import CacheNode
from minicluster.clock import ManualClock
from minicluster.errors import ConfigError
from minicluster.eviction import FIFO, LFU, LRU, POLICIES, Entry, NoEviction, RandomEviction, SoonestExpiry


def entries(**specs):
    return {key: Entry(*spec) for key, spec in specs.items()}


def test_each_policy_names_its_own_victim():
    held = entries(a=(1, 9, 5, 50.0), b=(2, 3, 9, None), c=(3, 8, 1, 20.0))
    assert LRU().victim(held) == "b", "b was used longest ago"
    assert LFU().victim(held) == "c", "c was used once"
    assert FIFO().victim(held) == "a", "a came in first"
    assert SoonestExpiry().victim(held) == "c", "c expires first; b, without a TTL, last"
    assert NoEviction().victim(held) is None
    assert RandomEviction(seed=3).victim(held) == RandomEviction(seed=3).victim(held) in held


def test_lfu_breaks_ties_by_the_older_use():
    assert LFU().victim(entries(a=(1, 7, 2), b=(2, 4, 2))) == "b"


def fill(cache, keys, *, touch=()):
    client = cache.client()
    for key in keys:
        client.set(key, key.upper())
    for key in touch:
        assert client.get(key) == key.upper()
    return client


def test_a_full_lru_cache_drops_the_key_untouched_for_longest():
    cache = CacheNode("c", max_keys=3, policy=LRU())
    client = fill(cache, ["a", "b", "c"], touch=["a"])
    client.set("d", "D")
    assert client.get("b") is None and client.get("a") == "A" and client.get("d") == "D"
    assert cache.keys_held == 3 and cache.metrics.counter("evictions").value == 1


def test_a_full_fifo_cache_drops_the_first_key_however_popular():
    cache = CacheNode("c", max_keys=3, policy=FIFO())
    client = fill(cache, ["a", "b", "c"], touch=["a", "a", "a"])
    client.set("d", "D")
    assert client.get("a") is None and client.get("b") == "B"


def test_a_full_lfu_cache_keeps_the_popular_key():
    cache = CacheNode("c", max_keys=3, policy=LFU())
    client = fill(cache, ["a", "b", "c"], touch=["a", "a", "c"])
    client.set("d", "D")
    assert client.get("b") is None and client.get("a") == "A" and client.get("c") == "C"


def test_overwriting_a_held_key_evicts_nothing():
    cache = CacheNode("c", max_keys=2)
    client = fill(cache, ["a", "b"])
    client.set("a", "A2")
    assert client.get("b") == "B" and client.get("a") == "A2"
    assert cache.metrics.counter("evictions").value == 0


def test_no_eviction_refuses_new_keys_until_old_ones_expire():
    clock = ManualClock()
    cache = CacheNode("c", max_keys=2, policy=NoEviction(), clock=clock)
    client = cache.client()
    client.set("a", "A", ex=10)
    client.set("b", "B")
    assert client.set("c", "C") is None and client.get("c") is None
    assert cache.metrics.counter("rejected").value == 1
    clock.advance(11)  # a's TTL has passed by the node's clock: its room is free again
    assert client.set("c", "C") and cache.keys_held == 2


def test_deleting_frees_room_and_hits_and_misses_are_counted():
    cache = CacheNode("c", max_keys=2)
    client = fill(cache, ["a", "b"])
    client.delete("a")
    client.set("c", "C")
    assert cache.metrics.counter("evictions").value == 0
    assert client.get("b") == "B" and client.get("zzz") is None
    assert cache.hit_ratio() == 0.5


def test_a_crash_empties_the_budget_too():
    cache = CacheNode("c", max_keys=2)
    fill(cache, ["a", "b"])
    cache.crash()
    cache.recover()
    assert cache.keys_held == 0


def test_a_plain_function_is_a_policy_and_a_bad_victim_is_named():
    cache = CacheNode("c", max_keys=1, policy=lambda held: "not-there")
    client = fill(cache, ["a"])
    with pytest.raises(ConfigError, match="the eviction policy chose 'not-there'"):
        client.set("b", "B")
    with pytest.raises(ConfigError, match="an eviction policy has victim"):
        CacheNode("c", max_keys=1, policy=42)
    with pytest.raises(ConfigError, match="max_keys must be an integer > 0, got 0"):
        CacheNode("c", max_keys=0)


def test_every_shipped_policy_keeps_the_budget():
    for name, make in POLICIES.items():
        cache = CacheNode("c", max_keys=5, policy=make())
        client = cache.client()
        for i in range(50):
            client.set(f"k{i % 17}", "v", ex=60)
            client.get(f"k{(i * 7) % 17}")
        assert cache.keys_held <= 5, name
        assert len(client.keys("*")) == cache.keys_held, f"{name}: the budget and the store agree"
