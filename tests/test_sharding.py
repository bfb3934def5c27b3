import collections

import pytest

from minicluster.errors import ConfigError
from minicluster.sharding import (
    DirectoryRouter,
    JumpRouter,
    ModuloRouter,
    RangeRouter,
    RingRouter,
    jump_hash,
    keys_moved,
)

KEYS = range(1, 20_001)


@pytest.mark.parametrize("router", [ModuloRouter(8), RingRouter(8), JumpRouter(8)], ids=lambda r: type(r).__name__)
def test_hash_routers_spread_keys_evenly(router):
    counts = collections.Counter(router.shard_for(k) for k in KEYS)
    assert set(counts) == set(range(8))
    assert max(counts.values()) / min(counts.values()) < 1.5  # 100 virtual nodes: within ~20% of fair


def test_adding_a_shard_moves_most_keys_under_modulo_and_few_under_consistent_schemes():
    moved = {}
    for router in (ModuloRouter(8), RingRouter(8), JumpRouter(8)):
        m, total = keys_moved(router, router.resized(9), KEYS)
        moved[type(router).__name__] = m / total
    assert moved["ModuloRouter"] > 0.8  # about 8/9
    assert 0.07 < moved["RingRouter"] < 0.16  # about 1/9
    assert 0.09 < moved["JumpRouter"] < 0.13  # exactly 1/9 in expectation


def test_jump_hash_only_moves_keys_to_the_new_bucket():
    for key in range(2000):
        before, after = jump_hash(key, 10), jump_hash(key, 11)
        assert after == before or after == 10


def test_jump_hash_stays_in_range_and_is_stable():
    assert jump_hash(0, 1) == 0
    assert all(0 <= jump_hash(k, 7) < 7 for k in range(1000))


def test_range_router_keeps_neighbours_together():
    router = RangeRouter([1000, 2000, 3000])
    assert [router.shard_for(k) for k in (1, 999, 1000, 2500, 10**9)] == [0, 0, 1, 2, 3]
    assert router.resized(2).bounds == [2000]
    with pytest.raises(ConfigError, match="strictly increasing"):
        RangeRouter([5, 3])


def test_directory_router_places_chosen_keys_and_falls_back():
    router = DirectoryRouter(ModuloRouter(4), {42: 3})
    assert router.shard_for(42) == 3
    assert router.shard_for(7) == ModuloRouter(4).shard_for(7)
    router.assign(7, 0)
    assert router.shard_for(7) == 0
    with pytest.raises(ConfigError, match="between 0 and 3, got 9 for key 1"):
        router.assign(1, 9)
    assert router.resized(2).table == {7: 0}
