"""Checker of ``09.percentiles``: refusals, nearest ranks on small exact cases, the accuracy bound at every
scale and at two accuracies, merges of several servers' streams against the exact percentiles of all their
values, and a memory that does not grow with the number of values."""

from __future__ import annotations

import math
import random
import sys

from ..base import Checker, Failure, describe

#: The percentiles compared everywhere.
PERCENTILES = (0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 100)


def exact(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``values`` (sorted)."""
    return values[max(1, math.ceil(p / 100 * len(values))) - 1]


def footprint(obj, seen: set[int] | None = None) -> int:
    """Bytes held by ``obj`` and what it refers to through containers and attributes (classes, modules,
    functions and locks not counted)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (type, type(sys), type(footprint))) or callable(obj):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(footprint(k, seen) + footprint(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(footprint(v, seen) for v in obj)
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        size += footprint(attributes, seen)
    for slot in getattr(type(obj), "__slots__", ()):
        size += footprint(getattr(obj, slot, None), seen)
    return size


class PercentilesCheck(Checker):
    """Nearest rank, within the accuracy at any scale, merged like the values themselves, in bounded memory."""

    exercise_id = "09.percentiles"
    #: The memory run: this many values from 0.1 ms to 10 s must fit in this many bytes.
    many, memory_bound = 100_000, 200_000

    def verify(self, histogram_class) -> list[str]:
        if not callable(histogram_class):
            raise Failure(f"expected the class LatencyHistogram, got {describe(histogram_class)}")
        self._refusals(histogram_class)
        self._small_cases(histogram_class)
        scales = self._every_scale(histogram_class)
        self._merges(histogram_class)
        size = self._memory(histogram_class)
        return [
            "refuses an accuracy outside (0, 1), a negative or non-numeric value, a percentile outside 0-100, and "
            "percentiles of an empty histogram",
            "nearest-rank percentiles on small exact cases, zeros included",
            f"every percentile within the accuracy (1% and 5%) of the exact one, for values around {scales}",
            "merging 4 servers' histograms (one slow now and then, one with zeros) gives the tier's percentiles "
            "within 1% of the exact ones over all their values, leaves both inputs unchanged, and refuses another "
            "accuracy",
            f"{self.many:,} values held in {size:,} bytes: bucket counts, not the values",
        ]

    def _new(self, histogram_class, accuracy=0.01):
        return self.instance(histogram_class, accuracy, on=f"LatencyHistogram({accuracy!r})",
                             methods=("record", "percentile", "merge"))  # fmt: skip

    def _filled(self, histogram_class, values, accuracy=0.01, on=None):
        h = self._new(histogram_class, accuracy)
        on = on or f"recording {len(values):,} values"

        def fill():
            for v in values:
                h.record(v)

        self.call(fill, on=on, within=10)
        return h

    def _percentile(self, h, p, on):
        got = self.call(h.percentile, p, on=f"{on}, then percentile({p!r})")
        if isinstance(got, bool) or not isinstance(got, (int, float)) or math.isnan(got):
            raise Failure(f"{on}, then percentile({p!r}): returned {describe(got)}; return the value, a float")
        return got

    def _refusals(self, histogram_class) -> None:
        for bad in (0.0, 1.0, -0.01, 1.5, "0.01", None):
            self.expect_raises(ValueError, histogram_class, bad, on=f"LatencyHistogram({bad!r})",
                               instead="an accuracy is a float strictly between 0 and 1: raise ValueError")  # fmt: skip
        h = self._new(histogram_class)
        self.expect_raises(ValueError, h.percentile, 50, on="percentile(50) of an empty histogram",
                           instead="nothing was counted: there is no percentile to give, raise ValueError")  # fmt: skip
        for bad in (-0.5, math.nan, "3", None):
            self.expect_raises(ValueError, h.record, bad, on=f"record({bad!r})",
                               instead="a latency is a number >= 0: raise ValueError")  # fmt: skip
        h = self._filled(histogram_class, [0.01])
        for bad in (-1, 101, 100.5):
            self.expect_raises(ValueError, h.percentile, bad, on=f"percentile({bad!r})",
                               instead="a percentile is between 0 and 100: raise ValueError")  # fmt: skip

    def _compare(self, h, values, percentiles, accuracy, on) -> None:
        values = sorted(values)
        for p in percentiles:
            want = exact(values, p)
            got = self._percentile(h, p, on)
            if abs(got - want) > accuracy * want * (1 + 1e-9):
                off = f"{abs(got - want) / want:.1%} off" if want else "the exact one is 0"
                raise Failure(
                    f"{on}, then percentile({p!r}): returned {got:.6g}; the nearest-rank percentile is {want:.6g} "
                    f"({off}, the histogram promises {accuracy:.0%})"
                )

    def _small_cases(self, histogram_class) -> None:
        steps = [round(0.01 * i, 2) for i in range(1, 101)]
        shuffled = random.Random(3).sample(steps, len(steps))
        on = "recording 0.01, 0.02, ... 1.00 (100 values, in random order)"
        h = self._filled(histogram_class, shuffled, on=on)
        self._compare(h, steps, (0, 1, 1.5, 10, 50, 50.5, 90, 99, 100), 0.01, on)
        zeros = [0, 0.005, 0, 0]
        on = "recording 0, 0.005, 0, 0"
        self._compare(self._filled(histogram_class, zeros, on=on), zeros, (0, 50, 75, 75.1, 100), 0.01, on)
        on = "recording 0.25 once"
        self._compare(self._filled(histogram_class, [0.25], on=on), [0.25], (0, 50, 100), 0.01, on)

    def _every_scale(self, histogram_class) -> str:
        rng = random.Random(11)
        for accuracy in (0.01, 0.05):
            for scale in (1e-6, 1e-3, 1.0, 100.0):
                values = [scale * math.exp(rng.uniform(0, math.log(50))) for _ in range(2000)]
                values += [values[0], values[1]] * 5  # repeats
                on = f"LatencyHistogram({accuracy}) recording 2,010 values between {scale:g} and {scale * 50:g}"
                h = self._filled(histogram_class, values, accuracy, on=on)
                self._compare(h, values, PERCENTILES, accuracy, on)
        return "1 µs, 1 ms, 1 s and 100 s"

    def _merges(self, histogram_class) -> None:
        rng = random.Random(7)
        streams = []
        for server in range(4):
            slow = server == 3
            streams.append([rng.lognormvariate(-4.0, 0.4) * (10 if slow and rng.random() < 0.1 else 1)
                            for _ in range(3000)])  # fmt: skip
        streams[0] += [0.0] * 400  # answered from memory, timed as 0 by a coarse clock
        rng.shuffle(streams[0])
        parts = [
            self._filled(histogram_class, s, on=f"server {i + 1}'s {len(s):,} latencies") for i, s in enumerate(streams)
        ]
        before = [(self._percentile(h, 99, f"server {i + 1}"), h) for i, h in enumerate(parts)]
        on = "merging the histograms of 4 servers (server 4 slow now and then, server 1 with zeros)"

        def merge_all():
            merged = parts[0]
            for h in parts[1:]:
                merged = merged.merge(h)
            return merged

        merged = self.call(merge_all, on=on)
        if merged is None or not callable(getattr(merged, "percentile", None)):
            raise Failure(f"{on}: merge returned {describe(merged)}; return a new LatencyHistogram")
        everything = [v for s in streams for v in s]
        self._compare(merged, everything, (99, 99.9, 50, *PERCENTILES), 0.01, on)
        for i, (p99, h) in enumerate(before):
            again = self._percentile(h, 99, f"{on}, server {i + 1}'s own histogram")
            if again != p99:
                raise Failure(
                    f"{on}: server {i + 1}'s own p99 went from {p99:.6g} to {again:.6g}. merge must leave its inputs "
                    "as they were (a dashboard merges the same server's histogram into several views)"
                )
        # the other way round: the order of a merge does not matter
        reverse = self.call(lambda: parts[3].merge(parts[2]).merge(parts[1].merge(parts[0])), on=on + " in reverse")
        self._compare(reverse, everything, (50, 99), 0.01, on + " in another order")
        other = self._new(histogram_class, 0.05)
        self.expect_raises(ValueError, parts[0].merge, other, on="merging a 1% histogram with a 5% one",
                           instead="their buckets are not the same: raise ValueError")  # fmt: skip

    def _memory(self, histogram_class) -> int:
        rng = random.Random(5)
        values = [1e-4 * math.exp(rng.uniform(0, math.log(1e5))) for _ in range(self.many)]
        on = f"recording {self.many:,} values between 0.1 ms and 10 s"
        h = self._filled(histogram_class, values, on=on)
        size = self.call(footprint, h, on=on)
        if size > self.memory_bound:
            raise Failure(
                f"{on}: the histogram holds about {size:,} bytes, and would grow with every value recorded. Keep "
                f"counts per bucket (about {math.ceil(math.log(1e5) / math.log(101 / 99)) + 1} buckets at 1%), not "
                "the values"
            )
        self._compare(h, values, (50, 99, 99.9), 0.01, on)
        return size
