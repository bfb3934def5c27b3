"""A consistent-hash ring with virtual nodes.

Picture a clock face with every node written on it at many places (its *virtual nodes*). A key is
hashed to a point on the face and belongs to the first node found going clockwise. Adding a node
takes over only the arcs just before its own points, so about 1/(N+1) of the keys move, where
``hash(key) % N`` would move almost all of them. Virtual nodes (100 per node by default) even out
the arc lengths, so each node gets close to its fair share.

Used by the sticky load-balancing policy (Stage 3) and by shard routing (Stage 10).
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable, Iterator

from sortedcontainers import SortedDict

from .errors import ConfigError, MiniclusterError, check_positive


class EmptyRing(MiniclusterError, LookupError):
    """A lookup on a ring with no nodes (a ``LookupError``, as the ``10.hash_ring`` exercise asks too)."""


def stable_hash(value: object) -> int:
    """A 64-bit hash that is the same in every process (Python's ``hash()`` is salted per run)."""
    return int.from_bytes(hashlib.sha256(str(value).encode()).digest()[:8], "big")


class HashRing:
    """Nodes placed at ``vnodes`` points each; :meth:`lookup` finds a key's node clockwise."""

    def __init__(self, nodes: Iterable[Hashable] = (), *, vnodes: int = 100) -> None:
        check_positive("vnodes", vnodes, integer=True)
        self.vnodes = vnodes
        self._points: SortedDict = SortedDict()
        self._nodes: set = set()
        for node in nodes:
            self.add(node)

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def nodes(self) -> frozenset:
        return frozenset(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def add(self, node: Hashable) -> None:
        if node in self._nodes:
            raise ConfigError(f"{node!r} is already on the ring")
        self._nodes.add(node)
        for i in range(self.vnodes):
            self._points[stable_hash(f"{node}#{i}")] = node

    def remove(self, node: Hashable) -> None:
        if node not in self._nodes:
            raise ConfigError(f"{node!r} is not on the ring")
        self._nodes.discard(node)
        for i in range(self.vnodes):
            self._points.pop(stable_hash(f"{node}#{i}"), None)

    def walk(self, key: object) -> Iterator[Hashable]:
        """Every node once, in the order met going clockwise from ``key``'s point."""
        if not self._points:
            return
        start = self._points.bisect_left(stable_hash(key))
        seen = set()
        keys = self._points.keys()
        for i in range(len(keys)):
            node = self._points[keys[(start + i) % len(keys)]]
            if node not in seen:
                seen.add(node)
                yield node
                if len(seen) == len(self._nodes):
                    return

    def lookup(self, key: object) -> Hashable:
        """The node that owns ``key``."""
        for node in self.walk(key):
            return node
        raise EmptyRing(f"cannot look up {key!r}: the ring has no nodes")
