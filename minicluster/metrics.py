"""Metrics: counters, latency histograms with percentiles, and time series.

A histogram here works like a ruler with marks that get further apart as the values grow
(logarithmic buckets, as in DDSketch): every recorded latency lands in the bucket whose bounds are
within ``accuracy`` (1% by default) of it, so any percentile read back is within 1% of the true
value, memory stays small whatever the number of samples, and histograms from many servers merge by
adding bucket counts. That last property is why dashboards aggregate histograms, never percentiles:
the p99 of two servers is *not* the mean of their p99s.

All classes are safe to update from many threads at once. Metrics updated together on every request can
share one lock (``lock=`` when they are created): the updater then takes it once for all of them and calls
their ``..._held`` methods inside (a web server records nine metrics a request, and a lock taken nine times
was ~5% of a cache hit's path through the cluster).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from math import ceil as _ceil
from math import log as _log

from .errors import ConfigError, check_positive

#: The percentiles every latency report shows.
STANDARD_PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class _Locked:
    """A metric whose updates take :attr:`lock`: its own, or one shared with others (``lock=``)."""

    def __init__(self, lock: threading.Lock | None = None) -> None:
        if lock is not None and not all(hasattr(lock, a) for a in ("acquire", "release", "__enter__")):
            raise ConfigError(f"a metric's lock must be a threading.Lock, got {lock!r}")
        self._lock = threading.Lock() if lock is None else lock

    @property
    def lock(self) -> threading.Lock:
        """The lock its updates take (shared with other metrics when it was created with one)."""
        return self._lock


class Counter(_Locked):
    """A number that only goes up."""

    def __init__(self, lock: threading.Lock | None = None) -> None:
        super().__init__(lock)
        self._value = 0

    def inc(self, amount: int | float = 1) -> None:
        if amount < 0:
            raise ValueError(f"a counter only goes up: inc({amount!r})")
        with self._lock:
            self._value += amount

    def inc_held(self) -> None:
        """``inc()`` by one, for a caller already holding :attr:`lock`."""
        self._value += 1

    @property
    def value(self) -> int | float:
        return self._value


class Gauge:
    """A number that goes up and down (in-flight requests, open connections)."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def add(self, amount: int | float) -> None:
        with self._lock:
            self._value += amount

    @property
    def value(self) -> int | float:
        return self._value


class Histogram(_Locked):
    """A mergeable latency histogram with relative accuracy ``accuracy``.

    Use it for anything with a long tail (latency, sizes). Do not use it when you need the exact
    sample back: it keeps counts per bucket, not the values.
    """

    def __init__(self, accuracy: float = 0.01, lock: threading.Lock | None = None) -> None:
        if not (isinstance(accuracy, float) and 0 < accuracy < 1):
            raise ConfigError(f"histogram accuracy must be a float between 0 and 1, got {accuracy!r}")
        super().__init__(lock)
        self.accuracy = accuracy
        self._gamma = (1 + accuracy) / (1 - accuracy)
        self._log_gamma = math.log(self._gamma)
        self._buckets: dict[int, int] = {}  # a plain dict: a collections.Counter's += costs twice its get
        self._zeros = 0
        self._count = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    def record(self, value: float) -> None:
        if not value >= 0:  # also rejects NaN
            raise ValueError(f"a histogram records values >= 0, got {value!r}")
        with self._lock:
            self.record_held(value)

    def record_held(self, value: float) -> None:
        """``record(value)`` for a caller already holding :attr:`lock` (``value`` >= 0: not checked here)."""
        if value:
            buckets, index = self._buckets, _ceil(_log(value) / self._log_gamma)
            buckets[index] = buckets.get(index, 0) + 1
        else:
            self._zeros += 1
        self._count += 1
        self._sum += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    @property
    def count(self) -> int:
        return self._count

    @property
    def mean(self) -> float:
        return self._sum / self._count if self._count else math.nan

    @property
    def min(self) -> float:
        return self._min if self._count else math.nan

    @property
    def max(self) -> float:
        return self._max if self._count else math.nan

    def percentile(self, p: float) -> float:
        """The value below which ``p`` percent of the recorded values lie (nearest rank)."""
        if not 0 <= p <= 100:
            raise ValueError(f"a percentile is between 0 and 100, got {p!r}")
        with self._lock:
            if self._count == 0:
                return math.nan
            rank = max(1, math.ceil(p / 100 * self._count))
            if rank <= self._zeros:
                return 0.0
            seen = self._zeros
            for index in sorted(self._buckets):
                seen += self._buckets[index]
                if seen >= rank:
                    estimate = 2 * self._gamma**index / (self._gamma + 1)
                    return min(max(estimate, self._min), self._max)
        raise AssertionError("unreachable: bucket counts add up to count")

    def percentiles(self, ps: Iterable[float] = STANDARD_PERCENTILES) -> dict[str, float]:
        """``{"p50": ..., "p90": ..., "p99": ..., "p99.9": ...}``."""
        return {f"p{p:g}": self.percentile(p) for p in ps}

    def merge(self, other: Histogram) -> Histogram:
        """A new histogram holding the values of both."""
        if other.accuracy != self.accuracy:
            raise ValueError(f"cannot merge histograms of accuracy {self.accuracy} and {other.accuracy}")
        merged = Histogram(self.accuracy)
        for part in (self, other):
            with part._lock:
                for index, count in part._buckets.items():
                    merged._buckets[index] = merged._buckets.get(index, 0) + count
                merged._zeros += part._zeros
                merged._count += part._count
                merged._sum += part._sum
                merged._min = min(merged._min, part._min)
                merged._max = max(merged._max, part._max)
        return merged

    def copy(self) -> Histogram:
        """A copy of the histogram as it is now (to subtract later with :meth:`since`)."""
        return self.merge(Histogram(self.accuracy))

    def since(self, earlier: Histogram) -> Histogram:
        """The values recorded after ``earlier`` (a :meth:`copy` of this histogram taken before): what a
        dashboard shows for the last interval. Its min and max are the whole histogram's (an interval's
        own are not kept), so its percentiles are clamped to those."""
        if earlier.accuracy != self.accuracy:
            raise ValueError(f"cannot subtract a histogram of accuracy {earlier.accuracy} from one of {self.accuracy}")
        newer = self.copy()
        for index, count in earlier._buckets.items():
            newer._buckets[index] = newer._buckets.get(index, 0) - count
        if any(n < 0 for n in newer._buckets.values()) or earlier._count > newer._count:
            raise ValueError("since(earlier): earlier holds values this histogram does not: not a copy taken before")
        newer._buckets = {index: count for index, count in newer._buckets.items() if count}  # drop emptied ones
        newer._zeros -= earlier._zeros
        newer._count -= earlier._count
        newer._sum -= earlier._sum
        return newer

    def summary(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, **self.percentiles(), "max": self.max}


