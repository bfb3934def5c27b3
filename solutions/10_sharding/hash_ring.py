"""Exercise 10.hash_ring: consistent hashing with virtual nodes.

Place every node on a ring of 64-bit positions at ``vnodes`` points, each point the hash of
``f"{node}#{i}"``. A key belongs to the first point at or after its own hash, going clockwise and
wrapping around past the largest position. Adding a node then moves only the keys that now fall just
before its points: about 1/(N+1) of them, instead of almost all with ``hash(key) % N``.
"""

import hashlib

from sortedcontainers import SortedDict


def position(value):
    """A 64-bit position on the ring that is the same in every process (unlike Python's hash()).

    Keep this function and use it for every point and key: the check uses it to work out where each
    key belongs."""
    return int.from_bytes(hashlib.sha256(str(value).encode()).digest()[:8], "big")


class HashRing:
    """Nodes on a consistent-hash ring, each at ``vnodes`` points."""

    def __init__(self, nodes=(), vnodes=100):
        """Start with ``nodes`` on the ring."""
        self.vnodes = vnodes
        self.points = SortedDict()
        for node in nodes:
            self.add(node)

    def add(self, node):
        """Put ``node`` on the ring at its ``vnodes`` points."""
        for i in range(self.vnodes):
            self.points[position(f"{node}#{i}")] = node

    def remove(self, node):
        """Take ``node`` and all of its points off the ring."""
        for i in range(self.vnodes):
            self.points.pop(position(f"{node}#{i}"), None)

    def lookup(self, key):
        """The node that owns ``key``: the first point at or after ``position(key)``, clockwise (past the
        largest point, wrap around to the smallest). Raise ``LookupError`` when the ring has no nodes."""
        if not self.points:
            raise LookupError("the ring has no nodes")
        index = self.points.bisect_left(position(key))
        if index == len(self.points):
            index = 0  # past the largest position: wrap around to the first
        return self.points.peekitem(index)[1]
