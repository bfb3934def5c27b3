"""Pictures: the live architecture as a Mermaid diagram, and the standard plots of experiments.

The diagram is drawn from the running cluster, not by hand: crash a node and the next diagram shows
it red. It is a ``text/vnd.mermaid`` display bundle, which JupyterLab 4.1+ renders as a picture, with
a plain-text fallback for terminals and older front ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .experiment import Run
from .load import LoadResult
from .nodes import Health, Node
from .timeline import Event

_SHAPES = {
    "database": ("[(", ")]"),
    "cache": ("[(", ")]"),
    "web": ("[", "]"),
    "balancer": ("{{", "}}"),
    "proxy": ("{{", "}}"),
    "cdn": ("[/", "/]"),
}
_STYLE = {
    Health.UP: "fill:#d8f0dc,stroke:#2e7d32",
    Health.SLOW: "fill:#fff1c2,stroke:#b7791f",
    Health.DOWN: "fill:#f8d4d4,stroke:#c62828,stroke-dasharray:4",
}


def _pyplot():
    """matplotlib's pyplot, imported on the first plot: drawing a diagram should not pay for it."""
    import matplotlib.pyplot as plt

    return plt


def _mermaid_id(name: str) -> str:
    return "n_" + re.sub(r"\W", "_", name)


def _label(node: Node) -> str:
    extra = f" · {node.workers} workers" if hasattr(node, "workers") else ""
    return f"{node.name}{extra} · {node.health.value}"


class Diagram:
    """A Mermaid flowchart with a readable plain-text twin."""

    def __init__(self, mermaid: str, text: str) -> None:
        self.mermaid = mermaid
        self.text = text

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/vnd.mermaid": self.mermaid, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


def architecture(cluster, title: str | None = None) -> Diagram:
    """The diagram of ``cluster`` now: the client, DNS, each host with its nodes, the links between."""
    lines = ["flowchart LR"]
    text = [title or "Architecture"]
    lines.append('  client(["client (browser / mobile app)"])')
    lines.append('  dns{{"DNS"}}')
    hosts: dict[str, list[Node]] = {}
    for node in cluster.nodes.values():
        hosts.setdefault(node.host, []).append(node)
    for host, nodes in hosts.items():
        lines.append(f'  subgraph {_mermaid_id("host_" + host)}["host {host}"]')
        for node in nodes:
            left, right = _SHAPES.get(node.kind, ("[", "]"))
            lines.append(f'    {_mermaid_id(node.name)}{left}"{_label(node)}"{right}')
        lines.append("  end")
        text.append(f"  host {host}: " + ", ".join(f"{n.name} ({n.kind}, {n.health.value})" for n in nodes))
    for hostname, addresses in cluster.dns.records().items():
        lines.append(f'  client -->|"resolve {hostname}"| dns')
        text.append(f"  client -> DNS: resolve {hostname} -> {', '.join(addresses)}")
    for src, dst, label in cluster.links:
        src_id = "client" if src == "client" else _mermaid_id(src)
        lines.append(f'  {src_id} -->|"{label}"| {_mermaid_id(dst)}')
        text.append(f"  {src} -> {dst}: {label}")
    for node in cluster.nodes.values():
        for backend in getattr(node, "backends", ()):
            # Drawn from the balancer's live pool: an ejected backend gets a dotted, labelled arrow.
            arrow, label = ("-->", "HTTP") if backend.healthy else ("-.->", "ejected")
            lines.append(f'  {_mermaid_id(node.name)} {arrow}|"{label}"| {_mermaid_id(backend.name)}')
            text.append(f"  {node.name} -> {backend.name}: {label}")
    for source in getattr(cluster, "link_sources", ()):
        for src, dst, label, working in source():
            # Drawn from the live state (replication positions): a stopped link is dotted.
            arrow = "-->" if working else "-.->"
            shown = label if working else f"{label} (stopped)"
            src_id = "client" if src == "client" else _mermaid_id(src)
            lines.append(f'  {src_id} {arrow}|"{shown}"| {_mermaid_id(dst)}')
            text.append(f"  {src} -> {dst}: {shown}")
    for node in cluster.nodes.values():
        lines.append(f"  style {_mermaid_id(node.name)} {_STYLE[node.health]}")
    # Front matter (YAML). A fixed seed for the shapes Mermaid draws with random curves: the same
    # diagram is the same SVG every time, so JupyterLab's cached copy in a saved notebook stays valid
    # and opening the notebook does not mark it modified.
    front = ["---", "config:", "  handDrawnSeed: 1"]
    if title:
        # "a: b" inside a bare YAML value breaks the mapping (JupyterLab then shows an error box instead
        # of the diagram): always a double-quoted string.
        quoted = title.replace("\\", "\\\\").replace('"', '\\"')
        front.append(f'title: "{quoted}"')
    lines[:0] = [*front, "---"]
    return Diagram("\n".join(lines), "\n".join(text))


