"""A live dashboard: what a fleet is doing, per host, per tier and for the business, while it runs.

Every ``every`` seconds :meth:`Dashboard.sample` reads the servers' own metrics and keeps one row of
the last interval: for each host its requests per second, errors and requests inside it; for the tier
the same summed, and its p99 from the **merged** interval histograms (never an average of p99s); and
any business number the caller asks for (orders per second...). :meth:`Dashboard.widget` shows the
rows as they come (ipywidgets), :meth:`Dashboard.watch` samples while a load runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ConfigError, check_positive
from .metrics import Histogram, merge_histograms


class Dashboard:
    """Interval numbers of ``servers`` (web servers: their ``requests``, ``errors``, ``latency``, ``in_server``
    metrics), of the ``edge`` in front of them if given (a load balancer: the errors users see, a dead
    server's included, which its own metrics cannot count), and of ``business`` (name → a function
    returning a running total, shown per second)."""

    def __init__(self, servers: Sequence, *, edge=None, business: dict[str, Callable[[], float]] | None = None) -> None:
        if not servers:
            raise ConfigError("a dashboard needs at least one server to watch")
        self.servers = list(servers)
        self.edge = edge
        self.business = dict(business or {})
        self.rows: list[dict[str, Any]] = []
        self._clock = self.servers[0].clock
        self._start = self._clock.now()
        self._last = self._readings()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.Lock()

    def _readings(self) -> dict[str, Any]:
        at = self._clock.now()
        hosts = {
            s.name: (s.metrics.counter("requests").value, s.metrics.counter("errors").value,
                     s.metrics.histogram("latency").copy())
            for s in self.servers
        }  # fmt: skip
        edge = None
        if self.edge is not None:
            m = self.edge.metrics
            edge = (m.counter("requests").value, m.counter("backend_errors").value + m.counter("no_backend").value)
        return {"at": at, "hosts": hosts, "edge": edge, "business": {name: f() for name, f in self.business.items()}}

    def sample(self) -> dict[str, Any]:
        """Read the metrics now and add the row of the interval since the last sample."""
        with self._lock:
            now, before = self._readings(), self._last
            self._last = now
            seconds = max(now["at"] - before["at"], 1e-9)
            row: dict[str, Any] = {"t": round(now["at"] - self._start, 3)}
            intervals: list[Histogram] = []
            total = errors = 0
            for s in self.servers:
                (r1, e1, h1), (r0, e0, h0) = now["hosts"][s.name], before["hosts"][s.name]
                interval = h1.since(h0)
                intervals.append(interval)
                total, errors = total + r1 - r0, errors + e1 - e0
                row[f"{s.name} req/s"] = (r1 - r0) / seconds
                row[f"{s.name} inside"] = s.metrics.occupancy("in_server").value
                row[f"{s.name} p99 ms"] = interval.percentile(99) * 1000 if interval.count else 0.0
            tier = merge_histograms(intervals)
            row["tier req/s"] = total / seconds
            row["tier errors %"] = 100 * errors / total if total else 0.0
            row["tier p99 ms"] = tier.percentile(99) * 1000 if tier.count else 0.0
            if self.edge is not None:
                (n1, f1), (n0, f0) = now["edge"], before["edge"]
                row["users' errors %"] = 100 * (f1 - f0) / (n1 - n0) if n1 > n0 else 0.0
            for name in self.business:
                row[f"{name}/s"] = (now["business"][name] - before["business"][name]) / seconds
            self.rows.append(row)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(row)
        return row

    def watch(self, load: Callable[[], Any], *, every: float = 0.2) -> Any:
        """Run ``load()`` (e.g. an ``open_loop``) on a thread, sampling every ``every`` seconds until it
        returns; returns what it returned (its error, if it raised, is raised here)."""
        check_positive("every", every)
        done, outcome = threading.Event(), {}

        def run() -> None:
            try:
                outcome["result"] = load()
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc
            finally:
                done.set()

        thread = threading.Thread(target=run, name="dashboard-load", daemon=True)
        thread.start()
        while not done.wait(every):  # a timer between samples; the end of the load is the event
            self.sample()
        thread.join()
        self.sample()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def widget(self, *, columns: Sequence[str] = ("req/s", "inside", "p99 ms")):
        """An ipywidgets box showing the latest row (a table per host, a line for the tier) and the tier's
        numbers so far as sparklines; it updates on every :meth:`sample` (cheaply: text, no figure)."""
        import ipywidgets as w

        view = w.HTML()

        def show(row: dict[str, Any]) -> None:
            head = "".join(f"<th>{c}</th>" for c in ("host", *columns))
            cells = lambda name: "".join(f"<td>{row[f'{name} {c}']:.1f}</td>" for c in columns)  # noqa: E731
            body = "".join(f"<tr><td>{s.name}</td>{cells(s.name)}</tr>" for s in self.servers)
            shown = [k for k in row if k.startswith(("tier ", "users'"))] + [f"{name}/s" for name in self.business]
            tier = " · ".join(f"{k} <b>{row[k]:.1f}</b>" for k in shown)
            lines = "".join(f"<div><code>{sparkline([r[k] for r in self.rows])}</code> {k}</div>" for k in shown)
            view.value = f"<p>t = {row['t']:.1f} s · {tier}</p><table>{head}{body}</table>{lines}"

        with self._lock:
            self._listeners.append(show)
            if self.rows:
                show(self.rows[-1])
        return view

    def plot(self, title: str | None = "The tier, interval by interval"):
        """The tier's requests/s, errors % and p99 (ms) over time: three stacked panels."""
        from .experiment import Run

        return Run(title or "", self.rows, chart="panels", axes=self.axes()).plot(title=title)

    def axes(self) -> dict[str, Any]:
        """The panels of :meth:`plot`: requests/s, errors % (the users' too, with an edge), p99."""
        errors = ["tier errors %"] + (["users' errors %"] if self.edge is not None else [])
        return {"x": "t", "xlabel": "seconds", "panels": [["tier req/s"], errors, ["tier p99 ms"]]}


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """The last ``width`` values as a line of bars from ▁ (the lowest) to █ (the highest)."""
    values = list(values)[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BARS[min(7, int((v - low) / span * 8))] for v in values)
