"""Wrong answers to 09.percentiles: latency histograms as they are first written."""

import math

from minicluster.workbook import load

_Solution = load("09.percentiles", tree="solutions")


class FloorBuckets(_Solution):
    """Bucket i = floor(log v / log gamma), still reported as if it were ceil: values land one bucket low."""

    def record(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            return super().record(value)
        index = math.floor(math.log(value) / math.log(self.gamma))
        self.counts[index] = self.counts.get(index, 0) + 1
        self.count += 1


class ReportsTheUpperBound(_Solution):
    """Answers gamma**i, the bucket's top: up to twice the promised error."""

    def percentile(self, p):
        estimate = super().percentile(p)
        return estimate * (self.gamma + 1) / 2 if estimate else estimate


class ReportsTheLowerBound(_Solution):
    def percentile(self, p):
        estimate = super().percentile(p)
        return estimate * (self.gamma + 1) / 2 / self.gamma if estimate else estimate


class LinearBuckets(_Solution):
    """Buckets 1 ms wide: fine for 100 ms, useless for 50 µs, and wasteful for 10 s."""

    def record(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"bad value {value!r}")
        index = int(value / 0.001)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.count += 1

    def percentile(self, p):
        if not 0 <= p <= 100 or self.count == 0:
            raise ValueError(f"bad percentile {p!r}")
        rank, seen = max(1, math.ceil(p / 100 * self.count)), 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return (index + 0.5) * 0.001


class AveragesTheServersPercentiles(_Solution):
    """merge keeps the parts, and a percentile is the average of theirs: what a dashboard of gauges shows."""

    def merge(self, other):
        if other.accuracy != self.accuracy:
            raise ValueError("accuracy")
        merged = type(self)(self.accuracy)
        merged.parts = [*getattr(self, "parts", [self]), *getattr(other, "parts", [other])]
        merged.count = self.count + other.count
        return merged

    def percentile(self, p):
        parts = getattr(self, "parts", None)
        if not parts:
            return super().percentile(p)
        return sum(part.percentile(p) for part in parts) / len(parts)


class MergeTakesTheLargerCount(_Solution):
    """Merges buckets like sets: the larger of the two counts, not their sum."""

    def merge(self, other):
        merged = super().merge(other)
        for index in merged.counts:
            merged.counts[index] = max(self.counts.get(index, 0), other.counts.get(index, 0))
        merged.count = sum(merged.counts.values()) + merged.zeros
        return merged


class MergeIntoSelf(_Solution):
    """Adds the other's counts into this histogram and returns it: the server's own numbers change."""

    def merge(self, other):
        if other.accuracy != self.accuracy:
            raise ValueError("accuracy")
        for index, n in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + n
        self.zeros += other.zeros
        self.count += other.count
        return self


class MergeForgetsZeros(_Solution):
    def merge(self, other):
        merged = super().merge(other)
        merged.count -= merged.zeros
        merged.zeros = 0
        return merged


class RankRoundsDown(_Solution):
    """k = floor(p / 100 * n): one value too early."""

    def percentile(self, p):
        if self.count and 0 <= p <= 100:
            saved = self.count
            try:
                self.count = saved  # same data; only the rank differs
                rank = max(1, math.floor(p / 100 * self.count))
                return self._at_rank(rank)
            finally:
                self.count = saved
        return super().percentile(p)

    def _at_rank(self, rank):
        seen = self.zeros
        if rank <= seen:
            return 0.0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return 2 * self.gamma**index / (self.gamma + 1)


class PassesTheRank(RankRoundsDown):
    """Stops at the first bucket whose running total passes the rank (> instead of >=): one bucket too far."""

    def _at_rank(self, rank):
        seen = self.zeros
        if rank < seen:
            return 0.0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen > rank:
                return 2 * self.gamma**index / (self.gamma + 1)
        return 2 * self.gamma ** max(self.counts) / (self.gamma + 1)

    def percentile(self, p):
        if self.count and 0 <= p <= 100:
            return self._at_rank(max(1, math.ceil(p / 100 * self.count)))
        return super().percentile(p)


class ZerosAreIgnored(_Solution):
    """record(0) returns without counting: a tier answering from cache in 0 s looks slower than it is."""

    def record(self, value):
        if value == 0:
            return None
        return super().record(value)


class ZerosInATinyBucket(_Solution):
    """Counts 0 as 1 ns: percentiles that should be 0 are not."""

    def record(self, value):
        return super().record(1e-9 if value == 0 else value)


class KeepsEveryValue(_Solution):
    """Exact, by keeping every value: memory grows with every request."""

    def record(self, value):
        super().record(value)
        self.__dict__.setdefault("values", []).append(value)


class EmptyIsZero(_Solution):
    def percentile(self, p):
        if self.count == 0:
            return 0.0
        return super().percentile(p)


class AcceptsAnything(_Solution):
    """No checks on what it records: a negative latency (a clock that went back) is counted."""

    def record(self, value):
        if isinstance(value, (int, float)) and value < 0:
            self.count += 1
            return None
        return super().record(value)


MUTANTS = {
    cls.__name__: cls
    for cls in (
        FloorBuckets,
        ReportsTheUpperBound,
        ReportsTheLowerBound,
        LinearBuckets,
        AveragesTheServersPercentiles,
        MergeTakesTheLargerCount,
        MergeIntoSelf,
        MergeForgetsZeros,
        RankRoundsDown,
        PassesTheRank,
        ZerosAreIgnored,
        ZerosInATinyBucket,
        KeepsEveryValue,
        EmptyIsZero,
        AcceptsAnything,
    )
}