def _finished(fig, title: str | None):
    """Title, tight layout, and closed: a notebook shows the returned figure once, scripts leak nothing."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _pyplot().close(fig)
    return fig


def plot_run(run: Run, *, title: str | None = None, **options):
    """The standard picture of an experiment's :class:`~minicluster.experiment.Run`, by its ``chart``:

    * ``"sweep"``: throughput and p50/p99 against the swept parameter (:func:`plot_sweep`);
    * ``"timeline"``: successes, errors (and latency) over time with the timeline's events marked;
    * ``"percentiles"``: p50 and p99 of each load, side by side;
    * ``"lines"``: every other column against the ``x`` column; ``"bars"``: one bar per row;
    * ``"panels"``: stacked line plots sharing the ``x`` column, one per group of columns in ``panels``.

    ``options`` override the run's ``axes`` (e.g. ``xlabel=``, ``width=``, ``latency=True``).
    """
    axes = {**run.axes, **options}
    title = title if title is not None else run.title
    if run.chart == "sweep":
        return plot_sweep(run, xlabel=axes.get("xlabel"), knee=axes.get("knee", True), title=title)
    if run.chart == "timeline":
        return plot_timeline(
            run.load, faults=run.timeline, width=axes.get("width", 0.1), latency=axes.get("latency", False), title=title
        )
    if run.chart == "percentiles":
        return plot_percentiles(run.loads, title=title)
    if run.chart in ("lines", "bars"):
        return _plot_columns(run, axes, title)
    if run.chart == "panels":
        return _plot_panels(run, axes, title)
    raise ValueError(f"{run.title!r}: no chart named {run.chart!r} (sweep, timeline, percentiles, lines, bars, panels)")


def _plot_panels(run: Run, axes: dict, title: str | None):
    """One line plot per group of ``axes["panels"]`` (a list of column lists), stacked over one x axis."""
    x, panels = axes["x"], axes["panels"]
    fig, grid = _pyplot().subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True)
    xs = run.column(x)
    for ax, columns in zip(grid, panels):
        for column in columns:
            ax.plot(xs, run.column(column), "o-", markersize=3, label=column)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    grid[-1].set_xlabel(axes.get("xlabel", x))
    return _finished(fig, title)


def _plot_columns(run: Run, axes: dict, title: str | None):
    x = axes.get("x") or next(iter(run.rows[0]))
    ys = axes.get("y") or [k for k in run.rows[0] if k != x and isinstance(run.rows[0][k], (int, float))]
    scale = 100 if axes.get("percent") else 1
    fig, ax = _pyplot().subplots(figsize=(8, 3.4))
    xs = run.column(x)
    if run.chart == "lines":
        for y in ys:
            ax.plot(xs, [v * scale for v in run.column(y)], "o-", label=y.removesuffix(" %"))
    else:
        width = 0.8 / len(ys)
        positions = range(len(xs))
        for j, y in enumerate(ys):
            ax.bar([i + j * width for i in positions], [v * scale for v in run.column(y)], width, label=y)
        ax.set_xticks([i + width * (len(ys) - 1) / 2 for i in positions], labels=[str(v) for v in xs])
    if axes.get("reference") is not None:
        ax.axhline(axes["reference"], color="grey", linestyle=":", label=axes.get("reference_label", "reference"))
    ylabel = axes.get("ylabel", "")
    ax.set(xlabel=axes.get("xlabel", x), ylabel=f"{ylabel} (%)" if axes.get("percent") else ylabel)
    ax.grid(alpha=0.3)
    if len(ys) > 1 or axes.get("reference") is not None:
        ax.legend()
    return _finished(fig, title)


def plot_sweep(run: Run, *, xlabel: str | None = None, knee: bool = True, title: str | None = None):
    """Throughput (left) and p50/p99 latency (right) against the swept parameter of a sweep run.

    Marks the knee (a vertical line) unless ``knee=False``, and the ceiling (a horizontal line) when
    the run has one.
    """
    parameter = run.axes["x"]
    xs, results, ceiling = run.column(parameter), list(run.loads.values()), run.figures.get("ceiling")
    knee_at = run["knee"] if knee else None
    xlabel = xlabel or parameter
    fig, (left, right) = _pyplot().subplots(1, 2, figsize=(10, 3.6))
    left.plot(xs, [r.throughput for r in results], "o-", color="#1f77b4", label="measured")
    if ceiling is not None:
        left.axhline(ceiling, color="#c62828", linestyle="--", label="ceiling")
    left.set_ylabel("throughput (requests/s)")
    right.plot(xs, [r.latency.percentile(50) * 1000 for r in results], "o-", label="p50")
    right.plot(xs, [r.latency.percentile(99) * 1000 for r in results], "s--", label="p99")
    right.set_ylabel("latency (ms)")
    for ax in (left, right):
        ax.set_xlabel(xlabel)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(xs), labels=[f"{x:g}" for x in xs])
        ax.grid(alpha=0.3)
        if knee_at is not None:
            ax.axvline(knee_at, color="grey", linestyle=":", label="knee")
        ax.legend()
    return _finished(fig, title)


def plot_timeline(
    result: LoadResult,
    *,
    faults: Iterable[Event] = (),
    width: float = 0.1,
    latency: bool = False,
    title: str | None = None,
):
    """Successful requests/s and error rate over time (and mean latency if ``latency``), events marked."""
    end = max(result.elapsed, width)
    t, ok = result.completions.bucketed(width, 0.0, end, how="count")
    _, bad = result.failures.bucketed(width, 0.0, end, how="count")
    panels = 3 if latency else 2
    fig, axes = _pyplot().subplots(panels, 1, figsize=(9, 2.2 * panels + 0.5), sharex=True)
    axes[0].plot(t, [(o - b) / width for o, b in zip(ok, bad)], drawstyle="steps-post")
    axes[0].set_ylabel("successes/s")
    error_pct = [100 * b / o if o else 0.0 for o, b in zip(ok, bad)]
    axes[1].plot(t, error_pct, drawstyle="steps-post", color="#c62828")
    axes[1].set_ylabel("errors (%)")
    axes[1].set_ylim(0, max(5.0, 1.1 * max(error_pct, default=0.0)))  # a run without errors: 0-5%, not ±0.04
    if not any(bad):
        axes[1].text(0.5, 0.5, "no errors", transform=axes[1].transAxes, ha="center", va="center", color="grey")
    if latency:
        _, mean = result.latencies.bucketed(width, 0.0, end, how="mean")
        axes[2].plot(t, [m * 1000 for m in mean], drawstyle="steps-post", color="#6a1b9a")
        axes[2].set_ylabel("mean latency (ms)")
    axes[-1].set_xlabel("seconds since start")
    # Labels of events close in time go on staggered rows, so they do not print over each other.
    rows: list[float] = []  # x of the last label on each row
    for event in sorted(faults, key=lambda e: e.at):
        x = event.at - result.started_at
        if not 0 <= x <= end:
            continue
        for ax in axes:
            ax.axvline(x, color="black", linestyle="--", alpha=0.6)
        row = next((i for i, last in enumerate(rows) if x - last > 0.12 * end), len(rows))
        rows[row:row + 1] = [x]  # fmt: skip
        axes[0].annotate(str(event), (x, 1.03 + 0.13 * row), xycoords=("data", "axes fraction"), fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    return _finished(fig, title)


def plot_percentiles(results: dict[str, LoadResult], *, percentiles=(50, 99), title: str | None = None):
    """Grouped bars: the given latency percentiles of each named run (log scale: tails differ by 100x)."""
    names = list(results)
    fig, ax = _pyplot().subplots(figsize=(9, 3.6))
    width = 0.8 / len(percentiles)
    for j, p in enumerate(percentiles):
        values = [results[n].latency.percentile(p) * 1000 for n in names]
        ax.bar([i + j * width for i in range(len(names))], values, width, label=f"p{p:g}")
    ax.set_xticks([i + width * (len(percentiles) - 1) / 2 for i in range(len(names))], labels=names, rotation=15)
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, log scale)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return _finished(fig, title)
