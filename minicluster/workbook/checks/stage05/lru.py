"""Checker of ``05.lru``: eviction order case by case, a long random replay against a model, and O(1)."""

from __future__ import annotations

import random

from ..base import Checker, Failure, describe

_MISSING = object()


class SlowLRU:
    """The rule, written the slow and obvious way: a list in order of use, least recent first (every use
    scans it: right answers, O(capacity) time)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.order, self.values = capacity, [], {}

    def __len__(self) -> int:
        return len(self.values)

    def get(self, key, default=None):
        if key not in self.values:
            return default
        self.order.remove(key)
        self.order.append(key)
        return self.values[key]

    def put(self, key, value):
        evicted = None
        if key in self.values:
            self.order.remove(key)
        elif len(self.order) >= self.capacity:
            evicted = self.order.pop(0)
            del self.values[evicted]
        self.order.append(key)
        self.values[key] = value
        return evicted


class LRUCheck(Checker):
    """An LRU cache: evicts the least recently used, gets and puts both count as uses, O(1) per operation."""

    exercise_id = "05.lru"
    #: The replay against the model, and the size of the complexity run.
    replay = {"operations": 3000, "capacity": 5, "keys": 9, "seed": 5}
    big = {"capacity": 50_000, "operations": 150_000, "within": 5.0}

    def verify(self, cache_class) -> list[str]:
        if not callable(cache_class):
            raise Failure(f"expected the class LRUCache, got {describe(cache_class)}")
        self._capacity_checked(cache_class)
        self._cases(cache_class)
        self._replay(cache_class)
        self._constant_time(cache_class)
        return [
            "refuses a capacity that is not an integer >= 1",
            "evicts the least recently used entry, counting gets and puts (of a new or an existing key) as uses; "
            "returns what it evicted; a stored None is still a hit",
            f"{self.replay['operations']:,} random operations give exactly the answers of the rule",
            f"{self.big['operations']:,} operations on a cache of {self.big['capacity']:,} entries finish at once: "
            "O(1) each",
        ]

    def _new(self, cache_class, capacity):
        return self.instance(cache_class, capacity, on=f"LRUCache({capacity!r})", methods=("get", "put"))

    def _capacity_checked(self, cache_class) -> None:
        for bad in (0, -3, 2.5, True):
            self.expect_raises(
                ValueError,
                cache_class,
                bad,
                on=f"LRUCache({bad!r})",
                instead="a cache needs room for at least one entry, counted in whole entries: raise ValueError",
            )

    def _cases(self, cache_class) -> None:
        steps = []

        def run(cache, op, *args, expect):
            steps.append(f"{op}{args!r}".replace(",)", ")"))
            got = self.call(getattr(cache, op), *args, on=" then ".join(steps))
            if got != expect and not (expect is None and got is None):
                raise Failure(f"{' then '.join(steps)}: returned {describe(got)}, expected {describe(expect)}")

        cache = self._new(cache_class, 2)
        run(cache, "put", "a", 1, expect=None)
        run(cache, "put", "b", 2, expect=None)
        run(cache, "get", "a", expect=1)
        run(cache, "put", "c", 3, expect="b")  # a was used after b
        run(cache, "get", "b", "gone", expect="gone")
        run(cache, "put", "a", 10, expect=None)  # an existing key: updated, now the most recent, nothing evicted
        run(cache, "put", "d", 4, expect="c")
        run(cache, "get", "a", expect=10)
        size = self.call(len, cache, on=" then ".join(steps) + " then len(cache)")
        if size != 2:
            raise Failure(f"{' then '.join(steps)}: len(cache) is {describe(size)}; the cache holds 2 entries")
        steps.clear()
        cache = self._new(cache_class, 1)
        run(cache, "put", "x", None, expect=None)
        run(cache, "get", "x", "missing", expect=None)  # a stored None is a value, not a miss
        run(cache, "get", "y", expect=None)
        run(cache, "put", "y", 1, expect="x")

    def _replay(self, cache_class) -> None:
        r = self.replay
        rng = random.Random(r["seed"])
        cache, model = self._new(cache_class, r["capacity"]), SlowLRU(r["capacity"])
        done = []
        for i in range(r["operations"]):
            key = rng.randrange(r["keys"])
            if rng.random() < 0.5:
                op, args = "get", (key, "missing")
            else:
                op, args = "put", (key, i)
            expected = getattr(model, op)(*args)
            done.append(f"{op}{args}")
            got = self.call(getattr(cache, op), *args, on=f"operation {i + 1} of a random replay")
            if got != expected:
                recent = " then ".join(done[-6:])
                raise Failure(
                    f"a random replay on LRUCache({r['capacity']}): after ... {recent}, returned {describe(got)} "
                    f"where the least-recently-used rule gives {describe(expected)}"
                )

    def _constant_time(self, cache_class) -> None:
        b = self.big
        on = f"{b['operations']:,} operations on a cache of {b['capacity']:,} entries"

        def run():
            # Fill the cache, then keep adding a key and reading the one added just before it: every
            # put evicts, and every get finds a key at the recent end of the order (the far end for a
            # scan that starts from the least recent).
            capacity = b["capacity"]
            cache = cache_class(capacity)
            for key in range(capacity):
                cache.put(key, key)
            for key in range(capacity, capacity + (b["operations"] - capacity) // 2):
                cache.put(key, key)
                cache.get(key - 1)

        self.call(
            run,
            on=on,
            within=b["within"],
            too_slow=f"not finished after {b['within']:g} s. A correct cache does this in well under a second: "
            "some operation looks at every entry (a list's remove or index, a min over the keys...), so it "
            "gets slower as the cache grows. Keep the order of use in something that moves one entry, or drops "
            "the oldest, without a scan",
        )
