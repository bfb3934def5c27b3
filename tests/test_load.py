import collections
import random
import threading

import pytest

from minicluster.clock import ManualClock
from minicluster.errors import ConfigError
from minicluster.load import UniformKeys, ZipfKeys, closed_loop, derive_seed, open_loop
from minicluster.web import Response


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(42, "user", 1) == derive_seed(42, "user", 1)
    assert derive_seed(42, "user", 1) != derive_seed(42, "user", 2)
    # A golden value: seeds must not depend on the Python version or on hash() randomisation.
    assert derive_seed(42, "user", 1) == 14919413653826302106


def test_zipf_is_skewed_and_seeded():
    keys = ZipfKeys(1000, s=1.1)
    draws = [keys.sample(random.Random(3)) for _ in range(1)]
    rng = random.Random(3)
    sample = [keys.sample(rng) for _ in range(20_000)]
    assert sample[:1] == draws
    counts = collections.Counter(sample)
    assert counts[1] / len(sample) == pytest.approx(keys.probability(1), rel=0.1)
    top10 = sum(counts[k] for k in range(1, 11)) / len(sample)
    assert top10 > 0.3, "the 1% hottest keys draw a large share"
    assert min(sample) >= 1 and max(sample) <= 1000
    uniform = collections.Counter(UniformKeys(1000).sample(rng) for _ in range(20_000))
    assert uniform.most_common(1)[0][1] < 60


def test_each_user_sends_the_same_keys_on_every_run():
    def run():
        seen = collections.defaultdict(list)
        lock = threading.Lock()

        def target(key):
            with lock:
                seen[threading.current_thread().name].append(key)
            return Response(200)

        result = closed_loop(target, users=4, requests_per_user=25, keys=ZipfKeys(100), seed=9)
        return result, dict(seen)

    (r1, keys1), (r2, keys2) = run(), run()
    assert r1.completed == r2.completed == 100
    assert keys1 == keys2
    assert len(keys1) == 4


def test_errors_and_statuses_are_counted():
    calls = collections.Counter()
    lock = threading.Lock()

    def target(key):
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n % 4 == 0:
            raise ConnectionError("down")
        return Response(503 if n % 4 == 1 else 200)

    result = closed_loop(target, users=2, requests_per_user=20)
    assert result.completed == 40
    assert result.errors == 20
    assert result.error_kinds == {"ConnectionError": 10, "HTTP 503": 10}
    assert result.statuses[200] == 20
    assert result.error_rate == 0.5
    assert len(result.failures) == 20


def test_open_loop_sends_at_the_rate_with_even_spacing():
    sent = []
    lock = threading.Lock()

    def target(key):
        with lock:
            sent.append(key)
        return Response(200)

    result = open_loop(target, rate=200, duration=0.5, poisson=False, seed=1)
    assert result.completed == len(sent) == 100  # arrivals at 0, 5, 10, ... 495 ms
    assert result.errors == 0


def test_open_loop_backlog_is_an_error_not_a_thread_explosion():
    gate = threading.Event()

    class ReleasingClock(ManualClock):
        """Arrivals come instantly; the blocked requests are released near the end of the run."""

        def sleep(self, seconds):
            super().sleep(seconds)
            if self.now() >= 0.19:
                gate.set()

    def target(key):
        gate.wait(10)
        return Response(200)

    result = open_loop(target, rate=500, duration=0.2, poisson=False, max_in_flight=5, clock=ReleasingClock())
    assert result.completed == 100
    assert result.statuses[200] + result.error_kinds["ClientBacklog"] == 100
    assert result.error_kinds["ClientBacklog"] >= 90


def test_littles_law_holds_on_a_measured_run():
    import time

    def target(key):
        time.sleep(0.004)  # the latency being measured, not synchronisation
        return Response(200)

    result = closed_loop(target, users=4, requests_per_user=40, sample_every=0.002)
    measured, predicted = result.littles_law()
    assert len(result.in_flight_samples) > 10
    assert measured == pytest.approx(predicted, rel=0.15)
    assert measured == pytest.approx(4, rel=0.15)


def test_l_is_the_exact_time_average_of_requests_in_flight():
    """With a clock only the requests and the thinking move, L is known exactly: one user, each request
    taking 1 s and each think 3 s, has a request in flight a quarter of the time. Samples taken on the
    wall clock could not tell; the time integral of the count does."""
    clock = ManualClock()

    def one_second(key):
        clock.advance(1.0)
        return Response(200)

    result = closed_loop(one_second, users=1, requests_per_user=3, think_time=3.0, clock=clock)
    assert result.elapsed == 12.0
    assert result.mean_in_flight == 0.25
    assert result.littles_law() == (0.25, 0.25)  # L = λW: 3 requests / 12 s x 1 s


def test_bad_load_config_is_named():
    with pytest.raises(ConfigError, match="users must be an integer > 0, got 0"):
        closed_loop(lambda k: None, users=0, duration=1)
    with pytest.raises(ConfigError, match="exactly one of duration or requests_per_user"):
        closed_loop(lambda k: None, users=1)
    with pytest.raises(ConfigError, match="rate must be a number > 0, got -5"):
        open_loop(lambda k: None, rate=-5, duration=1)
    with pytest.raises(ConfigError, match="zipf exponent"):
        ZipfKeys(10, s=0)


def test_manual_clock_think_time_is_not_slept():
    clock = ManualClock()
    result = closed_loop(lambda k: Response(200), users=1, requests_per_user=10, think_time=1.0, clock=clock)
    assert result.completed == 10
    assert clock.now() == pytest.approx(10.0)


def test_poisson_arrivals_are_seeded():
    class RecordingClock(ManualClock):
        """Notes the time of every arrival: the arrival loop sleeps until each one."""

        def __init__(self):
            super().__init__()
            self.arrivals = []

        def sleep(self, seconds):
            super().sleep(seconds)
            self.arrivals.append(self.now())

    def arrivals(seed):
        clock = RecordingClock()
        result = open_loop(lambda k: Response(200), rate=100, duration=1.0, seed=seed, clock=clock)
        assert result.completed == len(clock.arrivals)
        return clock.arrivals

    first = arrivals(3)
    assert first == arrivals(3) != arrivals(4)
    gaps = [b - a for a, b in zip(first, first[1:])]
    assert 60 < len(first) < 140
    assert min(gaps) < 0.002 < 0.03 < max(gaps), "exponential gaps: many short, a few long"


def test_together_holds_every_first_request_until_all_users_have_started():
    # When the very first request arrives, count the user threads alive: with together=True all 16 are
    # (no user can finish before it sent a request); without it, the first users send before the last
    # threads exist.
    firsts: list[int] = []
    seen: set[str] = set()
    lock = threading.Lock()

    def target(key):
        me = threading.current_thread().name
        with lock:
            if me not in seen:
                seen.add(me)
                firsts.append(sum(t.name.startswith("user-") for t in threading.enumerate()))

    result = closed_loop(target, users=16, requests_per_user=3, together=True)
    assert result.completed == 48 and result.errors == 0
    assert len(firsts) == 16 and firsts[0] == 16
