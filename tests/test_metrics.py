import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicluster.errors import ConfigError
from minicluster.metrics import Counter, Histogram, Metrics, TimeSeries, merge_histograms
from minicluster.web import Request


def exact_percentile(values, p):
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=1e-6, max_value=1e4, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0]),
)
def test_percentiles_are_within_the_relative_accuracy(values, p):
    h = Histogram(0.01)
    for v in values:
        h.record(v)
    exact = exact_percentile(values, p)
    assert h.percentile(p) == pytest.approx(exact, rel=0.0101)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e3), min_size=1, max_size=100),
    st.lists(st.floats(min_value=0, max_value=1e3), min_size=1, max_size=100),
)
def test_merging_histograms_equals_recording_everything_in_one(a, b):
    ha, hb, both = Histogram(), Histogram(), Histogram()
    for v in a:
        ha.record(v)
        both.record(v)
    for v in b:
        hb.record(v)
        both.record(v)
    merged = ha.merge(hb)
    assert merged.count == both.count == len(a) + len(b)
    assert merged.percentiles() == both.percentiles()
    assert merged.max == both.max and merged.min == both.min
    assert ha.count == len(a), "merge must not change its inputs"


def test_percentile_of_two_servers_is_not_the_mean_of_their_percentiles():
    fast, slow = Histogram(), Histogram()
    for _ in range(99):
        fast.record(0.001)
    fast.record(0.5)
    for _ in range(100):
        slow.record(0.1)
    tier = merge_histograms([fast, slow])
    assert tier.percentile(99) == pytest.approx(0.1, rel=0.01)
    assert (fast.percentile(99) + slow.percentile(99)) / 2 == pytest.approx(0.0505, rel=0.02)


def test_empty_histogram_and_bad_values():
    h = Histogram()
    assert math.isnan(h.percentile(50)) and math.isnan(h.mean)
    with pytest.raises(ValueError, match="-1"):
        h.record(-1)
    with pytest.raises(ValueError, match="nan"):
        h.record(float("nan"))
    with pytest.raises(ValueError, match="101"):
        h.percentile(101)
    with pytest.raises(ConfigError, match="accuracy"):
        Histogram(1.5)


def test_zeros_are_counted():
    h = Histogram()
    for v in (0, 0, 0, 1.0):
        h.record(v)
    assert h.percentile(50) == 0.0
    assert h.percentile(100) == pytest.approx(1.0, rel=0.01)


def test_counter_is_exact_under_concurrent_increments():
    c = Counter()
    h = Histogram()
    start = threading.Barrier(8)

    def bump():
        start.wait()
        for _ in range(5000):
            c.inc()
            h.record(0.001)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.value == 40_000
    assert h.count == 40_000
    with pytest.raises(ValueError):
        c.inc(-1)


def test_time_series_buckets():
    s = TimeSeries()
    for t in (0.01, 0.02, 0.15, 0.31):
        s.add(t, 2.0)
    starts, sums = s.bucketed(0.1, 0.0, 0.4)
    assert starts == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert sums == [4.0, 2.0, 0.0, 2.0]
    _, counts = s.bucketed(0.1, 0.0, 0.4, how="count")
    assert counts == [2.0, 1.0, 0.0, 1.0]
    _, means = s.bucketed(0.1, 0.0, 0.4, how="mean")
    assert means[0] == 2.0 and math.isnan(means[2])
    with pytest.raises(ValueError, match="how"):
        s.bucketed(0.1, 0.0, 0.4, how="median")


