"""The apps the stages run: request handlers over the cluster's database and cache.

One app serves stages 1 to 3 (and later ones): the users API, ``GET /users/{id}`` answering the user
as JSON, read through the cache first when it has one (cache-aside). Stages import it from here so
that every stage serves the same requests and their numbers compare.
"""

from __future__ import annotations

import json
import random

from .cache import unless_cache_down
from .load import derive_seed
from .storage import DatabaseNode
from .web import JSON, Request, Response, Router

HOSTNAME = "api.mysite.com"
USERS_DDL = "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, email VARCHAR NOT NULL)"
_FIRST = ["Ada", "Grace", "Linus", "Barbara", "Edsger", "Frances", "Ken", "Radia", "Tony", "Margaret"]
_LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Dijkstra", "Allen", "Thompson", "Perlman", "Hoare", "Hamilton"]


def create_users(db: DatabaseNode, n: int, *, seed: int = 42) -> int:
    """Create the ``users`` table with ``n`` rows (ids 1..n, names drawn from ``seed``)."""
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


def _user_response(ctx, raw: str, cached: bool, ttl: float = 60) -> Response:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return Response.json({"error": f"malformed user id {raw!r}"}, 400)
    key = f"user:{int(raw)}"
    if cached:
        hit = unless_cache_down(lambda: ctx.cache.get(key))
        if hit is not None:
            return Response(200, hit, {"Content-Type": JSON})
    row = ctx.db.execute("SELECT id, name, email FROM users WHERE id = ?", [int(raw)]).fetchone()
    if row is None:
        return Response.json({"error": f"no user {int(raw)}"}, 404)
    body = json.dumps(dict(zip(("id", "name", "email"), row)))
    if cached:
        unless_cache_down(lambda: ctx.cache.set(key, body, ex=ttl))
    return Response(200, body, {"Content-Type": JSON})


def users_api(*, cached: bool = True, ttl: float = 60) -> Router:
    """The users app: ``GET /users/{id}``, read through the cache first (cache-aside, entries kept ``ttl``
    seconds) when ``cached``. A cache that is down is skipped: the database answers."""

    def get_user(request: Request, ctx) -> Response:
        return _user_response(ctx, request.path_params["id"], cached, ttl)

    return Router().route("GET", "/users/{id}", get_user)


def users_target(cluster, *, per_user_clients: bool = False):
    """``target(key)`` for a load run: ``GET /users/{key}`` from a client of ``cluster``.

    With ``per_user_clients`` each simulated user is a device of its own (its own DNS cache and
    client id, which is what a sticky balancing policy keys on); otherwise all share one client.
    """
    if not per_user_clients:
        client = cluster.client()
        return lambda key: client.get(f"http://{HOSTNAME}/users/{key}")
    clients: dict[int, object] = {}

    def send(key: int):
        client = clients.get(key)
        if client is None:
            client = clients[key] = cluster.client(f"user{key}")
        return client.get(f"http://{HOSTNAME}/users/{key}")

    return send
