"""Stage 9: logs, metrics and automation — seeing what a fleet does, and changing it without breaking it.

The experiments (the notebook that tells them is still to come):

* **logs**: every tier's structured records, with the request id the balancer assigns, loaded into
  DuckDB and asked with SQL: errors per node, the slowest requests, one request followed across tiers;
* **percentiles of a tier**: merging the servers' histograms gives the tier's p99 within the histogram's
  accuracy; averaging the servers' p99s does not;
* **alerts**: rules judged over seeded runs — detections, false alarms, time to detect;
* **deploys**: a rolling deploy under load fails no request, a naive one does, a broken release stops
  and rolls back on its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..alerts import ThresholdRule, assess
from ..apps import HOSTNAME, create_users, users_api, users_target
from ..cluster import Cluster
from ..dashboard import Dashboard
from ..deploy import Deployer
from ..experiment import Run, Topology, under_faults
from ..faults import Crash, Slow
from ..load import UniformKeys, derive_seed, open_loop
from ..loadbalancer import LoadBalancer
from ..metrics import Histogram, merge_histograms
from ..storage import DatabaseNode
from ..web import Response, Router, WebServer


@dataclass
class Observed(Topology):
    lb: LoadBalancer
    webs: list[WebServer]
    db: DatabaseNode

    def target(self):
        return users_target(self.cluster)


def build(cluster: Cluster, *, servers: int = 3, logs: bool = True) -> Observed:
    """The users app on ``web1..N`` behind ``lb``, a cache and ``db``; structured logs on."""
    db = cluster.add_database("db", host="db1")
    create_users(db, 200, seed=cluster.seed)
    cache = cluster.add_cache("cache", host="cache1")
    webs = [
        cluster.add_web_server(
            f"web{i}", users_api(), host=f"web{i}", workers=2, service_time=0.005, database=db, cache=cache
        )  # fmt: skip
        for i in range(1, servers + 1)
    ]
    lb = cluster.add_load_balancer("lb", webs, host="lb1", health_check=False)
    cluster.expose(HOSTNAME, lb)
    if logs:
        cluster.logs.enable()
    return Observed(cluster, lb, webs, db)


def logs_in_sql(*, rate: float = 150, duration: float = 1.0, seed: int = 42) -> Run:
    """Load through three servers while web2 is slowed 10x and web3 crashes halfway; then the logs, in
    DuckDB, answer: errors per node, the five slowest requests, and one request's path across the tiers.
    Figures: ``errors``, ``slowest`` and ``path`` (the rows of each query), ``records``."""
    with Cluster(seed=seed) as cluster:
        stage = build(cluster)
        under_faults(
            cluster,
            lambda: open_loop(stage.target(), rate=rate, duration=duration, keys=UniformKeys(200), seed=seed),
            [(0.0, Slow(stage.webs[1], 10)), (duration / 2, Crash(stage.webs[2]))],
        )
        records = cluster.logs.to_duckdb(stage.db)
        errors = stage.db.execute(
            "SELECT node, status, count(*) AS n FROM logs WHERE status >= 500 GROUP BY node, status ORDER BY n DESC"
        )
        slowest = stage.db.execute(
            "SELECT request_id, detail, round(latency_ms, 1) FROM logs WHERE node = 'lb' "
            "ORDER BY latency_ms DESC LIMIT 5"
        )
        one = slowest[0][0]
        path = stage.db.execute(
            "SELECT node, event, round(latency_ms, 1) FROM logs WHERE request_id = ? ORDER BY time", [one]
        )
    rows = [{"node": n, "status": s, "records": c} for n, s, c in errors]
    return Run("Errors per node, from the logs", rows, figures={"errors": errors, "slowest": slowest, "path": path,
                                                              "records": records})  # fmt: skip


def tier_percentiles(*, servers: int = 4, requests: int = 5000, slow: int = 1, seed: int = 42) -> Run:
    """``servers`` servers' latencies (one of them ``slow``-ly long-tailed), each kept in a mergeable
    histogram (1% accuracy). The tier's p50/p99 three ways: exact (all the values sorted), the merged
    histograms, and the average of each server's p99 (what a dashboard that averages gauges shows)."""
    rng = random.Random(derive_seed(seed, "latencies"))
    values, histograms = [], []
    for s in range(servers):
        h = Histogram(0.01)
        for _ in range(requests):
            v = rng.lognormvariate(-4.0, 0.4) * (8 if s < slow and rng.random() < 0.1 else 1)
            values.append(v)
            h.record(v)
        histograms.append(h)
    values.sort()
    merged = merge_histograms(histograms)
    rows = []
    for p in (50, 99):
        exact = values[max(0, -(-p * len(values) // 100) - 1)]
        average = sum(h.percentile(p) for h in histograms) / servers
        rows.append(
            {
                "percentile": f"p{p}",
                "exact ms": exact * 1000,
                "merged ms": merged.percentile(p) * 1000,
                "merged error %": abs(merged.percentile(p) - exact) / exact,
                "average of servers ms": average * 1000,
                "average error %": abs(average - exact) / exact,
            }
        )
    return Run(f"A tier's percentiles from {servers} servers' histograms", rows)


def alert_rules(*, runs: int = 30, seed: int = 42) -> Run:
    """Three rules on the error rate, each judged over ``runs`` runs with a fault (the error rate jumps
    from 1% to 20%) and ``runs`` without: a single reading over 2%; three readings over 5%, cleared below
    3%; ten readings over 5%."""
    rules = {
        "1 reading > 2%": ThresholdRule(0.02, 0.02, 1),
        "3 readings > 5%, clear < 3%": ThresholdRule(0.05, 0.03, 3),
        "10 readings > 5%": ThresholdRule(0.05, 0.03, 10),
    }
    rows = []
    for name, rule in rules.items():
        a = assess(rule, runs=runs, seed=seed)
        rows.append(
            {"rule": name, "faults detected": a.detected, "false alarms": a.false_alarms,
             "readings to detect": a.mean_time_to_detect}
        )  # fmt: skip
    return Run(f"Alert rules over {runs} runs with a fault and {runs} without", rows)


def _version(name: str, *, broken: bool = False) -> Router:
    def handler(request, ctx) -> Response:
        if broken:
            return Response.json({"error": "bad config"}, 500)
        return Response.json({"version": name})

    return Router().route("GET", "/healthz", handler).route("GET", "/users/{id}", handler)


def deploys(*, rate: float = 150, duration: float = 1.2, seed: int = 42) -> Run:
    """Three servers under ``rate`` requests/s; at 0.2 s a new version is deployed: rolling, naive, and
    rolling with a broken release. Rows: failed requests, whether it rolled back, the version serving
    at the end."""
    rows = []
    for name, how, broken in (("rolling", "rolling", False), ("naive", "naive", False),
                              ("rolling, broken release", "rolling", True)):  # fmt: skip
        failed, report, serving = _deploy_run(how, broken, rate, duration, seed)
        rows.append({"deploy": name, "failed requests": failed, "rolled back": report.rolled_back,
                     "serving": serving})  # fmt: skip
    return Run("Deploying a new version under load", rows, chart="bars", axes={"x": "deploy", "y": ["failed requests"]})


def _deploy_run(how: str, broken: bool, rate: float, duration: float, seed: int):
    with Cluster(seed=seed) as cluster:
        servers = [
            cluster.add_web_server(f"web{i}", _version("v1"), host=f"web{i}", workers=2, service_time=0.01)
            for i in range(1, 4)
        ]
        lb = cluster.add_load_balancer("lb", servers, health_check=False)
        cluster.expose(HOSTNAME, lb)
        client = cluster.client()
        deployer, reports = Deployer(cluster, lb), []
        result, _ = under_faults(
            cluster,
            lambda: open_loop(lambda k: client.get(f"http://{HOSTNAME}/users/{k}"), rate=rate, duration=duration,
                              keys=UniformKeys(100), seed=seed),
            [(0.2, lambda: reports.append(getattr(deployer, how)(servers, _version("v2", broken=broken), "v2")))],
        )  # fmt: skip
        serving = sorted({client.get(f"http://{HOSTNAME}/users/1").data().get("version") for _ in range(6)})
    return result.errors, reports[0], ", ".join(serving)


EVENTS_DDL = "CREATE TABLE events (day INTEGER, user_id INTEGER, kind VARCHAR, amount DOUBLE)"


def business_events(*, users: int = 800, days: int = 28, incident_day: int | None = 21, seed: int = 42):
    """A shop's seeded event log: ``(day, user_id, kind, amount)`` with kinds ``signup``, ``visit`` and
    ``purchase``. Users sign up over the first three weeks; a user visits on a day with a chance that
    falls with the days since signing up (most never come back after the first week, some stay); a visit
    buys with a chance of 12% (amounts around 30). On ``incident_day`` a release hides the buy button on
    phones: every request still answers 200, but two visits in three cannot buy."""
    rng = random.Random(derive_seed(seed, "business events"))
    events = []
    for user in range(1, users + 1):
        signup = min(int(rng.expovariate(1 / 8)), days - 8)
        events.append((signup, user, "signup", 0.0))
        loyal = rng.random() < 0.25
        for day in range(signup, days):
            age = day - signup
            chance = 1.0 if age == 0 else (0.55 if loyal else 0.5 / (1 + age))
            if rng.random() >= chance:
                continue
            events.append((day, user, "visit", 0.0))
            buys, phone, amount = rng.random() < 0.12, rng.random() < 2 / 3, rng.lognormvariate(3.2, 0.5)
            if buys and not (day == incident_day and phone):  # every draw made either way: same users, same visits
                events.append((day, user, "purchase", round(amount, 2)))
    return events


def business_metrics(*, users: int = 800, days: int = 28, incident_day: int | None = 21, seed: int = 42) -> Run:
    """The shop's event log (:func:`business_events`) in DuckDB, asked with SQL: daily active users, revenue
    and purchases per visit, per day; day-1 and day-7 retention of the users who signed up in the first two
    weeks. Figures: ``retention`` (``{"day 1": share, "day 7": share}``), ``sql`` (the queries), and
    ``incident`` (the incident day's purchases per visit against the median of the other days)."""
    events = business_events(users=users, days=days, incident_day=incident_day, seed=seed)
    with Cluster(seed=seed) as cluster:
        db = cluster.add_database("analytics", host="analytics1")
        db.execute(EVENTS_DDL)
        db.bulk_load("events", {c: [e[i] for e in events] for i, c in enumerate(("day", "user_id", "kind", "amount"))})
        sql = {
            "daily": (
                "SELECT day, count(DISTINCT user_id) FILTER (kind = 'visit') AS dau, "
                "sum(amount) FILTER (kind = 'purchase') AS revenue, "
                "count(*) FILTER (kind = 'purchase') / count(*) FILTER (kind = 'visit') AS conversion "
                "FROM events GROUP BY day ORDER BY day"
            ),
            "retention": (
                "WITH cohort AS (SELECT user_id, day AS joined FROM events WHERE kind = 'signup' AND day < 14) "
                "SELECT avg((SELECT count(*) > 0 FROM events e WHERE e.user_id = c.user_id AND e.kind = 'visit' "
                "AND e.day = c.joined + 1)::INT), "
                "avg((SELECT count(*) > 0 FROM events e WHERE e.user_id = c.user_id AND e.kind = 'visit' "
                "AND e.day = c.joined + 7)::INT) FROM cohort c"
            ),
        }
        daily = db.execute(sql["daily"])
        day1, day7 = db.execute(sql["retention"])[0]
    rows = [{"day": d, "DAU": dau, "revenue": round(revenue or 0.0, 2), "purchases per visit": conversion}
            for d, dau, revenue, conversion in daily]  # fmt: skip
    figures: dict[str, Any] = {"retention": {"day 1": day1, "day 7": day7}, "sql": sql, "events": len(events)}
    if incident_day is not None:
        others = sorted(r["purchases per visit"] for r in rows if r["day"] != incident_day)
        figures["incident"] = {"day": rows[incident_day]["purchases per visit"], "median": others[len(others) // 2]}
    return Run(
        f"A shop's business metrics, from {len(events):,} events",
        rows,
        figures=figures,
        chart="panels",
        axes={"x": "day", "panels": [["DAU"], ["revenue"], ["purchases per visit"]]},
    )


def dashboard(stage: Observed) -> Dashboard:
    """A :class:`~minicluster.dashboard.Dashboard` of the stage's web servers behind its balancer, with one
    business number: user profiles served (2xx answers)."""
    served = lambda: sum(w.metrics.counter("status_2xx").value for w in stage.webs)  # noqa: E731
    return Dashboard(stage.webs, edge=stage.lb, business={"profiles served": served})


def watched(stage: Observed, board: Dashboard, *, rate: float = 200, duration: float = 2.0, seed: int = 42) -> Run:
    """``rate`` requests/s for ``duration`` s, sampled by ``board`` every 0.2 s; web2 is slowed 10x from a
    third of the way and web3 crashes at two thirds. Rows: the board's intervals."""
    result, events = board.watch(
        lambda: under_faults(
            stage.cluster,
            lambda: open_loop(stage.target(), rate=rate, duration=duration, keys=UniformKeys(200), seed=seed),
            [(duration / 3, Slow(stage.webs[1], 10)), (2 * duration / 3, Crash(stage.webs[2]))],
        )
    )
    return Run("The tier, interval by interval, through a slowdown and a crash", board.rows,
               loads={"load": result}, timeline=events, chart="panels",
               axes=board.axes())  # fmt: skip


def headline() -> str:
    """For ``minicluster tour``: a tier's p99 merged against averaged, and deploying under load."""
    return f"{tier_percentiles()}\n\n{deploys()}"
