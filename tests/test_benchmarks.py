"""The benchmark suite on a tiny scale: its measurements agree with the data and its reports are written.

No timing is asserted (machines here are noisy); what is asserted is that each measurement checks
its pages against the ground truth, computes its ratios from its own figures, and reports its goal.
"""

import dataclasses
import json
import os
import subprocess
import threading

import pytest

from benchmarks import __main__ as cli
from benchmarks import gil_handoffs, suite
from benchmarks.report import plot, print_result
from minicluster import Cluster, Response

TINY = dataclasses.replace(
    suite.QUICK,
    name="tiny",
    posts=3_000,
    shard_counts=(1, 8),
    depths=(0, 1, 100, 1_000),
    repeats=2,
    rows_read_posts=1_500,
    ingest_posts=3_000,
    single_inserts=20,
    requests=64,
    notebooks=(),
)


def test_in_a_row_calls_runs_in_a_row_and_returns_the_median_mean():
    calls = []
    assert suite.in_a_row(lambda: calls.append(1), 3, runs=4) >= 0
    assert len(calls) == 1 + 3 * 4  # a warm-up, then three runs of four


def test_turns_alternates_the_candidates_and_returns_medians():
    calls = []
    medians = suite.turns({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3)
    assert calls == ["a", "b"] * 4  # one warm-up each, then a, b in turns
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())


@pytest.fixture(scope="module")
def pages():
    bench = suite.PostsBench(TINY)
    try:
        yield bench.page_latency(), bench.keyset_vs_offset()
    finally:
        bench.close()


def test_page_latency_reports_a_ratio_per_shard_count_and_the_fanout(pages):
    results, _ = pages
    latency = results["page_latency"]
    assert [r["shards"] for r in latency["rows"]] == [1, 8]
    for row in latency["rows"]:
        for label in ("first", "deep"):
            assert row[f"{label}_ratio"] == pytest.approx(row[f"{label}_ms"] / row[f"{label}_unsharded_ms"], rel=0.05)
        for label in ("first", "deep"):
            # the floor is timed warm, and so is the page it is compared with: pages in a row
            assert row[f"{label}_over_floor"] == pytest.approx(
                row[f"{label}_in_a_row_ms"] / row[f"{label}_floor_ms"], rel=0.05
            )
            # the floor divides the in-database sum by the cores: never above that sum plus the merge
            assert 0 < row[f"{label}_floor_ms"] <= row[f"{label}_inside_sum_ms"] + 1
    at8 = latency["rows"][1]
    assert latency["goal"]["figure"] == pytest.approx(max(at8["first_over_floor"], at8["deep_over_floor"]))
    vs_one = max(at8["first_ratio"], at8["deep_ratio"])
    assert latency["goal"]["met"] == (latency["goal"]["figure"] <= 1.5 and vs_one <= 3)
    assert set(latency["side_by_side"]) == {"page query", "count(*)"}
    ways = latency["fetches_at_8"]
    splits = ("one after another", "a thread per shard", f"{os.cpu_count() or 1} threads")
    # each way three times: the solution's fetches, then DuckDB's cursors alone (same rows, checked in the run)
    assert set(ways) == {*splits, *(f"DuckDB alone: {split}" for split in splits)}
    assert all(way["ms"] > 0 and way["cpu_ms"] > 0 for way in ways.values())
    fanout = results["fanout"]["rows"]
    assert [r["injected_ms"] for r in fanout] == [0.0, 20.0]
    # 8 shards of 20 ms one after another take at least 160 ms: a bound, not a timing.
    assert fanout[1]["sequential_ms"] >= 160


def test_keyset_and_offset_are_measured_at_each_depth(pages):
    _, result = pages
    assert [(r["table"], r["depth"]) for r in result["rows"]] == [
        (table, depth) for table in ("as loaded", "1% deleted") for depth in (0, 1, 100, 1_000)
    ]
    # keyset pages are compared with the page just below the top (depth 1), which carries the predicate too
    assert result["rows"][1]["keyset_vs_top"] == result["rows"][5]["keyset_vs_top"] == 1.0
    deepest = result["rows"][-1]
    assert result["goal"]["figure"] == deepest["keyset_vs_top"]


