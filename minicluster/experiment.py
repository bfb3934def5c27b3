"""Experiments: what every stage builds and what every experiment hands back.

A stage is a play with a cast and scenes. :class:`Topology` is the cast: what ``build(cluster)``
put on the cluster (its nodes and the links the live diagram draws), plus ``target()``, the one
request a load run sends. :class:`Run` is a scene's record: the load result(s), the timeline of
everything that happened meanwhile (faults, and how the system reacted: ejections, promotions,
failovers), the rows of its table and the figures the notebook's prose quotes. One type for every
experiment, so a notebook prints any of them with ``run.table()`` and draws it with ``run.plot()``.

:func:`under_faults` is the sequence every fault experiment follows: schedule the faults, drive the
load, wait for the plan, collect what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .load import LoadResult
from .timeline import Event

#: Headers and formats of the columns that many tables share; other columns are formatted by type.
COLUMNS: dict[str, tuple[str, str]] = {
    "throughput": ("req/s", "{:>8.0f}"),
    "p50_ms": ("p50 ms", "{:>8.1f}"),
    "p99_ms": ("p99 ms", "{:>8.1f}"),
    "L": ("L", "{:>6.1f}"),
    "lambda_W": ("λ·W", "{:>6.1f}"),
    "L_server": ("L@server", "{:>8.1f}"),
    "web_ceiling": ("web max", "{:>8.0f}"),
    "db_ceiling": ("DB max", "{:>7.0f}"),
    "lambda_W_server": ("λ·W@server", "{:>10.1f}"),
    "errors": ("errors", "{:>6}"),
}


@dataclass
class Topology:
    """What a stage's ``build(cluster, ...)`` returns: the cluster and the nodes it added.

    Subclasses name their nodes as fields (``web``, ``db``, ``lb``, ``shards``...). The nodes and links
    live on the cluster, so :meth:`diagram` draws whatever is running now, faults included.
    """

    cluster: Any

    def diagram(self, title: str | None = None):
        """The live architecture (Mermaid), drawn from the cluster's nodes, links and health."""
        return self.cluster.diagram(title)

    def target(self) -> Callable[[int], object]:
        """``target(key)``: the request one simulated user sends, for :mod:`minicluster.load`."""
        raise NotImplementedError(f"{type(self).__name__} has no default request")


@dataclass
class Run:
    """The record of one experiment: loads, timeline, table and figures."""

    title: str
    #: The table, one dict per line; the keys of the first row are the columns.
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Each load result, by label.
    loads: dict[str, LoadResult] = field(default_factory=dict)
    #: What happened while it ran (faults, heals, reactions, changes), in order.
    timeline: list[Event] = field(default_factory=list)
    #: The numbers the prose quotes, by name (a ceiling, a knee, a count of lost writes...).
    figures: dict[str, Any] = field(default_factory=dict)
    #: How :meth:`plot` draws it: "sweep", "timeline", "percentiles" or "lines" (see viz.plot_run).
    chart: str = "lines"
    #: Options of the chart (``x``: the column on the x axis; ``y``: columns drawn; labels...).
    axes: dict[str, Any] = field(default_factory=dict)

    @property
    def load(self) -> LoadResult:
        """The load result, when the run has exactly one."""
        if len(self.loads) != 1:
            raise ConfigError(f"{self.title!r} has {len(self.loads)} load results: pick one from run.loads")
        return next(iter(self.loads.values()))

    def __getitem__(self, name: str) -> Any:
        try:
            return self.figures[name]
        except KeyError:
            known = ", ".join(self.figures) or "none"
            raise KeyError(f"{self.title!r} has no figure {name!r} (figures: {known})") from None

    def column(self, name: str) -> list[Any]:
        """One column of the table, top to bottom."""
        return [row[name] for row in self.rows]

    def events_since_start(self) -> list[tuple[float, Event]]:
        """``(seconds since the load began, event)`` for each event of the timeline."""
        start = self.load.started_at if len(self.loads) == 1 else min(r.started_at for r in self.loads.values())
        return [(event.at - start, event) for event in self.timeline]

    def table(self) -> str:
        """The rows as fixed-width text, for the terminal and notebooks."""
        if not self.rows:
            return "(no rows)"
        keys = list(self.rows[0])
        cells = [[_cell(key, row.get(key)) for key in keys] for row in self.rows]
        headers = [COLUMNS.get(key, (key, ""))[0] for key in keys]
        widths = [max(len(h), *(len(line[i]) for line in cells)) for i, h in enumerate(headers)]
        first = [headers[0].ljust(widths[0]), *(h.rjust(w) for h, w in zip(headers[1:], widths[1:]))]
        lines = [" ".join(first).rstrip()]
        for line in cells:
            lines.append(" ".join([line[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(line[1:], widths[1:]))]))
        return "\n".join(lines)

    def plot(self, **options):
        """A matplotlib figure of this run (see :func:`minicluster.viz.plot_run`)."""
        from .viz import plot_run

        return plot_run(self, **options)

    def __str__(self) -> str:
        return f"{self.title}\n{self.table()}"


