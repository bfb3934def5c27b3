"""Wrong answers to Stage 10's exercises."""

from minicluster.workbook.checks.paginate_mutants import PAGINATE_MUTANTS

MUTANTS = {"10.paginate": dict(PAGINATE_MUTANTS)}


# -- 10.hash_ring ---------------------------------------------------------------------------------
import bisect  # noqa: E402
import hashlib  # noqa: E402
import random  # noqa: E402


def _position(value):
    return int.from_bytes(hashlib.sha256(str(value).encode()).digest()[:8], "big")


class _Ring:
    """A correct ring whose parts the mutants below replace one at a time."""

    def __init__(self, nodes=(), vnodes=100):
        self.vnodes = vnodes
        self.points = []  # sorted (position, node)
        for node in nodes:
            self.add(node)

    def place(self, node, i):
        return _position(f"{node}#{i}")

    def add(self, node):
        for i in range(self.vnodes):
            bisect.insort(self.points, (self.place(node, i), node))

    def remove(self, node):
        self.points = [p for p in self.points if p[1] != node]

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_left(self.points, (_position(key), ""))
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
        return self.nodes[_position(key) % len(self.nodes)]


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
        return self.points[bisect.bisect_left(self.points, (_position(key), ""))][1]


class PlacedByArrivalOrder(_Ring):
    """Positions from the order nodes arrived in, not from their names."""

    def __init__(self, nodes=(), vnodes=100):
        self.arrivals = 0
        super().__init__(nodes, vnodes)

    def add(self, node):
        self.arrivals += 1
        for i in range(self.vnodes):
            bisect.insort(self.points, (_position(f"{self.arrivals}#{i}"), node))


class RandomPoints(_Ring):
    def place(self, node, i):
        return random.getrandbits(64)


class NoneOnAnEmptyRing(_Ring):
    def lookup(self, key):
        return super().lookup(key) if self.points else None


MUTANTS["10.hash_ring"] = {
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
    )
}


# -- 10.connection_pool ---------------------------------------------------------------------------
import collections  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from minicluster.proxy import PoolTimeout  # noqa: E402
from minicluster.workbook import load  # noqa: E402

#: The reference pool (one Condition, FIFO tickets): each mutant below replaces one of its parts.
_Pool = load("10.connection_pool", tree="solutions")


class Unbounded(_Pool):
    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        return self.connect()


class LeaksOnException(_Pool):
    @contextmanager
    def connection(self):
        conn = self.acquire()
        yield conn
        self.release(conn)


class _CutsInLine(collections.deque):
    """A line where every newcomer goes to the front."""

    def append(self, ticket):
        self.appendleft(ticket)


class LastComeFirstServed(_Pool):
    def __init__(self, connect, size, timeout=2.0):
        super().__init__(connect, size, timeout)
        self.line = _CutsInLine()


class WaitsForever(_Pool):
    def acquire(self):
        with self.changed:
            while not (self.idle or self.opened < self.size):
                self.changed.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        return self.connect()


class GivesUpAtOnce(_Pool):
    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle.pop()
            if self.opened < self.size:
                self.opened += 1
                return self.connect()
        raise PoolTimeout("busy")


class WrongTimeoutError(_Pool):
    def acquire(self):
        try:
            return super().acquire()
        except PoolTimeout:
            raise RuntimeError("pool exhausted") from None


class ReleaseWakesNobody(_Pool):
    def release(self, conn):
        with self.changed:
            self.idle.append(conn)


class LendsWithoutRemoving(_Pool):
    """Hands out an idle connection but leaves it in the idle list: two borrowers get the same one."""

    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle[-1]
        return super().acquire()

    def release(self, conn):
        with self.changed:
            if conn not in self.idle:
                self.idle.append(conn)
            self.changed.notify_all()


class OpensBeforeReusing(_Pool):
    """Opens a new connection while under size even when an idle one is waiting."""

    def acquire(self):
        with self.changed:
            if self.opened < self.size:
                self.opened += 1
                new = True
            else:
                new = False
        return self.connect() if new else super().acquire()


MUTANTS["10.connection_pool"] = {
    cls.__name__: cls
    for cls in (
        Unbounded,
        LeaksOnException,
        LastComeFirstServed,
        WaitsForever,
        GivesUpAtOnce,
        WrongTimeoutError,
        ReleaseWakesNobody,
        LendsWithoutRemoving,
        OpensBeforeReusing,
    )
}


# -- 10.validate ----------------------------------------------------------------------------------
from minicluster.workbook import catalog, trees  # noqa: E402

#: The reference validator's module: the mutants reuse its private checks.
_V = trees.load_module(trees.tree("solutions") / catalog.get("10.validate").path)


def finds_nothing(paginate, store):
    return []


def complains_about_everything(paginate, store):
    return ["something looks off"]


def only_checks_the_first_page(paginate, store):
    posts, _, _ = paginate(store.shards, None, 5, "newest")
    return [] if posts == store.all_posts("newest")[:5] else ["first page differs"]


def only_newest_first_and_order(paginate, store):
    walked, problems, _ = _V._pages(paginate, store, 3, "newest")
    return problems or ([] if walked == store.all_posts("newest") else ["order"])


def _solution_without(skipped):
    """The reference validator with one of its checks left out."""

    def validate(paginate, store):
        total = len(store.all_posts("newest"))
        checks = {
            "concurrency": [lambda: _V._concurrency(paginate, store)],
            "walks": [
                lambda size=size, direction=direction: _V._walk(paginate, store, size, direction)
                for direction in ("newest", "oldest")
                for size in sorted({1, 3, max(1, total), total + 1})
            ],
            "bad cursors": [lambda: _V._bad_cursors(paginate, store)],
            "shard down": [lambda: _V._shard_down(paginate, store)],
            "writers": [lambda: _V._writers(paginate, store)],
        }
        for name, runs in checks.items():
            if name == skipped:
                continue
            for run in runs:
                problems = run()
                if problems:
                    return problems
        return []

    validate.__name__ = f"never_checks_{skipped.replace(' ', '_')}"
    return validate


never_checks_concurrency = _solution_without("concurrency")
never_takes_a_shard_down = _solution_without("shard down")
never_tries_bad_cursors = _solution_without("bad cursors")


def raises_instead_of_reporting(paginate, store):
    posts, _, _ = paginate(store.shards, "garbage", 5, "newest")
    return []


MUTANTS["10.validate"] = {
    f.__name__: f
    for f in (
        finds_nothing,
        complains_about_everything,
        only_checks_the_first_page,
        only_newest_first_and_order,
        never_checks_concurrency,
        never_takes_a_shard_down,
        never_tries_bad_cursors,
        raises_instead_of_reporting,
    )
}