def test_the_shards_are_back_to_no_latency_after_the_fanout():
    bench = suite.PostsBench(dataclasses.replace(TINY, posts=200))
    try:
        cluster, shards = bench.sharded(3)
        bench._fanout(shards, latency=0.001)
        assert all(s.node.query_time == 0.0 for s in shards)
        cluster.close()
    finally:
        bench.close()


def test_rows_read_includes_the_floor_and_judges_the_adaptive_fetch():
    result = suite.rows_read(TINY)
    floor = result["costs"]["one row per query (the floor)"]
    assert floor["rows"] == floor["queries"]
    hinted = result["costs"]["adaptive, the cursor carrying shares"]
    assert result["goal"]["figure"] == hinted["rows"][-1]
    assert result["goal"]["met"] == (
        hinted["rows"][-1] <= 40 and hinted["queries"][-1] <= result["costs"]["adaptive"]["queries"][-1]
    )
    # a page of 20 plus the look-ahead row, at the least (refills bounded by the cut-off may beat the floor
    # of fetches by count alone)
    for name in ("adaptive", "adaptive, the cursor carrying shares"):
        assert all(a >= suite.PAGE_SIZE + 1 for a in result["costs"][name]["rows"])


def test_ingest_counts_rows_into_all_eight_shards():
    result = suite.ingest(TINY)
    bulk, single = result["rows"]
    assert (bulk["rows"], single["rows"]) == (3_000, 20)
    assert result["bulk_over_single"] == pytest.approx(bulk["rows_per_s"] / single["rows_per_s"], rel=0.01)


def test_request_path_compares_both_paths_at_one_and_eight_threads():
    result = suite.request_path(TINY, repeats=1)
    assert [r["client_threads"] for r in result["rows"]] == [1, 8]
    for row in result["rows"]:
        assert row["ratio"] == pytest.approx(row["through_cluster_per_s"] / row["raw_redis_get_per_s"], abs=0.01)
    assert result["goal"]["figure"] == result["rows"][1]["ratio"]  # judged at 8 client threads
    assert result["goal"]["met"] == (result["rows"][1]["ratio"] >= 0.6)
    assert "ways" not in result["rows"][0]
    ways, at8 = result["rows"][1]["ways"], result["rows"][1]
    assert list(ways) == list(suite.REQUEST_WAYS)  # each part of the way, at 8 client threads
    assert ways["cluster"]["per_s"] == at8["through_cluster_per_s"]
    for way in ways.values():
        assert way["per_s"] > 0 and way["what"]
        assert way["of_raw"] == pytest.approx(way["per_s"] / at8["raw_redis_get_per_s"], abs=0.01)


def test_a_bare_hand_off_returns_what_the_worker_got_and_raises_what_it_raised():
    def make_get():
        answers = iter(["hello", RuntimeError("the cache is gone")])

        def get():
            answer = next(answers)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return get

    with suite._hand_off(make_get, workers=1) as make_call:
        call = make_call()
        assert call() == "hello"
        with pytest.raises(RuntimeError, match="the cache is gone"):
            call()
    assert not [t for t in threading.enumerate() if t.name.startswith("hand-off-")]  # its workers ended


def test_without_bookkeeping_the_metrics_stand_still_and_come_back_after():
    from minicluster import metrics

    counter, histogram = metrics.Counter(), metrics.Histogram()
    with Cluster(seed=1, latency=0.0) as cluster:
        cache = cluster.add_cache("cache")
        web = cluster.add_web_server("web", lambda req, ctx: Response(200, ctx.cache.get("k") or "none"), cache=cache)
        cluster.expose("app.example", cluster.add_load_balancer("lb", [web], health_check=False))
        client = cluster.client()

        def run():
            counter.inc()
            histogram.record(0.5)
            assert client.get("http://app.example/").body == "none"

        def counted():  # what the whole path records, on every node it goes through (one lock each, shared)
            return [
                (counter.value, histogram.count),
                [cluster.nodes[n].metrics[m].value for n, m in (("lb", "requests"), ("web", "requests"),
                                                                  ("web", "status_2xx"), ("cache", "misses"))],
                (web.metrics["latency"].count, len(web.metrics["completion_times"])),
            ]  # fmt: skip

        suite._without_bookkeeping(run)
        assert counted() == [(0, 0), [0, 0, 0, 0], (0, 0)]
        assert web.metrics["in_server"].value == 0, "out of the server as it came in"
        run()
        assert counted() == [(1, 1), [1, 1, 1, 1], (1, 1)]


