"""The apps the stages run: request handlers over the cluster's database and cache.

One app serves stages 1 to 3 (and later ones): the users API, ``GET /users/{id}`` answering the user
as JSON, read through the cache first when it has one (cache-aside). Stages import it from here so
that every stage serves the same requests and their numbers compare.
"""

from __future__ import annotations

import json
import random
import secrets
import threading

from .cache import unless_cache_down
from .errors import ConfigError
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


def shop_api(store: str = "redis", *, ttl: float = 1800) -> Router:
    """The shop app: who is logged in is a session (``Cookie: session=<id>``), kept in ``store``:

    * ``"local"``: each web server's own memory (stateful; lost when the server goes);
    * ``"redis"``: the shared session store, the web server's cache node (stateless);
    * ``"sql"``: a ``sessions`` table on the web server's database (stateless).

    ``POST /login`` (body: a user name) answers ``{"session": id}``; ``GET /cart`` answers the user and the
    items, or 401 when the session is unknown (the user was logged out); ``POST /cart`` (body: an item)
    adds the item.
    """
    from .sessions import LocalSessions, RedisSessions, SQLSessions

    if store not in ("local", "redis", "sql"):
        raise ConfigError(f"a session store is 'local', 'redis' or 'sql', got {store!r}")
    memories: dict[tuple[str, int], LocalSessions] = {}
    lock = threading.Lock()

    def sessions(ctx):
        if store == "redis":
            return RedisSessions(ctx.cache, ttl)
        if store == "sql":
            return SQLSessions(ctx.db, ttl, ctx.server.clock)
        with lock:  # a server that crashed comes back with an empty memory
            return memories.setdefault((ctx.server.name, ctx.server.incarnation), LocalSessions())

    def current(request: Request, ctx):
        cookie = request.headers.get("Cookie", "")
        sid = cookie.removeprefix("session=") if cookie.startswith("session=") else None
        return sid, (sessions(ctx).get(sid) if sid else None)

    def login(request: Request, ctx) -> Response:
        sid = secrets.token_urlsafe(12)
        sessions(ctx).put(sid, {"user": request.body or "guest", "items": []})
        return Response(200, json.dumps({"session": sid}), {"Content-Type": JSON, "Set-Cookie": f"session={sid}"})

    def cart(request: Request, ctx) -> Response:
        sid, data = current(request, ctx)
        if data is None:
            return Response.json({"error": "not logged in"}, 401)
        if request.method == "POST":
            data["items"].append(request.body)
            sessions(ctx).put(sid, data)
        return Response.json(data)

    return Router().route("POST", "/login", login).route("GET", "/cart", cart).route("POST", "/cart", cart)


def shop_target(cluster, *, hostname: str = HOSTNAME):
    """``target(key)`` for a load run: user ``key`` (its own device) logs in once, then reads its cart;
    a 401 means it was logged out: it is counted in ``target.logged_out`` and logs in again next time."""
    clients: dict[int, object] = {}
    sids: dict[int, str] = {}
    lock = threading.Lock()

    def send(key: int):
        with lock:
            client = clients.get(key) or clients.setdefault(key, cluster.client(f"user{key}"))
            sid = sids.get(key)
        if sid is None:
            response = client.request("POST", f"http://{hostname}/login", body=f"user{key}")
            if response.status == 200:
                with lock:
                    sids[key] = response.data()["session"]
            return response
        response = client.request("GET", f"http://{hostname}/cart", headers={"Cookie": f"session={sid}"})
        if response.status == 401:
            with lock:
                send.logged_out += 1
                sids.pop(key, None)
        return response

    send.logged_out = 0
    return send
