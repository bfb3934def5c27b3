"""Tables on the terminal and plots as PNG files, from the results :mod:`benchmarks.suite` returns."""

from __future__ import annotations

from pathlib import Path


def print_result(name: str, result: dict) -> None:
    """A titled table of ``result["rows"]`` (a list of dicts sharing their keys), then its extras and goal."""
    print(f"\n== {name}: {result['title']}")
    rows = result["rows"]
    if rows:
        columns = list(rows[0])
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        print("  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths)))
        for r in cells:
            print("  " + "  ".join(v.rjust(w) for v, w in zip(r, widths)))
    for row in rows:  # the request path's parts, at 8 client threads
        for way in (row.get("ways") or {}).values():
            print(f"  at {row['client_threads']} threads, {way['what']}: {way['per_s']:,}/s ({way['of_raw']:g} of raw)")
    for key in ("bulk_over_single", "test_suite"):
        if result.get(key) is not None:
            print(f"  {key}: {result[key]}")
    goal = result["goal"]
    print(f"  goal: {goal['text']}: {'met' if goal['met'] else 'NOT met'} ({goal['figure']:g})")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def plot(results: dict, out: Path) -> list[str]:
    """Write a PNG per plottable result into ``out``; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig, name: str, title: str) -> None:
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append(name)

    if results.get("page_latency"):
        rows = results["page_latency"]["rows"]
        shards = [r["shards"] for r in rows]
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for label, style in (("first", "o-"), ("deep", "s--")):
            ax.plot(shards, [r[f"{label}_ms"] for r in rows], style, label=f"sharded, {label} page")
            unsharded = [r[f"{label}_unsharded_ms"] for r in rows]
            ax.plot(shards, unsharded, style, alpha=0.5, label=f"one database, {label}")
        ax.set(xscale="log", xlabel="shards", ylabel="ms per page (median)")
        ax.set_xticks(shards, [str(s) for s in shards])
        ax.legend(fontsize=8)
        save(fig, "page_latency.png", results["page_latency"]["title"])
    if results.get("keyset_vs_offset"):
        rows = results["keyset_vs_offset"]["rows"]
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for table, style in (("as loaded", "--"), ("1% deleted", "-")):
            part = [r for r in rows if r.get("table", "as loaded") == table]
            if not part:
                continue
            depths = [max(1, r["depth"]) for r in part]
            ax.plot(depths, [r["keyset_ms"] for r in part], "o" + style, label=f"keyset, {table}")
            ax.plot(depths, [r["offset_ms"] for r in part], "s" + style, label=f"OFFSET, {table}")
        ax.set(xscale="log", xlabel="depth (posts skipped; 0 drawn at 1)", ylabel="ms per page (median)")
        ax.legend(fontsize=8)
        save(fig, "keyset_vs_offset.png", results["keyset_vs_offset"]["title"])
    if results.get("rows_read"):
        r = results["rows_read"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for name, cost in r["costs"].items():
            axes[0].plot(r["shard_counts"], cost["rows"], "o-", label=name)
            axes[1].plot(r["shard_counts"], cost["queries"], "o-", label=name)
        axes[0].axhline(40, color="grey", linestyle=":", label="goal: 2 x page size")
        axes[0].set(xlabel="shards", ylabel="rows read per page")
        axes[1].set(xlabel="shards", ylabel="shard queries per page")
        axes[0].legend(fontsize=7)
        save(fig, "rows_read.png", r["title"])
    return written


def markdown(report: dict) -> str:
    """The README's table of a run: one row per measurement, its figures and its goal."""
    r = report["results"]
    rows = []

    def add(number: int, name: str, what: str, figures: str) -> None:
        goal = r[name]["goal"]
        verdict = "met" if goal["met"] else "**not met**"
        rows.append(f"| {number} | {what} | {figures} | {goal['text']}: {verdict} ({goal['figure']:g}) |")

    def joined(values, unit="") -> str:
        return " / ".join(f"{v:g}{unit}" for v in values)

    for number, suffix, where in ((1, "", ""), (8, "_postgres", " — on PostgreSQL shards (`servers up`)")):
        if f"page_latency{suffix}" in r:
            lat = r[f"page_latency{suffix}"]["rows"]
            shards = joined(row["shards"] for row in lat)
            side = r[f"page_latency{suffix}"].get("side_by_side", {})
            scaling = "; ".join(f"{kind}: x{v['two_over_one']:g}" for kind, v in side.items())
            ways = r[f"page_latency{suffix}"].get("fetches_at_8", {})
            floor8 = next((row.get("first_floor_ms") for row in lat if row["shards"] == 8), None)
            fetches = ", ".join(
                f"{way} {v['ms']:g} ms (CPU {v['cpu_ms']:g} ms"
                + (f", {v['ms'] / floor8:.2f}x the floor)" if floor8 else ")")
                for way, v in ways.items()
            )
            floor = ""
            if "first_floor_ms" in lat[0]:  # (records from before the floor was measured have none)
                in_a_row = (
                    f"{joined(row['first_in_a_row_ms'] for row in lat)} ms in a row, as the floor's queries are timed: "
                    if "first_in_a_row_ms" in lat[0]
                    else ""
                )
                floor = (
                    f"floor {joined(row['first_floor_ms'] for row in lat)} ms, the page {in_a_row}"
                    f"{joined((row['first_over_floor'] for row in lat), 'x')}; "
                )
            deep_floor = f"{joined((row['deep_over_floor'] for row in lat), 'x')} the floor, " if floor else ""
            add(
                number,
                f"page_latency{suffix}",
                f"page of 20 from the capstone solution over {shards} shards vs the floor (each shard's query timed "
                f"inside the database, summed / cores + the merge) and vs the same keyset page from one database "
                f"(all of them holding the same posts){where}",
                f"first page {joined(row['first_ms'] for row in lat)} ms (in turns with one database's); {floor}"
                f"one database {joined(row['first_unsharded_ms'] for row in lat)} ms "
                f"({joined((row['first_ratio'] for row in lat), 'x')}); deep page {deep_floor}"
                f"{joined((row['deep_ratio'] for row in lat), 'x')} one database"
                + (f"; queries/s of two threads over one ({scaling})" if scaling else "")
                + (f"; the first page's fetches over 8 shards: {fetches}" if fetches else ""),
            )
        if f"keyset_vs_offset{suffix}" in r:
            ko = r[f"keyset_vs_offset{suffix}"]["rows"]
            parts = []
            for table in ("as loaded", "1% deleted"):
                part = [row for row in ko if row["table"] == table]
                parts.append(
                    f"{table}: keyset {joined(row['keyset_ms'] for row in part)} ms "
                    + (
                        f"({joined((row['keyset_vs_top'] for row in part), 'x')} the page at depth 1), "
                        if "keyset_vs_top" in part[0]
                        else ""
                    )
                    + f"OFFSET {joined(row['offset_ms'] for row in part)} ms"
                )
            depths = " / ".join(f"{row['depth']:,}" for row in ko if row["table"] == "as loaded")
            add(number + 1, f"keyset_vs_offset{suffix}", f"keyset vs OFFSET page at depth {depths}{where}",
                "; ".join(parts))  # fmt: skip
    if "fanout" in r:
        fo = r["fanout"]["rows"]
        figures = "; ".join(
            f"{row['injected_ms']:g} ms injected: {row['concurrent_ms']:g} vs {row['sequential_ms']:g} ms "
            f"({row['sequential_over_concurrent']:g}x)"
            for row in fo
        )
        add(3, "fanout", f"fan-out over {fo[0]['shards']} shards, concurrent (the solution) vs sequential", figures)
    if "rows_read" in r:
        rr = r["rows_read"]
        figures = "; ".join(
            f"{name}: {joined(cost['rows'])} rows ({joined(cost['queries'])} queries)"
            for name, cost in rr["costs"].items()
        )
        add(4, "rows_read", f"rows read per page at {joined(rr['shard_counts'])} shards", figures)
    if "ingest" in r:
        bulk, single = r["ingest"]["rows"]
        add(
            5,
            "ingest",
            "ingest into 8 shard files",
            f"bulk {bulk['rows_per_s']:,} rows/s vs single-row {single['rows_per_s']:,} rows/s "
            f"({r['ingest']['bulk_over_single']:g}x)",
        )
    for number, key, where in ((6, "request_path", ""), (10, "request_path_redis", " — on redis-server")):
        if key in r:
            figures = "; ".join(
                f"{row['client_threads']} client thread{'s' if row['client_threads'] > 1 else ''}: "
                f"{row['through_cluster_per_s']:,} vs {row['raw_redis_get_per_s']:,} req/s ({row['ratio']:g})"
                for row in r[key]["rows"]
            )
            for row in r[key]["rows"]:
                if row.get("ways"):  # each part of the way, at 8 client threads (older records have none)
                    figures += f"; at {row['client_threads']} client threads, of raw GETs: " + ", ".join(
                        f"{way['what']} {way['per_s']:,} req/s ({way['of_raw']:g})" for way in row["ways"].values()
                    )
            add(number, key, f"cache hits through balancer → web server → cache vs raw redis-py GETs{where}", figures)
    if "checks" in r:
        figures = ", ".join(f"{row['exercise']}: {row['median_s']:g} s" for row in r["checks"]["rows"])
        add(11, "checks", "`minicluster check` on each exercise's solution, as a learner runs it", figures)
    if "workbook" in r:
        wb = r["workbook"]
        figures = ", ".join(f"{row['notebook'].split('_')[0]}: {row['seconds']:g} s" for row in wb["rows"])
        if wb.get("test_suite"):
            figures += f"; test suite: {wb['test_suite']['summary']} ({wb['test_suite']['seconds']:g} s with start-up)"
            figures += "".join(f"; {line}" for line in wb["test_suite"].get("failed", []))
        add(7, "workbook", "each notebook top to bottom; the whole test suite", figures)
    machine = report["machine"]
    head = (
        f"{report['mode']} run of {report['when'][:10]}, {report['seconds']:.0f} s, on {machine['cpus']} cores "
        f"(Python {machine['python']}, DuckDB {machine['duckdb']})\n\n"
        "| # | measured | figures | goal |\n|---|---|---|---|\n"
    )
    rows.sort(key=lambda row: int(row.split("|")[1]))  # the items in their numbers' order
    return head + "\n".join(rows) + "\n"


START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def update_readme(readme: Path, report: dict) -> None:
    """Replace the README's table (between the markers) with the table of ``report``."""
    text = readme.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    if not rest:
        raise ValueError(f"{readme} has no {START} ... {END} block")
    readme.write_text(f"{before}{START}\n{markdown(report)}{END}{after}", encoding="utf-8")


if __name__ == "__main__":  # python -m benchmarks.report: the README's table from the committed full run
    import json

    root = Path(__file__).resolve().parent
    update_readme(root.parent / "README.md", json.loads((root / "results" / "full" / "results.json").read_text()))