class TimeSeries(_Locked):
    """Points ``(t, value)`` in arrival order, and their resampling into fixed-width buckets.

    ``keep``: only the latest ``keep`` points are kept, the oldest let go as new ones come (``dropped``
    counts them); ``None`` keeps every point. A series written on every request of a long-lived server
    needs a bound, or it grows by ~90 bytes a request for as long as the server runs.
    """

    def __init__(self, keep: int | None = None, lock: threading.Lock | None = None) -> None:
        if keep is not None:
            check_positive("a series' keep", keep, integer=True)
        super().__init__(lock)
        self.keep = keep
        self._points: deque[tuple[float, float]] = deque(maxlen=keep)
        self._added = 0

    def add(self, t: float, value: float = 1.0) -> None:
        with self._lock:
            self._points.append((t, value))
            self._added += 1

    def add_held(self, t: float, value: float = 1.0) -> None:
        """``add(t, value)`` for a caller already holding :attr:`lock`."""
        self._points.append((t, value))
        self._added += 1

    @property
    def points(self) -> list[tuple[float, float]]:
        with self._lock:
            return sorted(self._points)

    @property
    def dropped(self) -> int:
        """How many points were let go to stay within ``keep`` (0 for a series that keeps them all)."""
        with self._lock:
            return self._added - len(self._points)

    def __len__(self) -> int:
        return len(self._points)

    def bucketed(self, width: float, start: float, end: float, how: str = "sum") -> tuple[list[float], list[float]]:
        """Bucket starts and one value per bucket over ``[start, end)``.

        ``how`` is ``"sum"`` (empty buckets are 0), ``"count"`` (points per bucket), ``"mean"`` or a
        percentile such as ``"p99"`` (exact, of the values in the bucket; empty buckets are NaN, so a
        plot shows a gap instead of a false zero).
        """
        if width <= 0 or end <= start:
            raise ValueError(f"need width > 0 and end > start, got width={width!r}, [{start!r}, {end!r})")
        percentile = _percentile_of(how)
        if how not in ("sum", "count", "mean") and percentile is None:
            raise ValueError(f"how must be 'sum', 'count', 'mean' or a percentile like 'p99', got {how!r}")
        n = math.ceil((end - start) / width)
        buckets: list[list[float]] = [[] for _ in range(n)]
        for t, v in self.points:
            i = math.floor((t - start) / width)
            if 0 <= i < n:
                buckets[i].append(v)
        if how == "sum":
            values = [float(sum(b)) for b in buckets]
        elif how == "count":
            values = [float(len(b)) for b in buckets]
        elif how == "mean":
            values = [sum(b) / len(b) if b else math.nan for b in buckets]
        else:
            values = [_exact_percentile(sorted(b), percentile) if b else math.nan for b in buckets]
        return [start + i * width for i in range(n)], values


def _percentile_of(how: str) -> float | None:
    if isinstance(how, str) and how.startswith("p"):
        try:
            p = float(how[1:])
        except ValueError:
            return None
        return p if 0 <= p <= 100 else None
    return None