def test_a_failing_request_fails_the_measurement():
    def broken():
        return lambda: None  # a cache miss

    with pytest.raises(AssertionError, match="came back as None"):
        suite._rate(broken, 2, 4)


def test_cli_writes_json_and_plots(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(suite, "QUICK", TINY)
    assert cli.main(["--quick", "--only", "rows_read", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["mode"] == "tiny" and set(report["results"]) == {"rows_read"}
    assert (tmp_path / "rows_read.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "adaptive" in out and "goals met: " in out


def test_report_prints_every_row_and_plots_what_it_has(tmp_path, capsys):
    result = {
        "title": "t",
        "rows": [{"depth": 0, "keyset_ms": 1.5, "offset_ms": 1.4}, {"depth": 1000, "keyset_ms": 1.6, "offset_ms": 9.0}],
        "goal": {"text": "g", "figure": 1.07, "met": True},
    }
    print_result("keyset_vs_offset", result)
    out = capsys.readouterr().out
    assert "1,000" in out and "9.00" in out and "met (1.07)" in out
    assert plot({"keyset_vs_offset": result}, tmp_path) == ["keyset_vs_offset.png"]


def test_the_readme_table_is_the_committed_full_run():
    from pathlib import Path

    from benchmarks.report import END, START, markdown

    root = Path(__file__).resolve().parent.parent
    report = json.loads((root / "benchmarks" / "results" / "full" / "results.json").read_text())
    # The first seven measurements at least (the suite runs inside a full run, against the record it is
    # about to replace: an item added since must not fail it), and 8-10 all or none (real servers).
    first_seven = {"page_latency", "fanout", "keyset_vs_offset", "rows_read", "ingest", "request_path", "workbook"}
    on_servers = {"page_latency_postgres", "keyset_vs_offset_postgres", "request_path_redis"}
    assert report["mode"] == "full" and set(report["results"]) >= first_seven
    assert len(set(report["results"]) & on_servers) in (0, len(on_servers))
    readme = (root / "README.md").read_text(encoding="utf-8")
    table = readme.split(START)[1].split(END)[0]
    assert table == "\n" + markdown(report), "regenerate the README's table: python -m benchmarks.report"


def test_update_readme_replaces_only_the_table(tmp_path):
    from benchmarks.report import END, START, update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold table\n{END}\noutro\n")
    report = {
        "mode": "full",
        "when": "2026-11-26T00:00:00+00:00",
        "seconds": 1.0,
        "machine": {"cpus": 2, "python": "3.11", "duckdb": "2.0"},
        "results": {"ingest": suite_ingest_result()},
    }
    update_readme(readme, report)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{END}\noutro\n") and "old table" not in text
    assert "| 5 | ingest into 8 shard files | bulk 150,000 rows/s vs single-row 500 rows/s (300x) |" in text
    plain = tmp_path / "plain.md"
    plain.write_text("no markers here\n")
    with pytest.raises(ValueError, match="no <!-- benchmarks:start -->"):
        update_readme(plain, report)


def suite_ingest_result():
    return {
        "rows": [{"rows_per_s": 150_000}, {"rows_per_s": 500}],
        "bulk_over_single": 300,
        "goal": {"text": ">= 100,000 rows/s", "figure": 150000, "met": True},
    }


def test_each_check_is_timed_as_a_learner_runs_it():
    result = suite.checks(dataclasses.replace(TINY, check_repeats=2), only=("01.handler", "05.lru"))
    assert [row["exercise"] for row in result["rows"]] == ["01.handler", "05.lru"]
    assert all(0 < row["fastest_s"] <= row["median_s"] for row in result["rows"])
    assert result["goal"]["text"].startswith("every check <= 2 s")


def test_the_gil_handoff_probe_runs_each_query_and_reads_its_rows(tmp_path):
    """The probe's child (which gdb runs to count) on a small shard: every query runs and returns rows."""
    for query in gil_handoffs.QUERIES:
        command = gil_handoffs.child(query, 2, True, str(tmp_path), posts=2_000)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) == (21 if "page" in query else 1), query
