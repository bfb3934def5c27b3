"""Stage 1: one server runs everything — the web app, the database and the cache.

The experiment is the first one every system needs: add users until the server saturates. With
``workers`` threads that each hold a request for ``service_time`` seconds, the server completes at
most ``workers / service_time`` requests per second. Below that, more users means more throughput;
past it (the *knee*), more users only means a longer queue and higher latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import experiment
from ..apps import HOSTNAME, create_users, users_api
from ..cache import CacheNode
from ..cluster import Client, Cluster
from ..experiment import Run, Topology
from ..load import UniformKeys, closed_loop
from ..metrics import Occupancy
from ..storage import DatabaseNode
from ..web import WebServer


@dataclass
class SingleServer(Topology):
    web: WebServer
    db: DatabaseNode
    cache: CacheNode
    client: Client

    def target(self):
        """``target(key)``: ``GET /users/{key}`` from the stage's one client."""
        return lambda key: self.client.get(f"http://{HOSTNAME}/users/{key}")


def build(cluster: Cluster, *, users: int = 1000, workers: int = 8, service_time: float = 0.01) -> SingleServer:
    """Stage 1's topology: web server, database and cache all on host ``server1``, exposed in DNS."""
    db = cluster.add_database("db", host="server1")
    create_users(db, users, seed=cluster.seed)
    cache = cluster.add_cache("cache", host="server1")
    web = cluster.add_web_server(
        "web", users_api(), host="server1", workers=workers, service_time=service_time, database=db, cache=cache
    )
    cluster.expose(HOSTNAME, web)
    return SingleServer(cluster, web, db, cache, cluster.client())


def sweep(
    users: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64),
    *,
    workers: int = 8,
    service_time: float = 0.01,
    duration: float = 0.8,
    seed: int = 42,
) -> Run:
    """A closed-loop load against one fresh single server for each user count.

    Figures: ``ceiling`` (workers / service time), ``best`` and ``knee``; columns include Little's law.
    """
    results, at_server = [], []
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, workers=workers, service_time=service_time)
        target = stage.target()
        for n in users:
            before = _server_reading(stage.web)
            results.append(closed_loop(target, users=n, duration=duration, keys=UniformKeys(1000), seed=seed))
            at_server.append(_littles_law_at_the_server(before, _server_reading(stage.web)))
    title = f"One server, {workers} workers, {service_time * 1000:g} ms per request"
    run = experiment.sweep(title, "users", list(users), results, ceiling=workers / service_time)
    for row, (measured_l, little) in zip(run.rows, at_server):
        errors = row.pop("errors")  # stays the last column
        row.update(L_server=measured_l, lambda_W_server=little, errors=errors)
    return run


def _server_reading(web) -> tuple[tuple[float, float], int, float]:
    """The server's occupancy reading, requests served so far, and the sum of their latencies."""
    latency = web.metrics.histogram("latency")
    total = latency.mean * latency.count if latency.count else 0.0
    return web.metrics.occupancy("in_server").reading(web.clock.now()), latency.count, total


def _littles_law_at_the_server(before, after) -> tuple[float, float]:
    """``(L, λ·W)`` at the web server between two readings: requests inside it (queued or in service) on
    average, and its throughput times its own mean latency (from arrival in its queue to the reply)."""
    (first, n0, w0), (second, n1, w1) = before, after
    seconds = second[0] - first[0]
    served = n1 - n0
    if seconds <= 0 or served == 0:
        return math.nan, math.nan
    return Occupancy.mean_between(first, second), (served / seconds) * ((w1 - w0) / served)


def playground(seed: int = 42):
    """Sliders for workers, service time and users, and a button that runs one short load test.

    For the notebook: turning a knob and seeing the queue appear teaches the knee faster than
    editing numbers in code. Returns the ipywidgets box to display.
    """
    import ipywidgets as w

    workers = w.IntSlider(value=8, min=1, max=32, description="workers")
    service = w.FloatSlider(value=10, min=1, max=50, step=1, description="service ms")
    users = w.IntSlider(value=16, min=1, max=128, description="users")
    run = w.Button(description="run 0.5 s of load", button_style="primary")
    out = w.Output()

    def on_click(_button) -> None:
        with out:
            out.clear_output()
            run = sweep(
                (users.value,), workers=workers.value, service_time=service.value / 1000, duration=0.5, seed=seed
            )
            row = run.rows[0]
            print(
                f"ceiling {run['ceiling']:.0f} req/s · measured {row['throughput']:.0f} req/s · "
                f"p50 {row['p50_ms']:.1f} ms · p99 {row['p99_ms']:.1f} ms"
            )

    run.on_click(on_click)
    return w.VBox([workers, service, users, run, out])


def headline(*, seed: int = 42, duration: float = 0.5) -> str:
    """Stage 1's result in a few lines of text (for ``minicluster tour``)."""
    workers, service_time = 8, 0.01
    run = sweep(workers=workers, service_time=service_time, duration=duration, seed=seed)
    return "\n".join(
        [
            f"{run.title} (ceiling {run['ceiling']:.0f} req/s):",
            run.table(),
            f"knee: throughput stops growing at about {run['knee']} users; "
            "past it, latency grows with the queue instead.",
        ]
    )
