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
