"""Eviction policies: which key a full cache drops to make room for a new one.

A cache is a small fast memory in front of a big slow one; when it is full, something must go. Think
of a desk with room for a few books, the library down the hall: the policy decides which book goes
back to the shelf. A policy is anything with one method, ``victim(entries) -> key`` (a plain function
of the same shape works too), where ``entries`` maps each key held to its :class:`Entry`: when it came
in, when it was last used, how often, when it expires. Returning ``None`` refuses the new key instead.

fakeredis has no ``maxmemory`` eviction, so :class:`~minicluster.cache.CacheNode` enforces its budget
itself, with one of these (a real Redis with ``maxmemory-policy`` does the same job in the server).

=======================  ===================================================  ==================================
policy                   use it when                                          avoid it when
=======================  ===================================================  ==================================
:class:`LRU`             recent keys are likely to be asked again (most       one big scan (a report, a crawler)
                         traffic: sessions, feeds, profiles)                  flushes the hot keys out
:class:`LFU`             popularity is stable (a Zipf catalogue): the hot     popularity shifts: yesterday's
                         keys stay even after a scan                          hits linger, new keys starve
:class:`FIFO`            simplicity, or keys that all age alike               hot keys are old: FIFO drops them
:class:`RandomEviction`  no bookkeeping at all (Redis ``allkeys-random``)     you can afford LRU's bookkeeping
:class:`SoonestExpiry`   keys carry TTLs that reflect their value (Redis      keys without a TTL: they are
                         ``volatile-ttl``)                                    never chosen while others exist
:class:`NoEviction`      the cache must never drop a key silently (TTL-only:  the key space outgrows the budget:
                         keys leave when they expire, new ones wait)          new keys are simply not cached
=======================  ===================================================  ==================================
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass
class Entry:
    """What the cache knows about one key it holds. Times are a counter of cache operations (exact and
    deterministic); ``expires_at`` is in the cache node's clock seconds, or ``None`` without a TTL."""

    inserted: int
    last_used: int
    uses: int = 1
    expires_at: float | None = None


class EvictionPolicy(Protocol):
    def victim(self, entries: Mapping[str, Entry]) -> str | None:
        """The key to drop (one of ``entries``), or ``None`` to refuse the new key instead."""


class LRU:
    """Least recently used: drop the key untouched for longest."""

    def victim(self, entries):
        return min(entries, key=lambda k: entries[k].last_used)


class LFU:
    """Least frequently used: drop the key used least often (the older use breaks ties)."""

    def victim(self, entries):
        return min(entries, key=lambda k: (entries[k].uses, entries[k].last_used))


class FIFO:
    """First in, first out: drop the key that came in first, however much it is used."""

    def victim(self, entries):
        return min(entries, key=lambda k: entries[k].inserted)


class RandomEviction:
    """Drop a key at random (from its own seeded generator)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def victim(self, entries):
        return self._rng.choice(sorted(entries))


class SoonestExpiry:
    """Drop the key closest to expiring (keys without a TTL last)."""

    def victim(self, entries):
        return min(entries, key=lambda k: (entries[k].expires_at is None, entries[k].expires_at or 0.0))


class NoEviction:
    """Drop nothing: a full cache refuses new keys until some expire (TTL-only)."""

    def victim(self, entries):
        return None


#: The shipped policies by name, for experiments that compare them.
POLICIES: dict[str, Callable[[], EvictionPolicy]] = {
    "LRU": LRU,
    "LFU": LFU,
    "FIFO": FIFO,
    "random": RandomEviction,
    "soonest expiry": SoonestExpiry,
    "no eviction (TTL only)": NoEviction,
}


def as_policy(policy) -> EvictionPolicy:
    """A policy object from a policy or a plain function ``victim(entries)``."""
    if hasattr(policy, "victim"):
        return policy
    if callable(policy):
        return _FunctionPolicy(policy)
    from .errors import ConfigError

    raise ConfigError(f"an eviction policy has victim(entries), or is such a function; got {policy!r}")


class _FunctionPolicy:
    def __init__(self, fn) -> None:
        self.victim = fn
