"""Stage 6: a stateless web tier — sessions leave the web servers, so servers come and go freely.

The experiments:

* **servers die and join under load**: with sessions in each server's memory (sticky balancing), users
  are logged out when their server dies, and again when a new server takes some of them over; with a
  shared session store nobody is.
* **why must the session store be NoSQL?** It need not: the same store on a DuckDB table and on Redis,
  measured for speed, for expiry (a TTL against a cleanup job) and for scaling out.
* **autoscaling**: a control loop adds servers under a load step and drains them away after it, with and
  without a cooldown.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from ..apps import HOSTNAME, shop_api, shop_target
from ..autoscale import Autoscaler
from ..balancers import POLICIES
from ..cache import CacheNode
from ..cluster import Cluster
from ..experiment import Run, Topology, under_faults
from ..faults import Crash
from ..hashring import HashRing
from ..load import UniformKeys, closed_loop, open_loop
from ..loadbalancer import LoadBalancer
from ..sessions import SESSIONS_DDL, RedisSessions, SQLSessions
from ..storage import DatabaseNode
from ..web import WebServer

#: The defaults of this stage: web servers of 2 workers x 10 ms (200 requests/s each).
WORKERS, SERVICE_TIME = 2, 0.01
#: Where sessions live, by the name the experiments print.
KINDS = {"stateful, sticky": "local", "stateless, Redis": "redis", "stateless, SQL": "sql"}


@dataclass
class Stateless(Topology):
    lb: LoadBalancer
    webs: list[WebServer]
    sessions: CacheNode
    db: DatabaseNode
    store: str

    def add_server(self) -> WebServer:
        """One more web server like the others, behind the balancer."""
        web = self.new_server()
        self.lb.add_backend(web)
        return web

    def new_server(self) -> WebServer:
        """One more web server like the others, not yet behind the balancer (for an autoscaler to add)."""
        web = self.cluster.add_web_server_like(self.webs[0], f"web{len(self.webs) + 1}")
        self.webs.append(web)
        return web

    def target(self):
        """``target(key)``: user ``key`` logs in once, then reads its cart (``target.logged_out`` counts 401s)."""
        return shop_target(self.cluster)


def build(
    cluster: Cluster,
    *,
    servers: int = 3,
    store: str = "redis",
    sticky: bool | None = None,
    workers: int = WORKERS,
    service_time: float = SERVICE_TIME,
    health_check: bool = True,
    ttl: float = 1800,
) -> Stateless:
    """Web servers ``web1..N`` behind ``lb`` serving the shop, sessions in ``store`` ("local": each
    server's memory; "redis": the session store ``sessions`` on host ``sessions1``; "sql": a table on
    ``db``). ``sticky`` (default: only for "local") balances by client, so a user keeps its server."""
    db = cluster.add_database("db", host="db1")
    db.execute(SESSIONS_DDL)
    sessions = cluster.add_cache("sessions", host="sessions1")
    app = shop_api(store, ttl=ttl)
    # Each server is given only the store it keeps sessions in: the live diagram shows what it talks to.
    database, cache = (db, None) if store == "sql" else (None, sessions if store == "redis" else None)
    webs = [
        cluster.add_web_server(
            f"web{i}", app, host=f"web{i}", workers=workers, service_time=service_time, database=database, cache=cache
        )
        for i in range(1, servers + 1)
    ]
    sticky = store == "local" if sticky is None else sticky
    policy = POLICIES["consistent hash" if sticky else "round robin"]()
    lb = cluster.add_load_balancer(
        "lb", webs, policy=policy, host="lb1", health_check=health_check, interval=0.05, probe_timeout=0.05
    )
    cluster.expose(HOSTNAME, lb)
    return Stateless(cluster, lb, webs, sessions, db, store)


# -- servers die and join --------------------------------------------------------------------------


def churn(
    kinds: tuple[str, ...] = ("stateful, sticky", "stateless, Redis"),
    *,
    users: int = 60,
    rate: float = 200,
    duration: float = 2.0,
    kill_at: float = 0.6,
    add_at: float = 1.3,
    seed: int = 42,
) -> Run:
    """``users`` users log in and keep reading their carts at ``rate`` requests/s over three servers;
    ``web2`` dies at ``kill_at`` and ``web4`` joins at ``add_at``. Per kind of web tier: requests,
    users logged out (a 401: their session was gone), and failed requests (5xx)."""
    rows, loads, figures, timeline = [], {}, {}, []
    for kind in kinds:
        result, events, logged_out = _churn_run(KINDS[kind], users, rate, duration, kill_at, add_at, seed)
        loads[kind] = result
        timeline.extend(events)
        figures[kind] = {"logged_out": logged_out, "failed": result.errors}
        rows.append({"web tier": kind, "requests": result.completed, "logged out": logged_out, "failed": result.errors})
    return Run(
        f"{users} users; web2 dies at {kill_at:g} s, web4 joins at {add_at:g} s",
        rows,
        loads,
        timeline,
        figures,
        chart="bars",
        axes={"x": "web tier", "y": ["logged out", "failed"]},
    )


def _churn_run(store: str, users: int, rate: float, duration: float, kill_at: float, add_at: float, seed: int):
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, store=store)
        target = stage.target()
        result, events = under_faults(
            cluster,
            lambda: open_loop(target, rate=rate, duration=duration, keys=UniformKeys(users), seed=seed),
            [(kill_at, Crash(stage.webs[1])), (add_at, stage.add_server)],
        )
        return result, events, target.logged_out


# -- why NoSQL? ------------------------------------------------------------------------------------


def store_speed(*, threads: int = 8, duration: float = 0.5, seed: int = 42) -> Run:
    """Each request of a logged-in user reads its session and writes it back (the last-seen time, the
    cart). ``threads`` users do that as fast as they can against a session store on Redis and on a
    DuckDB table. Columns: requests/s, p50 and p99 of one read + write."""
    rows, loads = [], {}
    for name in ("Redis", "DuckDB table"):
        result = _store_run(name, threads, duration, seed)
        loads[name] = result
        p = result.latency.percentiles((50, 99))
        rows.append(
            {"store": name, "requests/s": result.throughput, "p50_ms": p["p50"] * 1000, "p99_ms": p["p99"] * 1000}
        )
    return Run(
        f"A session read and written back per request, {threads} users at once",
        rows,
        loads,
        chart="bars",
        axes={"x": "store", "y": ["requests/s"]},
    )


def _store_run(name: str, threads: int, duration: float, seed: int):
    with Cluster(seed=seed) as cluster:
        if name == "Redis":
            node = cluster.add_cache("sessions", host="sessions1")
            make = lambda: RedisSessions(node.client())  # noqa: E731
        else:
            db = cluster.add_database("db", host="db1")
            db.execute(SESSIONS_DDL)
            make = lambda: SQLSessions(db.connect(), clock=cluster.clock)  # noqa: E731
        local = threading.local()  # each user thread its own client or connection

        def store():
            if not hasattr(local, "store"):
                local.store = make()
            return local.store

        def request(user: int) -> None:
            sessions, sid = store(), f"user{user}"
            data = sessions.get(sid) or {"user": sid, "requests": 0}
            data["requests"] += 1
            sessions.put(sid, data)

        return closed_loop(request, users=threads, duration=duration, keys=UniformKeys(1000), seed=seed)


def expiry(*, sessions: int = 200, ttl: float = 0.2) -> Run:
    """``sessions`` logins into each store with a TTL of ``ttl`` seconds; then the TTL passes. Columns:
    sessions readable after it, sessions still stored, and stored once a cleanup job has run."""
    rows = []
    with Cluster(seed=1) as cluster:
        node = cluster.add_cache("sessions", host="sessions1")
        db = cluster.add_database("db", host="db1")
        db.execute(SESSIONS_DDL)
        client = node.client()
        redis_store = RedisSessions(client, ttl)
        with db.connect() as conn:
            sql_store = SQLSessions(conn, ttl, cluster.clock)
            for i in range(sessions):
                redis_store.put(f"s{i}", {"user": i})
                sql_store.put(f"s{i}", {"user": i})
            cluster.clock.sleep(ttl * 1.5)  # the experiment is time passing: the sessions' TTL runs out
            readable = {
                "Redis": sum(redis_store.get(f"s{i}") is not None for i in range(sessions)),
                "DuckDB table": sum(sql_store.get(f"s{i}") is not None for i in range(sessions)),
            }
            stored = {"Redis": len(client.keys("session:*")), "DuckDB table": _rows(conn)}
            removed = sql_store.cleanup()
            after = {"Redis": len(client.keys("session:*")), "DuckDB table": _rows(conn)}
    for name in ("Redis", "DuckDB table"):
        rows.append(
            {
                "store": name,
                "logins": sessions,
                "readable after the TTL": readable[name],
                "still stored": stored[name],
                "after a cleanup job": after[name],
            }
        )
    return Run(f"{sessions} sessions, TTL {ttl:g} s, then the TTL passes", rows, figures={"cleaned": removed})


def _rows(conn) -> int:
    return conn.execute("SELECT count(*) FROM sessions").fetchone()[0]


def scale_out(nodes: tuple[int, ...] = (1, 2, 4), *, sessions: int = 1000) -> Run:
    """``sessions`` sessions spread over 1, 2, 4 Redis nodes by a consistent-hash ring of their ids; then
    one node dies. Columns: sessions on the busiest node, and sessions lost with the dead one."""
    rows = []
    for n in nodes:
        stores = {f"sessions{i}": CacheNode(f"sessions{i}") for i in range(1, n + 1)}
        ring = HashRing(stores)
        clients = {name: RedisSessions(node.client()) for name, node in stores.items()}
        for i in range(sessions):
            sid = f"s{i}"
            clients[ring.lookup(sid)].put(sid, {"user": i})
        held = {name: len(node.client().keys("session:*")) for name, node in stores.items()}
        first = next(iter(stores.values()))
        first.crash()
        first.recover()
        alive = sum(clients[ring.lookup(f"s{i}")].get(f"s{i}") is not None for i in range(sessions))
        rows.append(
            {
                "store nodes": n,
                "sessions": sessions,
                "busiest node": max(held.values()),
                "lost with one node": sessions - alive,
            }
        )
    return Run(f"{sessions} sessions over several session-store nodes", rows, chart="bars",
               axes={"x": "store nodes", "y": ["busiest node", "lost with one node"]})  # fmt: skip


# -- autoscaling -----------------------------------------------------------------------------------


def autoscaling(
    cooldowns: tuple[float, ...] = (0.3, 0.0),
    *,
    low: float = 80,
    high: float = 450,
    phases: tuple[float, float, float] = (0.6, 1.2, 1.2),
    target: float = 3.0,
    seed: int = 42,
) -> Run:
    """Open-loop load at ``low``, then ``high``, then ``low`` requests/s (for ``phases`` seconds each)
    against one web server of 2 workers x 10 ms (200 requests/s), an autoscaler keeping about ``target``
    requests inside each server, 1 to 6 servers, once per ``cooldown``.

    Rows: every 0.2 s, the offered rate, then for each cooldown the servers behind the balancer and the
    p99 of the requests answered in that slice. Figures per cooldown: ``actions`` (servers added and removed),
    ``failed`` requests (scale-in drains first: none should fail) and ``peak`` servers."""
    columns, figures, loads = {}, {}, {}
    for cooldown in cooldowns:
        series, result, actions, failed = _autoscale_run(cooldown, low, high, phases, target, seed)
        name = f"cooldown {cooldown:g} s"
        loads[name] = result
        figures[name] = {"actions": len(actions), "failed": failed, "peak": max(s for _, s, _, _ in series)}
        columns[name] = series
    first = next(iter(columns.values()))
    rows = []
    for i, (t, _, rate, _) in enumerate(first):
        row = {"t s": t, "offered/s": rate}
        for name, series in columns.items():
            row[f"servers, {name}"] = series[i][1]
        for name, series in columns.items():
            row[f"p99 ms, {name}"] = series[i][3]
        rows.append(row)
    return Run(
        "Autoscaling through a load step",
        rows,
        loads,
        figures=figures,
        chart="panels",
        axes={
            "x": "t s",
            "panels": [
                ["offered/s"],
                [f"servers, {name}" for name in columns],
                [f"p99 ms, {name}" for name in columns],
            ],
        },
    )


def _autoscale_run(cooldown: float, low: float, high: float, phases, target: float, seed: int):
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, servers=1, store="redis", health_check=False)
        scaler = Autoscaler(
            stage.lb, stage.new_server, target=target, min_servers=1, max_servers=6, interval=0.1, cooldown=cooldown
        ).start()
        users = shop_target(cluster)
        answered: list[tuple[float, float, bool]] = []
        lock = threading.Lock()
        start = cluster.clock.now()

        def request(user: int):
            sent = cluster.clock.now()
            response = users(user)
            with lock:
                answered.append((cluster.clock.now() - start, cluster.clock.now() - sent, response.status < 500))
            return response

        results = []
        for rate, seconds in zip((low, high, low), phases):
            results.append(open_loop(request, rate=rate, duration=seconds, keys=UniformKeys(200), seed=seed))
        scaler.stop()
        samples = [(s.at - start, s.servers) for s in scaler.samples]
        actions = list(scaler.actions)
    edges = [0.0, phases[0], phases[0] + phases[1], sum(phases)]
    rates = (low, high, low)
    series = []
    for i in range(math.ceil(sum(phases) / 0.2)):
        t0, t1 = i * 0.2, (i + 1) * 0.2
        servers = next((n for at, n in reversed(samples) if at <= t1), 1)  # the last reading in the slice
        rate = next(r for r, a, b in zip(rates, edges, edges[1:]) if a <= t0 < b)
        slice_ = sorted(latency for t, latency, _ in answered if t0 <= t < t1)
        p99 = slice_[min(len(slice_) - 1, int(0.99 * len(slice_)))] * 1000 if slice_ else math.nan
        series.append((round(t1, 1), servers, rate, p99))
    failed = sum(not ok for _, _, ok in answered)
    return series, results[1], actions, failed


def headline() -> str:
    """For ``minicluster tour``: users logged out by server churn, stateful against stateless."""
    return str(churn())
