"""Stage 2: the web tier and the database move to machines of their own.

Splitting them lets each grow on its own: web servers are many and interchangeable, the database
is one careful machine. The experiments here show the two ways to grow and where each stops:

* **vertical**: more workers on the one web server. Throughput grows until the database, which
  every request visits, runs out of cores: ``cores / query_time`` is a ceiling that no number of web
  workers can pass (diminishing returns, then none).
* the web server is still a **single point of failure**: crash it and every request fails.
* **DNS is not a load balancer**: with two servers in DNS, a client keeps using the address it
  cached, so one server takes all its traffic and a dead server keeps receiving it until the TTL ends.
  Many clients are spread, client by client (coarsely, and blind to health): the clients pinned to a
  dead server fail while the others are fine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .. import experiment
from ..apps import HOSTNAME, create_users, users_api, users_target
from ..cluster import Cluster
from ..experiment import Run, Topology, under_faults
from ..faults import Crash
from ..load import UniformKeys, closed_loop, derive_seed, open_loop
from ..storage import DatabaseNode
from ..web import WebServer

#: The defaults of this stage: 20 ms of web work and 8 ms of database CPU per request, 2 DB cores.
SERVICE_TIME, QUERY_TIME, DB_CORES = 0.02, 0.008, 2


@dataclass
class WebAndData(Topology):
    webs: list[WebServer]
    db: DatabaseNode

    def target(self, client=None):
        """``target(key)``: ``GET /users/{key}`` through DNS, from ``client`` (default: a new one)."""
        if client is None:
            return users_target(self.cluster)
        return lambda key: client.get(f"http://{HOSTNAME}/users/{key}")


def build(
    cluster: Cluster,
    *,
    web_servers: int = 1,
    workers: int = 4,
    service_time: float = SERVICE_TIME,
    query_time: float = QUERY_TIME,
    db_cores: int = DB_CORES,
    users: int = 1000,
) -> WebAndData:
    """Web servers on hosts ``web1..N`` and the database on ``db1``, every query crossing the network."""
    db = cluster.add_database("db", host="db1", query_time=query_time, cores=db_cores)
    create_users(db, users, seed=cluster.seed)
    webs = [
        cluster.add_web_server(
            f"web{i}", users_api(cached=False), host=f"web{i}", workers=workers, service_time=service_time, database=db
        )
        for i in range(1, web_servers + 1)
    ]
    cluster.expose(HOSTNAME, *webs)
    return WebAndData(cluster, webs, db)


def database_ceiling(db_cores: int = DB_CORES, query_time: float = QUERY_TIME) -> float:
    """The most requests per second the database can serve, one query each."""
    return db_cores / query_time


def vertical_scaling(
    workers: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
    *,
    duration: float = 0.8,
    seed: int = 42,
    service_time: float = SERVICE_TIME,
    query_time: float = QUERY_TIME,
    db_cores: int = DB_CORES,
) -> Run:
    """One web server with more and more workers, each run with twice as many users as workers."""
    results = []
    for w in workers:
        with Cluster(seed=seed) as cluster:
            stage = build(cluster, workers=w, service_time=service_time, query_time=query_time, db_cores=db_cores)
            load = closed_loop(stage.target(), users=2 * w, duration=duration, keys=UniformKeys(1000), seed=seed)
            results.append(load)
    title = f"Vertical scaling: {service_time * 1000:g} ms web + {query_time * 1000:g} ms DB per request"
    return experiment.sweep(title, "workers", list(workers), results, ceiling=database_ceiling(db_cores, query_time))


def horizontal_scaling(
    servers: tuple[int, ...] = (1, 2, 4, 8),
    *,
    workers: int = 2,
    duration: float = 0.6,
    seed: int = 42,
    db_cores: int = DB_CORES,
) -> Run:
    """The same kind of load on 1, 2, 4, 8 web servers of ``workers`` workers (two users per worker,
    each user its own device, spread by DNS round robin), one database of ``db_cores`` cores.

    More web servers add web capacity, ``servers * workers / (web + DB time)``, until the database's
    ``db_cores / query_time`` is the lower ceiling: then the extra servers only wait for it.
    """
    return _scaling(
        "servers", servers, lambda n: {"web_servers": n, "workers": workers, "db_cores": db_cores}, duration, seed
    )


def database_scaling(
    cores: tuple[int, ...] = (1, 2, 4, 8),
    *,
    web_servers: int = 8,
    workers: int = 2,
    duration: float = 0.6,
    seed: int = 42,
) -> Run:
    """A bigger database (more cores) behind a fixed web tier: throughput follows the database's ceiling
    until the web tier's is the lower one."""
    return _scaling(
        "db cores", cores, lambda c: {"web_servers": web_servers, "workers": workers, "db_cores": c}, duration, seed
    )


