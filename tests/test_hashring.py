import collections

import pytest

from minicluster.errors import ConfigError
from minicluster.hashring import HashRing, stable_hash


def test_stable_hash_is_the_same_in_every_process():
    # A golden value: Python's hash() of a string changes per process; routing must not.
    assert stable_hash("user:42") == stable_hash("user:42") == 16879443282065980770


def test_keys_spread_evenly_over_nodes():
    ring = HashRing(["a", "b", "c", "d"], vnodes=100)
    counts = collections.Counter(ring.lookup(f"key{i}") for i in range(20_000))
    assert set(counts) == {"a", "b", "c", "d"}
    assert max(counts.values()) / min(counts.values()) < 1.3


def test_adding_a_node_moves_about_one_in_n_plus_one():
    ring = HashRing(["a", "b", "c", "d"])
    before = {i: ring.lookup(i) for i in range(10_000)}
    ring.add("e")
    moved = [i for i in before if ring.lookup(i) != before[i]]
    assert 0.12 < len(moved) / len(before) < 0.28  # 1/5 = 0.2
    assert all(ring.lookup(i) == "e" for i in moved), "keys only move to the new node"


def test_removing_a_node_moves_only_its_keys():
    ring = HashRing(["a", "b", "c"])
    before = {i: ring.lookup(i) for i in range(5000)}
    ring.remove("b")
    for key, owner in before.items():
        if owner != "b":
            assert ring.lookup(key) == owner


def test_walk_visits_every_node_once_starting_with_the_owner():
    ring = HashRing(["a", "b", "c"], vnodes=10)
    order = list(ring.walk("some key"))
    assert sorted(order) == ["a", "b", "c"]
    assert order[0] == ring.lookup("some key")


def test_bad_ring_use_is_named():
    ring = HashRing(["a"])
    with pytest.raises(ConfigError, match="'a' is already on the ring"):
        ring.add("a")
    with pytest.raises(ConfigError, match="'z' is not on the ring"):
        ring.remove("z")
    with pytest.raises(LookupError, match="no nodes"):
        HashRing().lookup("k")
