import pytest

from minicluster import Cluster, ManualClock
from minicluster.errors import ConfigError
from minicluster.experiment import Run, knee, sweep, under_faults
from minicluster.faults import Crash
from minicluster.load import LoadResult


def _load(label, started_at=0.0):
    result = LoadResult(label, 1.0, started_at=started_at)
    result.latency.record(0.01)
    result.completed = 10
    return result


def test_a_run_prints_its_rows_as_a_table_and_names_its_figures():
    run = Run("t", [{"policy": "round robin", "p99_ms": 704.62, "share %": 0.26, "errors": 0}], figures={"x": 1})
    header, row = run.table().splitlines()
    assert header.split() == ["policy", "p99", "ms", "share", "%", "errors"]
    assert row.split() == ["round", "robin", "704.6", "26.0%", "0"]
    assert run["x"] == 1
    with pytest.raises(KeyError, match="no figure 'y'.*figures: x"):
        run["y"]


def test_a_run_with_several_loads_asks_which_one():
    run = Run("t", loads={"a": _load("a"), "b": _load("b")})
    with pytest.raises(ConfigError, match="2 load results"):
        _ = run.load
    assert Run("t", loads={"a": _load("a")}).load.label == "a"


def test_sweep_figures_come_from_the_loads():
    loads = [_load(str(n)) for n in (1, 2, 4)]
    for result, done in zip(loads, (10, 30, 31)):
        result.completed = done
    run = sweep("s", "users", [1, 2, 4], loads, ceiling=40)
    assert run["best"] == 31 and run["knee"] == 2 and run["ceiling"] == 40
    assert list(run.rows[0]) == ["users", "throughput", "p50_ms", "p99_ms", "L", "lambda_W", "errors"]
    assert knee([1, 2, 4], [10, 30, 31], fraction=0.99) == 4


def test_under_faults_collects_the_events_of_the_run():
    clock = ManualClock()
    with Cluster(clock=clock) as cluster:
        web = cluster.add_web_server("web", lambda request, ctx: None)

        def drive():
            started = clock.now()
            clock.advance(3.0)
            return LoadResult("manual", 3.0, started_at=started)

        result, events = under_faults(cluster, drive, [(1.0, 1.0, Crash(web))])
    assert result.label == "manual"
    assert [(e.at, e.action) for e in events] == [(1.0, "crash"), (2.0, "recover")]


def test_a_guess_is_shown_beside_the_measurement_with_the_gap():
    from minicluster.errors import ConfigError
    from minicluster.experiment import guess_vs_measured

    assert guess_vs_measured("knee", None, 16, unit=" users") == (
        "knee: measured 16 users. Write your guess in the cell above first, then run both again."
    )
    assert guess_vs_measured("knee", 8, 16, unit=" users", lesson="Queues.") == (
        "knee: you guessed 8 users, measured 16 users (2.0x too low). Queues."
    )
    assert "(within 20%)" in guess_vs_measured("p99", 700, 731.4, unit=" ms")
    assert "(3.0x too high)" in guess_vs_measured("moved", 90, 30, unit="%")
    with pytest.raises(ConfigError, match="a guess is a number, got 'ten'"):
        guess_vs_measured("knee", "ten", 16)