def test_a_series_with_keep_holds_the_latest_points_and_counts_the_ones_let_go():
    s = TimeSeries(keep=3)
    for t in range(5):
        s.add(float(t), 10.0 * t)
    assert s.points == [(2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]
    assert (len(s), s.dropped, s.keep) == (3, 2, 3)
    _, counts = s.bucketed(1.0, 0.0, 5.0, how="count")
    assert counts == [0.0, 0.0, 1.0, 1.0, 1.0]
    unbounded = TimeSeries()
    for t in range(5):
        unbounded.add(float(t))
    assert (len(unbounded), unbounded.dropped, unbounded.keep) == (5, 0, None)


@pytest.mark.parametrize("keep", [0, -1, 2.5, True, "10"])
def test_a_series_refuses_a_keep_that_is_not_a_positive_integer(keep):
    with pytest.raises(ConfigError, match=f"keep must be an integer > 0, got {keep!r}"):
        TimeSeries(keep=keep)


def test_a_series_asked_again_with_another_keep_is_refused():
    m = Metrics()
    first = m.series("completions", keep=5)
    assert m.series("completions") is first and m.series("completions", keep=5) is first
    with pytest.raises(ConfigError, match="'completions' exists with keep=5, asked with 6"):
        m.series("completions", keep=6)


def test_metrics_sharing_a_lock_are_exact_when_updated_together_under_it():
    """A server's per-request metrics share one lock: the updater takes it once and calls the ``_held``
    methods inside; readers and the metrics' own methods take the same lock, so no update is lost."""
    m, lock = Metrics(), threading.Lock()
    count, latency, done = m.counter("requests", lock=lock), m.histogram("latency", lock=lock), m.series("t", lock=lock)
    inside = m.occupancy("inside", lock=lock)
    assert count.lock is latency.lock is done.lock is inside.lock is lock
    start = threading.Barrier(8)

    def serve(i):
        start.wait()
        for n in range(2_000):
            if i % 2:  # half the threads one lock for all, half each metric's own method
                with lock:
                    count.inc_held()
                    latency.record_held(0.001 * (n % 10))
                    done.add_held(n)
                    inside.change_held(n, +1)
            else:
                count.inc()
                latency.record(0.001 * (n % 10))
                done.add(n)
                inside.change(n, +1)

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (count.value, latency.count, len(done), inside.value) == (16_000, 16_000, 16_000, 16_000)
    alone = Histogram()
    for n in range(2_000):
        alone.record(0.001 * (n % 10))
    assert latency.percentiles() == alone.percentiles() and latency.mean == pytest.approx(alone.mean)
    assert latency.min == 0.0 and latency.max == alone.max


def test_a_metric_asked_again_with_another_lock_or_a_bad_one_is_refused():
    m, lock = Metrics(), threading.Lock()
    first = m.counter("hits", lock=lock)
    assert m.counter("hits") is first and m.counter("hits", lock=lock) is first
    with pytest.raises(ConfigError, match="'hits' exists with lock="):
        m.counter("hits", lock=threading.Lock())
    plain = m.histogram("latency")
    with pytest.raises(ConfigError, match="'latency' exists with lock="):
        m.histogram("latency", lock=lock)
    assert plain.lock is not lock
    with pytest.raises(ConfigError, match="a metric's lock must be a threading.Lock, got 'mine'"):
        Counter(lock="mine")
    with pytest.raises(ConfigError, match="got 3"):
        m.series("t", lock=3)


def test_metrics_registry_creates_once_and_rejects_kind_clash():
    m = Metrics()
    m.counter("requests").inc(3)
    assert m.counter("requests").value == 3
    m.histogram("latency").record(0.25)
    with pytest.raises(TypeError, match="requests"):
        m.histogram("requests")
    snap = m.snapshot()
    assert snap["requests"] == 3
    assert snap["latency"]["count"] == 1


def test_reading_an_unknown_metric_names_the_ones_there_are():

    m = Metrics()
    m.counter("requests").inc(3)
    assert m["requests"].value == 3
    with pytest.raises(KeyError, match="no metric 'reqeusts' on this node \\(metrics: requests\\)"):
        _ = m["reqeusts"]


def test_percentiles_per_bucket_are_exact():

    s = TimeSeries()
    for i in range(1, 101):
        s.add(0.05, i / 1000)  # first bucket: 1..100 ms
    s.add(0.15, 0.5)  # second bucket: one slow request
    starts, p99 = s.bucketed(0.1, 0.0, 0.3, how="p99")
    assert starts == [0.0, 0.1, pytest.approx(0.2)]
    assert p99[:2] == [0.099, 0.5] and math.isnan(p99[2])
    with pytest.raises(ValueError, match="'p200'"):
        s.bucketed(0.1, 0.0, 0.3, how="p200")


def test_occupancy_is_the_exact_time_average_between_two_readings():
    from minicluster.metrics import Occupancy

    inside = Occupancy()
    inside.change(0.0, +1)  # one request from 0 s
    first = inside.reading(1.0)
    inside.change(2.0, +2)  # three from 2 s
    inside.change(3.0, -3)  # none from 3 s
    second = inside.reading(5.0)
    # 1 s at 1 (1-2 s), 1 s at 3 (2-3 s), 2 s at 0: 4 request-seconds over 4 s
    assert Occupancy.mean_between(first, second) == 1.0
    assert inside.value == 0
    assert Occupancy.mean_between(second, second) != Occupancy.mean_between(second, second)  # nan: no time


def test_a_web_server_counts_its_requests_in_and_out(echo_router):
    from minicluster import Cluster

    with Cluster(latency=0.0) as c:
        web = c.add_web_server("web", echo_router, workers=2)
        c.expose("a.b", web)
        client = c.client()
        for _ in range(5):
            assert client.get("http://a.b/echo/x").status == 200
        assert web.metrics.occupancy("in_server").value == 0, "every request that came in went out"
        assert web.metrics.snapshot()["in_server"] == 0


def test_a_web_server_counts_every_request_of_many_threads_under_its_one_lock():
    from minicluster import Cluster, Response

    def handler(request, ctx):
        return Response(500 if request.path == "/fail" else 200, "")

    with Cluster(latency=0.0) as c:
        web = c.add_web_server("web", handler, workers=4)
        start = threading.Barrier(8)

        def send(i):
            start.wait()
            for n in range(300):
                web.handle(Request("GET", "/fail" if n % 3 == 0 else "/"))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        m = web.metrics
        assert [m["requests"].value, m["status_2xx"].value, m["status_5xx"].value, m["errors"].value] == [
            2_400, 1_600, 800, 800,
        ]  # fmt: skip
        assert (m["latency"].count, m["queue_wait"].count, len(m["completion_times"]), len(m["error_times"])) == (
            2_400, 2_400, 2_400, 800,
        )  # fmt: skip
        assert m["in_server"].value == 0 and len({m[name].lock for name in m.names()}) == 1


def test_since_gives_the_values_recorded_after_a_copy():
    h = Histogram(0.01)
    for v in (0.001, 0.002, 0.0):
        h.record(v)
    earlier = h.copy()
    for v in (0.5, 0.6, 0.7, 0.0):
        h.record(v)
    interval = h.since(earlier)
    assert interval.count == 4 and earlier.count == 3 and h.count == 7
    assert interval.percentile(50) == pytest.approx(0.5, rel=0.0101)  # not 0.002: the earlier values are gone
    assert abs(interval.percentile(75) - 0.6) <= 0.006 and interval.percentile(25) == 0.0
    assert abs(interval.mean - 1.8 / 4) < 1e-9


def test_since_refuses_a_histogram_that_is_not_an_earlier_copy():
    h, other = Histogram(0.01), Histogram(0.01)
    other.record(3.0)
    with pytest.raises(ValueError, match="not a copy taken before"):
        h.since(other)
    with pytest.raises(ValueError, match="accuracy"):
        h.since(Histogram(0.02))