def _scaling(parameter: str, values, setup, duration: float, seed: int) -> Run:
    """One closed-loop run per value; each row says both ceilings and which one binds."""
    results, ceilings = [], []
    for value in values:
        shape = setup(value)
        with Cluster(seed=seed) as cluster:
            build(cluster, **shape)
            users = 2 * shape["web_servers"] * shape["workers"]
            target = users_target(cluster, per_user_clients=True)
            results.append(closed_loop(target, users=users, duration=duration, keys=UniformKeys(1000), seed=seed))
        web = shape["web_servers"] * shape["workers"] / (SERVICE_TIME + QUERY_TIME)
        ceilings.append((web, database_ceiling(shape["db_cores"])))
    title = f"{parameter}: {SERVICE_TIME * 1000:g} ms web + {QUERY_TIME * 1000:g} ms DB per request"
    run = experiment.sweep(title, parameter, list(values), results)
    for row, (web, db) in zip(run.rows, ceilings):
        errors = row.pop("errors")
        for column in ("L", "lambda_W"):
            row.pop(column)
        row.update(web_ceiling=web, db_ceiling=db, limit="database" if db < web else "web tier", errors=errors)
    return run


def crash_the_only_server(
    *, rate: float = 100, duration: float = 2.0, crash_at: float = 0.6, recover_at: float = 1.3, seed: int = 42
) -> Run:
    """Open-loop load on one web server that crashes at ``crash_at`` and comes back at ``recover_at``.

    Figures: ``down`` and ``up`` (seconds since the start), ``failed``, ``completed``, ``failed_while_down``.
    """
    with Cluster(seed=seed) as cluster:
        stage = build(cluster)
        web = stage.webs[0]
        result, events = under_faults(
            cluster,
            lambda: open_loop(stage.target(), rate=rate, duration=duration, keys=UniformKeys(1000), seed=seed),
            [(crash_at, recover_at - crash_at, Crash(web))],
        )
    down, up = (e.at - result.started_at for e in events)
    while_down = sum(down - 0.01 <= t <= up + 0.05 for t, _ in result.failures.points)
    figures = {
        "down": down,
        "up": up,
        "failed": result.errors,
        "completed": result.completed,
        "failed_while_down": while_down,
        "error_kinds": dict(result.error_kinds),
    }
    rows = [{"phase": "whole run", **experiment.load_row(result)}]
    return Run("The only web server crashes", rows, {"load": result}, events, figures, chart="timeline")


