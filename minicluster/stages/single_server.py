"""Stage 1: one server runs everything — the web app, the database and the cache.

The experiment is the first one every system needs: add users until the server saturates. With
``workers`` threads that each hold a request for ``service_time`` seconds, the server completes at
most ``workers / service_time`` requests per second. Below that, more users means more throughput;
past it (the *knee*), more users only means a longer queue and higher latency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..cluster import Client, Cluster
from ..load import Sweep, UniformKeys, closed_loop
from ..storage import DatabaseNode
from ..web import Request, Response, Router, WebServer

HOSTNAME = "api.mysite.com"
USERS_DDL = "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, email VARCHAR NOT NULL)"
_FIRST = ["Ada", "Grace", "Linus", "Barbara", "Edsger", "Frances", "Ken", "Radia", "Tony", "Margaret"]
_LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Dijkstra", "Allen", "Thompson", "Perlman", "Hoare", "Hamilton"]


def create_users(db: DatabaseNode, n: int, *, seed: int = 42) -> int:
    """Create the ``users`` table with ``n`` rows (ids 1..n, names drawn from ``seed``)."""
    import random

    from ..load import derive_seed

    rng = random.Random(derive_seed(seed, "users"))
    names = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(n)]
    db.execute(USERS_DDL)
    return db.bulk_load(
        "users",
        {
            "id": range(1, n + 1),
            "name": names,
            "email": [f"{name.split()[0].lower()}{i}@example.com" for i, name in enumerate(names, 1)],
        },
    )


def _user_response(ctx, raw: str, cached: bool) -> Response:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return Response.json({"error": f"malformed user id {raw!r}"}, 400)
    key = f"user:{int(raw)}"
    if cached:
        hit = ctx.cache.get(key)
        if hit is not None:
            return Response(200, hit, {"Content-Type": "application/json"})
    row = ctx.db.execute("SELECT id, name, email FROM users WHERE id = ?", [int(raw)]).fetchone()
    if row is None:
        return Response.json({"error": f"no user {int(raw)}"}, 404)
    body = json.dumps(dict(zip(("id", "name", "email"), row)))
    if cached:
        ctx.cache.set(key, body, ex=60)
    return Response(200, body, {"Content-Type": "application/json"})


def users_api(*, cached: bool = True) -> Router:
    """The app: ``GET /users/{id}``, read through the cache first (cache-aside) when ``cached``."""

    def get_user(request: Request, ctx) -> Response:
        return _user_response(ctx, request.path_params["id"], cached)

    return Router().route("GET", "/users/{id}", get_user)


@dataclass
class SingleServer:
    cluster: Cluster
    web: WebServer
    db: DatabaseNode
    client: Client


def build(cluster: Cluster, *, users: int = 1000, workers: int = 8, service_time: float = 0.01) -> SingleServer:
    """Stage 1's topology: web server, database and cache all on host ``server1``, exposed in DNS."""
    db = cluster.add_database("db", host="server1")
    create_users(db, users, seed=cluster.seed)
    cache = cluster.add_cache("cache", host="server1")
    web = cluster.add_web_server(
        "web", users_api(), host="server1", workers=workers, service_time=service_time, database=db, cache=cache
    )
    cluster.expose(HOSTNAME, web)
    return SingleServer(cluster, web, db, cluster.client())


def sweep(
    users: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64),
    *,
    workers: int = 8,
    service_time: float = 0.01,
    duration: float = 0.8,
    seed: int = 42,
) -> Sweep:
    """Run a closed-loop load against a fresh single server for each user count."""
    results = []
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, workers=workers, service_time=service_time)
        keys = UniformKeys(1000)

        def target(key: int) -> Response:
            return stage.client.get(f"http://{HOSTNAME}/users/{key}")

        for n in users:
            results.append(closed_loop(target, users=n, duration=duration, keys=keys, seed=seed))
    return Sweep("users", list(users), results, ceiling=workers / service_time)


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
            result = sweep(
                (users.value,), workers=workers.value, service_time=service.value / 1000, duration=0.5, seed=seed
            )
            row = result.table()[0]
            print(
                f"ceiling {result.ceiling:.0f} req/s · measured {row['throughput']:.0f} req/s · "
                f"p50 {row['p50_ms']:.1f} ms · p99 {row['p99_ms']:.1f} ms"
            )

    run.on_click(on_click)
    return w.VBox([workers, service, users, run, out])


def headline(*, seed: int = 42, duration: float = 0.5) -> str:
    """Stage 1's result in a few lines of text (for ``minicluster tour``)."""
    workers, service_time = 8, 0.01
    result = sweep(workers=workers, service_time=service_time, duration=duration, seed=seed)
    return "\n".join(
        [
            f"One server, {workers} workers, {service_time * 1000:g} ms per request "
            f"(ceiling {result.ceiling:.0f} req/s):",
            result.format(),
            f"knee: throughput stops growing at about {result.knee()} users; "
            "past it, latency grows with the queue instead.",
        ]
    )