def _cell(key: str, value: Any) -> str:
    if key in COLUMNS and isinstance(value, (int, float)):
        return COLUMNS[key][1].format(value).strip()
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.1%}" if key.endswith("%") else f"{value:.1f}"
    return str(value)


def load_row(result: LoadResult) -> dict[str, float]:
    """The usual columns of one load result: throughput, p50 and p99 in ms, errors."""
    p = result.latency.percentiles((50, 99))
    return {
        "throughput": result.throughput,
        "p50_ms": p["p50"] * 1000,
        "p99_ms": p["p99"] * 1000,
        "errors": result.errors,
    }


def knee(values: Sequence, throughputs: Sequence[float], fraction: float = 0.9):
    """The smallest value at which throughput reaches ``fraction`` of the best measured."""
    best = max(throughputs)
    return next(v for v, t in zip(values, throughputs) if t >= fraction * best)


def sweep(
    title: str, parameter: str, values: Sequence, results: Sequence[LoadResult], *, ceiling: float | None = None
) -> Run:
    """One load run per value of ``parameter`` (users, workers, servers...) as a run.

    Figures: ``best`` throughput, the ``knee`` (smallest value reaching 90% of the best) and the
    ``ceiling`` (the theoretical maximum, when the experiment has one). Columns: the parameter,
    throughput, p50, p99, Little's law (L measured, λ·W) and errors.
    """
    rows = []
    for value, result in zip(values, results):
        measured_l, little = result.littles_law()
        row = load_row(result)
        errors = row.pop("errors")  # last, as in every other table
        rows.append({parameter: value, **row, "L": measured_l, "lambda_W": little, "errors": errors})
    throughputs = [r.throughput for r in results]
    figures = {"best": max(throughputs), "knee": knee(values, throughputs), "ceiling": ceiling}
    loads = {f"{parameter}={v}": r for v, r in zip(values, results)}
    return Run(title, rows, loads, figures=figures, chart="sweep", axes={"x": parameter})


def under_faults(
    cluster, drive: Callable[[], LoadResult], plan: Iterable[tuple] = ()
) -> tuple[LoadResult, list[Event]]:
    """Schedule ``plan`` on the cluster's nemesis, run ``drive()`` (a load), wait for the plan to end.

    Returns the load result and every event of the cluster's timeline from the load's start on: the
    faults and heals, and how the system reacted.
    """
    schedule = cluster.nemesis.schedule(plan)
    try:
        result = drive()
    except BaseException:
        schedule.cancel()
        raise
    schedule.join()
    return result, cluster.timeline.events(since=schedule.started_at)


def guess_vs_measured(what: str, guess: float | None, measured: float, *, unit: str = "", lesson: str = "") -> str:
    """One line putting the learner's guess beside the measurement (predict, then measure).

    ``guess`` is the number the learner wrote down before running the experiment (``None``: not yet);
    ``lesson`` is what the gap teaches, shown once there is a guess.
    """
    shown = f"{measured:,.0f}" if abs(measured) >= 10 else f"{measured:.2g}"
    if guess is None:
        return f"{what}: measured {shown}{unit}. Write your guess in the cell above first, then run both again."
    if isinstance(guess, bool) or not isinstance(guess, (int, float)):
        raise ConfigError(f"a guess is a number, got {guess!r}")
    if measured == 0 or guess == 0:
        gap = "exactly" if guess == measured else "far off"
    else:
        ratio = guess / measured
        gap = (
            "within 20%"
            if 0.8 <= ratio <= 1.25
            else (f"{ratio:.1f}x too high" if ratio > 1 else f"{1 / ratio:.1f}x too low")
        )
    return f"{what}: you guessed {guess:,g}{unit}, measured {shown}{unit} ({gap}). {lesson}".rstrip()