def dns_is_not_a_balancer(*, web_servers: int = 3, requests: int = 30, seed: int = 42) -> Run:
    """Several servers behind one name, one client: where do its requests go, and after a crash?

    Figures: ``served`` (requests per server), ``crashed`` (the busiest, crashed), ``failed_after_crash``
    of ``requests`` sent again.
    """
    with Cluster(seed=seed, dns_ttl=300) as cluster:
        stage = build(cluster, web_servers=web_servers, workers=2, service_time=0.0, query_time=0.0)
        target = stage.target(cluster.client())
        for key in range(1, requests + 1):
            target(key)
        served = {w.name: w.metrics.counter("requests").value for w in stage.webs}
        busy = max(stage.webs, key=lambda w: served[w.name])
        cluster.nemesis.crash(busy)
        failed = 0
        for key in range(1, requests + 1):
            try:
                target(key)
            except Exception:  # the cached address points at the dead server
                failed += 1
        events = list(cluster.timeline)
    figures = {"served": served, "crashed": busy.name, "failed_after_crash": failed, "requests": requests}
    rows = [{"server": name, "served": n} for name, n in served.items()]
    return Run(
        "One client, servers behind one DNS name",
        rows,
        timeline=events,
        figures=figures,
        chart="bars",
        axes={"x": "server", "y": ["served"], "ylabel": "requests served"},
    )


def dns_with_many_clients(*, web_servers: int = 3, clients: int = 60, seed: int = 42) -> Run:
    """Many clients, each with its own DNS cache, behind one name served round robin; then one server dies.

    DNS does spread *clients* (each gets the next address in turn), coarsely: each client stays on the
    server it was given however many requests it sends (here 1 to 40 each, drawn from ``seed``), and
    DNS knows nothing about health, so the clients pinned to a dead server fail until their cached
    answer expires. Figures: ``served`` and ``clients`` per server, ``crashed``, ``failed_clients``
    (whose next request failed after the crash) of ``all_clients``.
    """
    rng = random.Random(derive_seed(seed, "dns clients"))
    with Cluster(seed=seed, dns_ttl=300) as cluster:
        stage = build(cluster, web_servers=web_servers, workers=2, service_time=0.0, query_time=0.0)
        devices = [cluster.client() for _ in range(clients)]
        pinned: dict[str, int] = {w.name: 0 for w in stage.webs}
        for device in devices:
            before = {w.name: w.metrics.counter("requests").value for w in stage.webs}
            target = stage.target(device)
            for key in range(1, rng.choice((1, 2, 3, 5, 8, 40)) + 1):
                target(key)
            used = [w.name for w in stage.webs if w.metrics.counter("requests").value > before[w.name]]
            pinned[used[0]] += 1
        served = {w.name: w.metrics.counter("requests").value for w in stage.webs}
        crashed = stage.webs[0]
        cluster.nemesis.crash(crashed)
        failed_clients = 0
        for device in devices:
            target = stage.target(device)
            try:
                target(1)
            except Exception:  # its cached address is the dead server's: no other is tried
                failed_clients += 1
        events = list(cluster.timeline)
    figures = {
        "served": served,
        "clients": pinned,
        "crashed": crashed.name,
        "failed_clients": failed_clients,
        "all_clients": clients,
    }
    rows = [{"server": name, "clients": pinned[name], "served": served[name]} for name in served]
    return Run(
        f"{clients} clients, {web_servers} servers behind one DNS name",
        rows,
        timeline=events,
        figures=figures,
        chart="bars",
        axes={"x": "server", "y": ["served"], "ylabel": "requests served"},
    )


def headline(*, seed: int = 42, duration: float = 0.5) -> str:
    """Stage 2's results in a few lines of text (for ``minicluster tour``)."""
    sweep = vertical_scaling(duration=duration, seed=seed)
    crash = crash_the_only_server(seed=seed)
    return "\n".join(
        [
            f"{sweep.title}; the database's {DB_CORES} cores cap it at {sweep['ceiling']:.0f} req/s:",
            sweep.table(),
            f"beyond {sweep['knee']} workers, more workers buy nothing: the database is the bottleneck.",
            f"the only web server crashed for {crash['up'] - crash['down']:.1f} s of a 2 s run: "
            f"{crash.load.error_rate:.0%} of all requests failed, {crash['failed_while_down']} of those "
            f"{crash['failed']} while it was down.",
        ]
    )
