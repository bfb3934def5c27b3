"""Load generation: simulated users that send requests and measure what they get back.

Two shapes of load, as in every load-testing tool:

* **closed loop** (:func:`closed_loop`): ``users`` people, each sending a request, waiting for the
  answer, thinking, and sending the next. The load adapts to the system: when it slows down, users
  send less. This is how a fixed population of logged-in users behaves.
* **open loop** (:func:`open_loop`): requests arrive at a fixed ``rate`` whatever happens, like
  new visitors from the internet. When the system cannot keep up, the backlog grows without bound.

Keys (which user id to ask for) are drawn from :class:`UniformKeys` or :class:`ZipfKeys`. Each
simulated user owns a ``random.Random`` derived from the seed and its index, so the sequence of keys
each user sends is the same on every run, whatever the thread timing.

Workloads know nothing about faults: those come from :mod:`minicluster.faults`.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import itertools
import math
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .clock import Clock, RealClock
from .errors import ConfigError, check_positive
from .metrics import Histogram, TimeSeries

Target = Callable[[int], object]
"""What a workload calls: ``target(key)`` sends one request and returns the response (or raises)."""


def derive_seed(seed: int, *labels: object) -> int:
    """A seed for one component, stable across runs and Python versions (no ``hash()`` salt)."""
    text = ":".join(str(x) for x in (seed, *labels))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class UniformKeys:
    """Every key in ``1..n`` equally likely."""

    def __init__(self, n: int) -> None:
        check_positive("number of keys", n, integer=True)
        self.n = n

    def sample(self, rng: random.Random) -> int:
        return rng.randint(1, self.n)


class ZipfKeys:
    """Key ``k`` in ``1..n`` with probability proportional to ``1 / k**s``: a few keys are very hot.

    With ``s`` around 1, the top 1% of keys draws a large share of all requests, the shape of real
    traffic to users, posts and products. That is what makes caches work and hot shards hurt.
    """

    def __init__(self, n: int, s: float = 1.1) -> None:
        check_positive("number of keys", n, integer=True)
        check_positive("zipf exponent s", s)
        self.n, self.s = n, float(s)
        self._cdf = list(itertools.accumulate(1 / k**self.s for k in range(1, n + 1)))

    def sample(self, rng: random.Random) -> int:
        return bisect.bisect_left(self._cdf, rng.random() * self._cdf[-1]) + 1

    def probability(self, k: int) -> float:
        return (1 / k**self.s) / self._cdf[-1]


class ClientBacklog(RuntimeError):
    """An open-loop arrival that found every client slot busy, so it was never sent."""


def _error_kind(outcome: object) -> str | None:
    """``None`` for a success; otherwise a short name for what went wrong."""
    if isinstance(outcome, BaseException):
        return type(outcome).__name__
    status = getattr(outcome, "status", None)
    if isinstance(status, int) and status >= 500:
        return f"HTTP {status}"
    return None


@dataclass
class LoadResult:
    """What a load run measured. Times are seconds; ``t`` in the series is seconds since the start.

    - ``completed`` counts every request that came back, errors included; ``errors`` those that raised
      or answered with a status >= 500 (``error_kinds`` says which: an exception's name or "HTTP 503").
    - ``throughput`` counts successes only (requests/s); ``latency`` holds every request, failed ones too,
      in seconds (plots show milliseconds); ``latency.percentiles()`` gives p50/p90/p99/p99.9 at once.
    - ``started_at`` is the clock reading at the start: an event's ``at - started_at`` places it on the
      run's time axis (``Run.events_since_start()`` does it for a run).
    """

    label: str
    elapsed: float
    #: Clock reading when the run began (to line up fault events, which carry clock readings too).
    started_at: float = 0.0
    latency: Histogram = field(default_factory=Histogram)
    completed: int = 0
    errors: int = 0
    error_kinds: collections.Counter = field(default_factory=collections.Counter)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    completions: TimeSeries = field(default_factory=TimeSeries)
    failures: TimeSeries = field(default_factory=TimeSeries)
    #: ``(t, latency)`` of every response, to see latency move over time.
    latencies: TimeSeries = field(default_factory=TimeSeries)
    in_flight_samples: list[int] = field(default_factory=list)
    #: Requests in flight integrated over time (request-seconds): the exact L is this over ``elapsed``.
    in_flight_seconds: float = math.nan

    @property
    def throughput(self) -> float:
        """Successful responses per second (λ)."""
        return (self.completed - self.errors) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.completed if self.completed else 0.0

    @property
    def mean_latency(self) -> float:
        """Mean response time in seconds (W)."""
        return self.latency.mean

    @property
    def mean_in_flight(self) -> float:
        """Requests in the system on average over the run (L): how long each count lasted, added up and
        divided by the run's time (exact, unlike the samples, which a busy machine can bias)."""
        if self.elapsed > 0 and not math.isnan(self.in_flight_seconds):
            return self.in_flight_seconds / self.elapsed
        s = self.in_flight_samples
        return sum(s) / len(s) if s else math.nan

    def littles_law(self) -> tuple[float, float]:
        """``(L measured, λ·W)``: Little's law says they are equal in a steady state."""
        return self.mean_in_flight, (self.completed / self.elapsed) * self.mean_latency


class _Recorder:
    """Collects outcomes from many client threads and samples the number of requests in flight."""

    def __init__(self, label: str, clock: Clock, sample_every: float) -> None:
        self.clock = clock
        self.start = clock.now()
        self.result = LoadResult(label, 0.0, started_at=self.start)
        self.in_flight = 0
        self._in_flight_seconds, self._changed = 0.0, self.start
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._sample_every = sample_every
        self._sampler = threading.Thread(target=self._sample, name=f"{label}-sampler", daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._done.wait(self._sample_every):
            self.result.in_flight_samples.append(self.in_flight)

    def _count(self, now: float, change: int) -> None:
        """Under the lock: close the interval the old count lasted, then change it."""
        self._in_flight_seconds += self.in_flight * max(0.0, now - self._changed)
        self._changed = max(self._changed, now)
        self.in_flight += change

    def begin(self) -> float:
        with self._lock:
            now = self.clock.now()
            self._count(now, +1)
        return now

    def end(self, sent: float, outcome: object) -> None:
        now = self.clock.now()
        r = self.result
        kind = _error_kind(outcome)
        with self._lock:
            self._count(now, -1)
            r.completed += 1
            status = getattr(outcome, "status", None)
            if isinstance(status, int):
                r.statuses[status] += 1
            if kind is not None:
                r.errors += 1
                r.error_kinds[kind] += 1
        r.latency.record(max(0.0, now - sent))
        r.latencies.add(now - self.start, max(0.0, now - sent))
        r.completions.add(now - self.start)
        if kind is not None:
            r.failures.add(now - self.start)

    def finish(self) -> LoadResult:
        self._done.set()
        self._sampler.join()
        with self._lock:
            end = self.clock.now()
            self._count(end, 0)
            self.result.in_flight_seconds = self._in_flight_seconds
        self.result.elapsed = end - self.start
        return self.result


def _call(target: Target, key: int) -> object:
    try:
        return target(key)
    except Exception as exc:  # a failed request is data for the load test, not a crash of it
        return exc


def closed_loop(
    target: Target,
    *,
    users: int,
    duration: float | None = None,
    requests_per_user: int | None = None,
    think_time: float = 0.0,
    keys: UniformKeys | ZipfKeys | None = None,
    seed: int = 0,
    clock: Clock | None = None,
    sample_every: float = 0.005,
    together: bool = False,
) -> LoadResult:
    """``users`` threads, each sending a request, waiting for it, thinking ``think_time``, repeat.

    Stops after ``duration`` seconds or ``requests_per_user`` requests each (give exactly one). With
    ``together=True`` every user waits until all have started, so the first requests arrive at once
    (a flash crowd) instead of as fast as threads start.
    """
    check_positive("users", users, integer=True)
    check_positive("think_time", think_time, allow_zero=True)
    if (duration is None) == (requests_per_user is None):
        raise ConfigError(
            f"give exactly one of duration or requests_per_user, got duration={duration!r}, "
            f"requests_per_user={requests_per_user!r}"
        )
    if duration is not None:
        check_positive("duration", duration)
    else:
        check_positive("requests_per_user", requests_per_user, integer=True)
    clock = clock or RealClock()
    keys = keys or UniformKeys(1000)
    recorder = _Recorder(f"closed-loop {users} users", clock, sample_every)
    deadline = recorder.start + duration if duration is not None else math.inf

    start = threading.Barrier(users) if together else None

    def user(index: int) -> None:
        rng = random.Random(derive_seed(seed, "user", index))
        if start is not None:
            start.wait()
        sent_count = 0
        while clock.now() < deadline and (requests_per_user is None or sent_count < requests_per_user):
            key = keys.sample(rng)
            sent = recorder.begin()
            recorder.end(sent, _call(target, key))
            sent_count += 1
            if think_time:
                clock.sleep(think_time)

    threads = [threading.Thread(target=user, args=(i,), name=f"user-{i}", daemon=True) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return recorder.finish()


def open_loop(
    target: Target,
    *,
    rate: float,
    duration: float,
    keys: UniformKeys | ZipfKeys | None = None,
    poisson: bool = True,
    max_in_flight: int = 256,
    seed: int = 0,
    clock: Clock | None = None,
    sample_every: float = 0.005,
) -> LoadResult:
    """Requests arriving at ``rate`` per second for ``duration`` seconds, whatever the responses do.

    Arrivals are a Poisson process (exponential gaps) unless ``poisson=False`` (even spacing). At most
    ``max_in_flight`` requests wait for an answer at once; arrivals beyond that are counted as errors
    of kind ``ClientBacklog`` instead of piling up threads without bound.
    """
    check_positive("rate", rate)
    check_positive("duration", duration)
    check_positive("max_in_flight", max_in_flight, integer=True)
    clock = clock or RealClock()
    keys = keys or UniformKeys(1000)
    rng = random.Random(derive_seed(seed, "arrivals"))
    recorder = _Recorder(f"open-loop {rate:g}/s", clock, sample_every)
    slots = threading.BoundedSemaphore(max_in_flight)

    def one(key: int, sent: float) -> None:
        try:
            recorder.end(sent, _call(target, key))
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="arrival") as pool:
        end = recorder.start + duration
        next_at = recorder.start + (rng.expovariate(rate) if poisson else 0.0)
        for arrival in itertools.count(1):
            if next_at >= end:
                break
            clock.sleep(next_at - clock.now())
            key = keys.sample(rng)
            if not slots.acquire(blocking=False):
                recorder.end(recorder.begin(), ClientBacklog(f"more than {max_in_flight} requests in flight"))
            else:
                pool.submit(one, key, recorder.begin())
            next_at = next_at + rng.expovariate(rate) if poisson else recorder.start + arrival / rate
    return recorder.finish()
