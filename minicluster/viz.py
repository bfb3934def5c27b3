"""Pictures: the live architecture as a Mermaid diagram, and the standard plots of experiments.

The diagram is drawn from the running cluster, not by hand: crash a node and the next diagram shows
it red. It is a ``text/vnd.mermaid`` display bundle, which JupyterLab 4.1+ renders as a picture, with
a plain-text fallback for terminals and older front ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import matplotlib.pyplot as plt

from .faults import FaultEvent
from .load import LoadResult, Sweep
from .nodes import Health, Node

_SHAPES = {"database": ("[(", ")]"), "cache": ("[(", ")]"), "web": ("[", "]"), "balancer": ("{{", "}}")}
_STYLE = {
    Health.UP: "fill:#d8f0dc,stroke:#2e7d32",
    Health.SLOW: "fill:#fff1c2,stroke:#b7791f",
    Health.DOWN: "fill:#f8d4d4,stroke:#c62828,stroke-dasharray:4",
}


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
    for node in cluster.nodes.values():
        lines.append(f"  style {_mermaid_id(node.name)} {_STYLE[node.health]}")
    if title:
        lines.insert(0, f"---\ntitle: {title}\n---")
    return Diagram("\n".join(lines), "\n".join(text))


def _finished(fig, title: str | None):
    """Title, tight layout, and closed: a notebook shows the returned figure once, scripts leak nothing."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_sweep(sweep: Sweep, *, xlabel: str | None = None, knee: bool = True, title: str | None = None):
    """Throughput (left) and p50/p99 latency (right) against the swept parameter.

    Marks the knee (a vertical line) unless ``knee=False``, and the sweep's ceiling (a horizontal line)
    when it has one.
    """
    xs, results, ceiling = sweep.values, sweep.results, sweep.ceiling
    knee_at = sweep.knee() if knee else None
    xlabel = xlabel or sweep.parameter
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
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
    faults: Iterable[FaultEvent] = (),
    width: float = 0.1,
    latency: bool = False,
    title: str | None = None,
):
    """Successful requests/s and error rate over time (and mean latency if ``latency``), events marked."""
    end = max(result.elapsed, width)
    t, ok = result.completions.bucketed(width, 0.0, end, how="count")
    _, bad = result.failures.bucketed(width, 0.0, end, how="count")
    panels = 3 if latency else 2
    fig, axes = plt.subplots(panels, 1, figsize=(9, 2.2 * panels + 0.5), sharex=True)
    axes[0].plot(t, [(o - b) / width for o, b in zip(ok, bad)], drawstyle="steps-post")
    axes[0].set_ylabel("successes/s")
    axes[1].plot(t, [100 * b / o if o else 0.0 for o, b in zip(ok, bad)], drawstyle="steps-post", color="#c62828")
    axes[1].set_ylabel("errors (%)")
    if latency:
        _, mean = result.latencies.bucketed(width, 0.0, end, how="mean")
        axes[2].plot(t, [m * 1000 for m in mean], drawstyle="steps-post", color="#6a1b9a")
        axes[2].set_ylabel("mean latency (ms)")
    axes[-1].set_xlabel("seconds since start")
    for event in faults:
        x = event.at - result.started_at
        if not 0 <= x <= end:
            continue
        for ax in axes:
            ax.axvline(x, color="black", linestyle="--", alpha=0.6)
        axes[0].annotate(f"{event.action} {event.node}", (x, 1.02), xycoords=("data", "axes fraction"), fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    return _finished(fig, title)


def plot_percentiles(results: dict[str, LoadResult], *, percentiles=(50, 99), title: str | None = None):
    """Grouped bars: the given latency percentiles of each named run (log scale: tails differ by 100x)."""
    names = list(results)
    fig, ax = plt.subplots(figsize=(9, 3.6))
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
