"""Measure the mini-cluster and the capstone against their baselines: ``python -m benchmarks [--quick]``.

Prints a table per measurement, and writes ``results.json`` and one PNG per plot into
``benchmarks/results/<full|quick>/`` (or ``--out``). ``python -m benchmarks.report`` then rewrites the
README's table from ``benchmarks/results/full/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import suite
from .report import plot, print_result

STEPS = ("pages", "rows_read", "ingest", "request_path", "checks", "workbook", "servers")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller data and fewer repeats: ~2¼ minutes here")
    p.add_argument("--only", nargs="+", choices=STEPS, metavar="STEP", help=f"run only these: {', '.join(STEPS)}")
    p.add_argument("--out", type=Path, help="where to write results.json and the plots")
    args = p.parse_args(argv)
    scale = suite.QUICK if args.quick else suite.FULL
    # A partial run never overwrites the record of a whole one (the README's table comes from full/).
    out = args.out or Path(__file__).resolve().parent / "results" / (scale.name + ("-only" if args.only else ""))
    out.mkdir(parents=True, exist_ok=True)
    steps = args.only or STEPS

    import duckdb
    import fakeredis

    report = {
        "mode": scale.name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "fakeredis": getattr(fakeredis, "__version__", "?"),
        },
        "results": {},
    }
    from minicluster import servers

    configured = servers.settings()  # read before the embedded steps hide it from the library
    started = time.perf_counter()
    results = report["results"]
    with suite.embedded():
        _embedded_steps(steps, scale, results)
    if "servers" in steps:
        real = suite.on_real_servers(scale, configured)
        if not real:
            print("servers: skipped (no real servers configured: run `minicluster servers up` first)")
        for name, result in real.items():
            results[name] = result
            print_result(name, result)
    report["seconds"] = round(time.perf_counter() - started, 1)
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    for name in plot(results, out):
        print(f"wrote {out / name}")
    goals = [(name, r["goal"]) for name, r in results.items() if r and "goal" in r]
    print(f"\n{scale.name} run: {report['seconds']:.0f} s; goals met: {sum(g['met'] for _, g in goals)}/{len(goals)}")
    for name, goal in goals:
        print(f"  {'met    ' if goal['met'] else 'NOT met'}  {name}: {goal['text']} (measured {goal['figure']:g})")
    print(f"wrote {out / 'results.json'}")
    return 0


def _embedded_steps(steps, scale, results: dict) -> None:
    """Items 1-7, on the embedded engines."""
    if "pages" in steps:
        bench = suite.PostsBench(scale)
        try:
            print(f"(set-up: {scale.posts:,} posts generated and loaded in {bench.setup_seconds:.1f} s)")
            results.update(bench.page_latency())
            print_result("page_latency", results["page_latency"])
            print_result("fanout", results["fanout"])
            results["keyset_vs_offset"] = bench.keyset_vs_offset()
            print_result("keyset_vs_offset", results["keyset_vs_offset"])
        finally:
            bench.close()
    for name, run in (
        ("rows_read", suite.rows_read),
        ("ingest", suite.ingest),
        ("request_path", suite.request_path),
        ("checks", suite.checks),
        ("workbook", suite.workbook),
    ):
        if name in steps:
            results[name] = run(scale)
            print_result(name, results[name])


if __name__ == "__main__":
    sys.exit(main())