def _exact_percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile of sorted ``values``."""
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


class Occupancy(_Locked):
    """How many are inside (requests in a server, queued or in service), with the time integral of
    that count: the exact time-average between two readings is Little's L, no sampling involved."""

    def __init__(self, lock: threading.Lock | None = None) -> None:
        super().__init__(lock)
        self._count = 0
        self._area = 0.0  # count x seconds, up to _since
        self._since: float | None = None

    def _advance(self, now: float) -> None:
        if self._since is not None and now > self._since:
            self._area += self._count * (now - self._since)
        self._since = now if self._since is None else max(self._since, now)

    def change(self, now: float, amount: int) -> None:
        """``amount`` arrive (positive) or leave (negative) at clock reading ``now``."""
        with self._lock:
            self._advance(now)
            self._count += amount

    def change_held(self, now: float, amount: int) -> None:
        """``change(now, amount)`` for a caller already holding :attr:`lock`."""
        self._advance(now)
        self._count += amount

    @property
    def value(self) -> int:
        return self._count

    def reading(self, now: float) -> tuple[float, float]:
        """``(now, count-seconds so far)``; the L between two readings is the area's rise over the time's."""
        with self._lock:
            self._advance(now)
            return now, self._area

    @staticmethod
    def mean_between(first: tuple[float, float], second: tuple[float, float]) -> float:
        """The time-average count between two :meth:`reading` results."""
        (t0, a0), (t1, a1) = first, second
        return (a1 - a0) / (t1 - t0) if t1 > t0 else math.nan


class Metrics:
    """The named counters, gauges, histograms and series of one node.

    Components create a metric by asking for it (``metrics.counter("requests").inc()``); to *read* one,
    use ``metrics["requests"]``, which raises :class:`KeyError` naming the metrics there are, so a
    typo is not silently a zero. ``names()`` lists them and ``snapshot()`` reads them all.
    """

    def __init__(self) -> None:
        self._items: dict[str, Counter | Gauge | Histogram | TimeSeries | Occupancy] = {}
        self._lock = threading.Lock()

    def _get(self, name: str, kind: type, **options):
        with self._lock:
            item = self._items.get(name)
            if item is None:
                item = self._items[name] = kind(**options)
            elif not isinstance(item, kind):
                raise TypeError(f"metric {name!r} is a {type(item).__name__}, not a {kind.__name__}")
            else:
                for option, value in options.items():
                    if getattr(item, option) != value:
                        raise ConfigError(
                            f"metric {name!r} exists with {option}={getattr(item, option)!r}, asked with {value!r}"
                        )
            return item

    # ``lock``: the metric is created updating under that lock, shared with the others given it (see the module's
    # docstring); an existing metric asked for with another lock is refused (ConfigError), as is ``keep``.
    def counter(self, name: str, lock: threading.Lock | None = None) -> Counter:
        return self._get(name, Counter, **_given(lock=lock))

    def gauge(self, name: str) -> Gauge:
        return self._get(name, Gauge)

    def histogram(self, name: str, lock: threading.Lock | None = None) -> Histogram:
        return self._get(name, Histogram, **_given(lock=lock))

    def series(self, name: str, keep: int | None = None, lock: threading.Lock | None = None) -> TimeSeries:
        """The series ``name``, created keeping the latest ``keep`` points (``None``: all of them); an existing
        one is returned as it is, unless ``keep`` is given and differs (:class:`ConfigError`)."""
        return self._get(name, TimeSeries, **_given(keep=keep, lock=lock))

    def occupancy(self, name: str, lock: threading.Lock | None = None) -> Occupancy:
        return self._get(name, Occupancy, **_given(lock=lock))

    def __getitem__(self, name: str) -> Counter | Gauge | Histogram | TimeSeries | Occupancy:
        with self._lock:
            item = self._items.get(name)
        if item is None:
            known = ", ".join(self.names()) or "none yet"
            raise KeyError(f"no metric {name!r} on this node (metrics: {known})")
        return item

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._items)

    def snapshot(self) -> dict[str, object]:
        """Counter and gauge values, histogram summaries; series are left out (read them directly)."""
        out: dict[str, object] = {}
        for name in self.names():
            item = self._items[name]
            if isinstance(item, (Counter, Gauge, Occupancy)):
                out[name] = item.value
            elif isinstance(item, Histogram):
                out[name] = item.summary()
        return out


def _given(**options) -> dict:
    """The options a caller gave (not None): only those are checked against an existing metric."""
    return {name: value for name, value in options.items() if value is not None}


def merge_histograms(histograms: Iterable[Histogram]) -> Histogram:
    """One histogram for a whole tier, from the histograms of its nodes."""
    merged: Histogram | None = None
    for h in histograms:
        merged = (merged or Histogram(h.accuracy)).merge(h)
    return merged if merged is not None else Histogram()
