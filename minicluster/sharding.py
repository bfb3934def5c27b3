"""Sharding routers: which shard holds a given key (a user id).

Five ways to decide, each a small class with one method, ``shard_for(key) -> shard index``, and a
``resized(n)`` that gives the same kind of router for ``n`` shards (to measure resharding):

==========================  ==============================================================================
router                      trade-off
==========================  ==============================================================================
:class:`ModuloRouter`       ``hash(key) % n``: simple and even, but adding one shard moves almost every key
:class:`RangeRouter`        ranges of keys: range scans stay on one shard, but new keys pile on the last one
:class:`DirectoryRouter`    a lookup table: any placement you like (move one hot user alone), but the
                            table itself must be stored, replicated and consulted on every request
:class:`RingRouter`         consistent hashing with virtual nodes: adding a shard moves about 1/(n+1)
:class:`JumpRouter`         jump consistent hash: moves the minimum, no memory at all, but shards can only
                            be added or removed at the end
==========================  ==============================================================================
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Mapping
from typing import Protocol

from .errors import ConfigError, check_positive
from .hashring import HashRing, stable_hash


class ShardRouter(Protocol):
    shards: int

    def shard_for(self, key: Hashable) -> int:
        """The index (0 .. shards-1) of the shard that holds ``key``."""


class ModuloRouter:
    def __init__(self, shards: int) -> None:
        check_positive("shards", shards, integer=True)
        self.shards = shards

    def shard_for(self, key: Hashable) -> int:
        return stable_hash(key) % self.shards

    def resized(self, shards: int) -> ModuloRouter:
        return ModuloRouter(shards)


class RangeRouter:
    """Keys below ``bounds[0]`` on shard 0, below ``bounds[1]`` on shard 1, ..., the rest on the last."""

    def __init__(self, bounds: Iterable[int]) -> None:
        self.bounds = list(bounds)
        if self.bounds != sorted(set(self.bounds)):
            raise ConfigError(f"range bounds must be strictly increasing, got {self.bounds}")
        self.shards = len(self.bounds) + 1

    def shard_for(self, key: Hashable) -> int:
        return bisect.bisect_right(self.bounds, key)

    def resized(self, shards: int) -> RangeRouter:
        """Split the same key space evenly into ``shards`` ranges (up to the last bound seen)."""
        top = self.bounds[-1] * self.shards // max(1, self.shards - 1) if self.bounds else shards
        return RangeRouter(top * i // shards for i in range(1, shards))


class DirectoryRouter:
    """An explicit table key → shard; keys not in it fall back to ``default`` (another router)."""

    def __init__(self, default: ShardRouter, table: Mapping[Hashable, int] | None = None) -> None:
        self.default = default
        self.shards = default.shards
        self.table: dict[Hashable, int] = {}
        for key, shard in (table or {}).items():
            self.assign(key, shard)

    def assign(self, key: Hashable, shard: int) -> None:
        if not isinstance(shard, int) or not 0 <= shard < self.shards:
            raise ConfigError(f"shard must be between 0 and {self.shards - 1}, got {shard!r} for key {key!r}")
        self.table[key] = shard

    def shard_for(self, key: Hashable) -> int:
        shard = self.table.get(key)
        return shard if shard is not None else self.default.shard_for(key)

    def resized(self, shards: int) -> DirectoryRouter:
        kept = {k: s for k, s in self.table.items() if s < shards}
        return DirectoryRouter(self.default.resized(shards), kept)


class RingRouter:
    """Consistent hashing: shards placed ``vnodes`` times each on a :class:`~minicluster.hashring.HashRing`."""

    def __init__(self, shards: int, vnodes: int = 100) -> None:
        check_positive("shards", shards, integer=True)
        self.shards, self.vnodes = shards, vnodes
        self.ring = HashRing(range(shards), vnodes=vnodes)

    def shard_for(self, key: Hashable) -> int:
        return self.ring.lookup(key)

    def resized(self, shards: int) -> RingRouter:
        return RingRouter(shards, self.vnodes)


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash (Lamping and Veach, 2014): a bucket in ``0..buckets-1`` for a 64-bit key.

    It follows the key through imaginary growth from 1 bucket to ``buckets``; at each step the key
    jumps to the new bucket with probability 1/(size), which is exactly the share a new bucket should
    take. The pseudo-random sequence is a 64-bit linear congruential generator seeded by the key.
    """
    check_positive("buckets", buckets, integer=True)
    key &= (1 << 64) - 1
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & ((1 << 64) - 1)
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


class JumpRouter:
    def __init__(self, shards: int) -> None:
        check_positive("shards", shards, integer=True)
        self.shards = shards

    def shard_for(self, key: Hashable) -> int:
        return jump_hash(stable_hash(key), self.shards)

    def resized(self, shards: int) -> JumpRouter:
        return JumpRouter(shards)


def keys_moved(before: ShardRouter, after: ShardRouter, keys: Iterable[Hashable]) -> tuple[int, int]:
    """``(moved, total)``: how many of ``keys`` live on a different shard under ``after``."""
    moved = total = 0
    for key in keys:
        total += 1
        moved += before.shard_for(key) != after.shard_for(key)
    return moved, total
