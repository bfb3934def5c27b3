"""Wrong hash rings for ``10.hash_ring``, each one part of a correct ring replaced."""

import bisect
import hashlib
import random


def position(value):
    return int.from_bytes(hashlib.sha256(str(value).encode()).digest()[:8], "big")


class _Ring:
    """A correct ring whose parts the mutants below replace one at a time."""

    def __init__(self, nodes=(), vnodes=100):
        self.vnodes = vnodes
        self.points = []  # sorted (position, node)
        for node in nodes:
            self.add(node)

    def place(self, node, i):
        return position(f"{node}#{i}")

    def add(self, node):
        for i in range(self.vnodes):
            bisect.insort(self.points, (self.place(node, i), node))

    def remove(self, node):
        self.points = [p for p in self.points if p[1] != node]

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_left(self.points, (position(key), ""))
        return self.points[i % len(self.points)][1]


class ModuloNotARing(_Ring):
    def __init__(self, nodes=(), vnodes=100):
        self.nodes = []
        super().__init__(nodes, vnodes)

    def add(self, node):
        self.nodes.append(node)

    def remove(self, node):
        self.nodes.remove(node)

    def lookup(self, key):
        if not self.nodes:
            raise LookupError("empty")
        return self.nodes[position(key) % len(self.nodes)]


class SortedModulo(ModuloNotARing):
    """hash % N over the sorted node names: order-independent, but adding a node moves most keys."""

    def add(self, node):
        self.nodes = sorted([*self.nodes, node])


class IgnoresVnodes(_Ring):
    def add(self, node):
        bisect.insort(self.points, (self.place(node, 0), node))


class PythonHash(_Ring):
    def place(self, node, i):
        return hash(f"{node}#{i}")

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_left(self.points, (hash(str(key)), ""))
        return self.points[i % len(self.points)][1]


class RemovesOnlyTheFirstPoint(_Ring):
    def remove(self, node):
        self.points.remove((self.place(node, 0), node))


class NoWrapAround(_Ring):
    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        return self.points[bisect.bisect_left(self.points, (position(key), ""))][1]


class PlacedByArrivalOrder(_Ring):
    """Positions from the order nodes arrived in, not from their names."""

    def __init__(self, nodes=(), vnodes=100):
        self.arrivals = 0
        super().__init__(nodes, vnodes)

    def add(self, node):
        self.arrivals += 1
        for i in range(self.vnodes):
            bisect.insort(self.points, (position(f"{self.arrivals}#{i}"), node))


class RandomPoints(_Ring):
    def place(self, node, i):
        return random.getrandbits(64)


class NoneOnAnEmptyRing(_Ring):
    def lookup(self, key):
        return super().lookup(key) if self.points else None


class CounterClockwise(_Ring):
    """A key goes to the last point at or before it: the ring walked the other way."""

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_right(self.points, (position(key), "\uffff")) - 1
        return self.points[i][1]  # -1 wraps to the largest point


class StrictlyAfter(_Ring):
    """A key exactly on a point goes to the next one ("after" instead of "at or after")."""

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_right(self.points, (position(key), "\uffff"))
        return self.points[i % len(self.points)][1]


class WrapsToTheLargest(_Ring):
    """Past the largest point, a key stays on the largest instead of wrapping around to the smallest."""

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_left(self.points, (position(key), ""))
        return self.points[min(i, len(self.points) - 1)][1]


class AlwaysAHundredVnodes(_Ring):
    """Ignores the vnodes argument: always 100 points per node."""

    def __init__(self, nodes=(), vnodes=100):
        super().__init__(nodes, 100)


MUTANTS = {
    cls.__name__: cls
    for cls in (
        ModuloNotARing,
        SortedModulo,
        IgnoresVnodes,
        PythonHash,
        RemovesOnlyTheFirstPoint,
        NoWrapAround,
        PlacedByArrivalOrder,
        RandomPoints,
        NoneOnAnEmptyRing,
        CounterClockwise,
        StrictlyAfter,
        WrapsToTheLargest,
        AlwaysAHundredVnodes,
    )
}
