"""The whole system: every tier of the ten stages running at once, as in the notes' last picture.

Users in three regions fetch static files from the CDN's nearest edge; everything else goes through DNS
to the load balancer, to a stateless web tier (sessions in a shared Redis), which reads users through a
cache from a primary and its replicas, reads and writes posts on shards behind a connection proxy,
queues slow work (thumbnails) for workers, and logs every request to one place while a dashboard and a
failover monitor watch.

:func:`run` drives one mixed load through it and injects one fault of each kind, one after another: a
web server crashes, the cache crashes, the primary database crashes (the monitor promotes a replica), a
shard slows down, a worker dies mid-job, a CDN edge goes dark. Each request is tallied by kind, so the
table says what each fault cost and what absorbed it.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .apps import HOSTNAME
from .cache import CacheNode, unless_cache_down
from .cdn import CDN, Origin
from .cluster import Cluster
from .dashboard import Dashboard
from .errors import NoReplicaToPromote, check_positive
from .experiment import Run, Topology, under_faults
from .faults import Crash, Slow
from .load import UniformKeys, open_loop
from .loadbalancer import LoadBalancer
from .nodes import Node
from .posts import POSTS_DDL, SELECT_POSTS, Post, PostsSpec, _columns, generate
from .proxy import ConnectionPool
from .queue import Message, StreamQueue, WorkerCrash, WorkerNode, WorkerPool, apply_once
from .replication import ReplicaSet
from .sessions import RedisSessions
from .sharding import ModuloRouter
from .storage import DatabaseNode
from .web import JSON, Request, Response, Router, WebServer

REGIONS = ("us", "eu", "ap")
#: What the users do, by ``user id % 10``: the share of each kind of request in the load.
KINDS = ("static", "static", "profile", "profile", "profile", "update", "posts", "feed", "upload", "cart")
USERS = 300


class ShardProxy(Node):
    """The connection proxy in front of the shards: a small pool of connections to each, a user's
    statement routed to the user's shard, a feed query fanned out to all of them at once."""

    kind = "proxy"

    def __init__(self, name: str, shards: list[DatabaseNode], *, pool_size: int = 4, host: str | None = None,
                 clock=None) -> None:  # fmt: skip
        super().__init__(name, host=host, clock=clock)
        check_positive("pool_size", pool_size, integer=True)
        self.shards = shards
        self.router = ModuloRouter(len(shards))
        self.pools = [ConnectionPool(s.connect, pool_size, 2.0, self.clock) for s in shards]
        self._fan = ThreadPoolExecutor(max_workers=len(shards), thread_name_prefix=f"{name}-fan-out")

    def execute(self, user_id: int, sql: str, params=None) -> list[tuple]:
        """``sql`` on the shard of ``user_id``, over a pooled connection."""
        self.ensure_up()
        with self.pools[self.router.shard_for(user_id)].connection() as conn:
            return conn.execute(sql, params).fetchall()

    def fan_out(self, sql: str, params=None) -> list[list[tuple]]:
        """``sql`` on every shard at once; the rows of each."""
        self.ensure_up()

        def one(pool: ConnectionPool) -> list[tuple]:
            with pool.connection() as conn:
                return conn.execute(sql, params).fetchall()

        return list(self._fan.map(one, self.pools))

    def links(self) -> list[tuple[str, str, str, bool]]:
        size = self.pools[0].size
        return [(self.name, s.name, f"pool of {size} · by user_id, feed to all", s.is_up) for s in self.shards]

    def stop(self) -> None:
        self._fan.shutdown(wait=False, cancel_futures=True)


class FailoverMonitor:
    """Automation: every ``every`` seconds, looks at the replica set's primary; when it has been down for
    ``after`` looks in a row, promotes the most advanced replica (as Orchestrator or Patroni would)."""

    def __init__(self, replicas: ReplicaSet, *, every: float = 0.05, after: int = 2) -> None:
        self.replicas, self.every, self.after = replicas, every, after
        self.promotions = 0
        #: Set at the first look that found the primary down long enough and no replica up to promote.
        self.waited = threading.Event()
        #: Set at each promotion (tests and notebooks wait on it).
        self.promoted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="failover-monitor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        down = 0
        while not self._stop.wait(self.every):  # a period between looks, not a synchronization
            down = down + 1 if not self.replicas.primary.node.is_up else 0
            if down >= self.after:
                try:
                    self.replicas.failover()
                except NoReplicaToPromote:  # every replica is down too: look again, promote one once it is back
                    self.waited.set()
                    continue
                self.promotions += 1
                self.promoted.set()
                down = 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class WholeSystem(Topology):
    cdn: CDN
    lb: LoadBalancer
    webs: list[WebServer]
    sessions: CacheNode
    cache: CacheNode
    users: ReplicaSet
    proxy: ShardProxy
    queue: StreamQueue
    pool: WorkerPool
    monitor: FailoverMonitor
    broker: CacheNode
    #: Set by the worker-crash fault: the next job's worker dies after its effect, before its ack.
    crash_next: threading.Event = field(default_factory=threading.Event)
    #: ``(kind, seconds since the load began, ok, seconds it took)`` for each request of :meth:`target`.
    tally: list[tuple[str, float, bool, float]] = field(default_factory=list)
    #: The bytes of each upload the web tier accepted (answered 202).
    accepted: list[int] = field(default_factory=list)

    def target(self):
        """``target(user)``: one request of the kind :data:`KINDS` gives the user, from the user's region;
        each outcome is added to :attr:`tally`."""
        client = self.cluster.client()
        started = self.cluster.clock.now()
        sessions: dict[int, str] = {}
        lock = threading.Lock()

        def send(user: int):
            kind = KINDS[user % len(KINDS)]
            sent = self.cluster.clock.now()
            try:
                outcome = self._one(client, kind, user, sessions)
                ok = not (isinstance(getattr(outcome, "status", None), int) and outcome.status >= 500)
            except Exception as exc:  # counted as a failure of its kind, and handed to the load's recorder
                outcome, ok = exc, False
            now = self.cluster.clock.now()
            if kind == "static":
                kind = f"static {REGIONS[user % len(REGIONS)]}"  # tallied by the region it came from
            with lock:
                self.tally.append((kind, sent - started, ok, now - sent))
                if kind == "upload" and getattr(outcome, "status", None) == 202:
                    self.accepted.append(1000 + user)
            return outcome

        return send

    def _one(self, client, kind: str, user: int, sessions: dict[int, str]):
        url = f"http://{HOSTNAME}"
        if kind == "static":
            return self.cdn.get(REGIONS[user % len(REGIONS)], "/static/app.js")
        if kind == "profile":
            return client.get(f"{url}/users/{user}")
        if kind == "update":
            return client.request("POST", f"{url}/users/{user}", body=f"bio of {user}, edited")
        if kind == "posts":
            return client.get(f"{url}/users/{user}/posts")
        if kind == "feed":
            return client.get(f"{url}/feed")
        if kind == "upload":
            return client.request("POST", f"{url}/photos", body=json.dumps({"user": user, "bytes": 1000 + user}))
        sid = sessions.get(user)
        if sid is None:
            answer = client.request("POST", f"{url}/login", body=f"user{user}")
            if answer.status != 200:
                return answer
            sid = sessions[user] = answer.data()["session"]
        return client.request("GET", f"{url}/cart", headers={"Cookie": f"session={sid}"})


def app(users: ReplicaSet, cache: CacheNode, sessions: CacheNode, proxy: ShardProxy, queue: StreamQueue) -> Router:
    """Every tier's request as one app: profiles through the cache from the replica set, posts and the
    feed through the shard proxy, uploads queued, carts in sessions."""
    store = RedisSessions(sessions.client(), 1800)
    redis = cache.client()

    def profile(request: Request, ctx) -> Response:
        user = int(request.path_params["id"])
        key = f"profile:{user}"
        hit = unless_cache_down(lambda: redis.get(key))
        if hit is not None:
            return Response(200, hit, {"Content-Type": JSON})
        value, member = users.read(user, user=user, client=ctx.server.host)
        if value is None:
            return Response.json({"error": f"no user {user}"}, 404)
        body = json.dumps({"id": user, "bio": value, "from": member.name})
        unless_cache_down(lambda: redis.set(key, body, ex=60))
        return Response(200, body, {"Content-Type": JSON})

    def update(request: Request, ctx) -> Response:
        user = int(request.path_params["id"])
        users.write(user, request.body, user=user, client=ctx.server.host)
        unless_cache_down(lambda: redis.delete(f"profile:{user}"))
        return Response.json({"saved": user})

    def posts(request: Request, ctx) -> Response:
        user = int(request.path_params["id"])
        rows = proxy.execute(user, f"{SELECT_POSTS} WHERE user_id = ? ORDER BY created_at DESC, post_id DESC LIMIT 20",
                             [user])  # fmt: skip
        return Response.json({"posts": [row[0] for row in rows]})

    def feed(request: Request, ctx) -> Response:
        per_shard = proxy.fan_out(f"{SELECT_POSTS} ORDER BY created_at DESC, post_id DESC LIMIT 21")
        top = heapq.nlargest(21, (Post(*row) for rows in per_shard for row in rows), key=lambda p: p.key)
        return Response.json({"posts": [p.post_id for p in top[:20]], "has_next": len(top) > 20})

    def upload(request: Request, ctx) -> Response:
        photo = json.loads(request.body)
        job = queue.put({"job": f"{photo['user']}-{queue.client.incr('photo-ids')}", **photo})
        return Response.json({"queued": job}, 202)

    def login(request: Request, ctx) -> Response:
        sid = f"s-{request.body}"
        store.put(sid, {"user": request.body, "items": []})
        return Response.json({"session": sid})

    def cart(request: Request, ctx) -> Response:
        cookie = request.headers.get("Cookie", "")
        data = store.get(cookie.removeprefix("session="))
        if data is None:
            return Response.json({"error": "not logged in"}, 401)
        return Response.json(data)

    return (
        Router()
        .route("GET", "/users/{id}", profile)
        .route("POST", "/users/{id}", update)
        .route("GET", "/users/{id}/posts", posts)
        .route("GET", "/feed", feed)
        .route("POST", "/photos", upload)
        .route("POST", "/login", login)
        .route("GET", "/cart", cart)
        .route("GET", "/healthz", lambda request, ctx: Response.json({"ok": True}))
    )


def build(cluster: Cluster, *, servers: int = 3, replicas: int = 2, shards: int = 4, workers: int = 2,
          seed: int | None = None) -> WholeSystem:  # fmt: skip
    """Every tier at once (see the module's docstring); :data:`USERS` users, their posts on ``shards`` shards."""
    seed = cluster.seed if seed is None else seed
    origin = Origin("static", REGIONS[0], host="origin-us", clock=cluster.clock)
    origin.deploy("/static/app.js", "console.log('v1')")
    cluster._add(origin)
    cdn = CDN(cluster, origin, REGIONS, ttl=60)

    primary = cluster.add_database("users-primary", host="db1", query_time=0.001)
    rs = ReplicaSet(cluster, primary, [], mode="async")
    primary.bulk_load("kv", {"key": range(1, USERS + 1), "value": [f"bio of {u}" for u in range(1, USERS + 1)]})
    for i in range(1, replicas + 1):
        rs.add_replica(cluster.add_database(f"users-replica{i}", host=f"db{i + 1}", query_time=0.001))

    nodes = [cluster.add_database(f"shard{i}", host=f"shard-host{i}", query_time=0.002) for i in range(shards)]
    router = ModuloRouter(shards)
    everything = generate(PostsSpec(posts=4000, users=USERS, seed=seed))
    for i, node in enumerate(nodes):
        node.execute(POSTS_DDL)
        node.bulk_load("posts", _columns([p for p in everything if router.shard_for(p.user_id) == i]))
    proxy = cluster._add(ShardProxy("shard-proxy", nodes, host="dbproxy1", clock=cluster.clock))
    cluster.link_sources.append(proxy.links)
    cluster.on_close(proxy.stop)

    cache = cluster.add_cache("cache", host="cache1")
    sessions = cluster.add_cache("sessions", host="sessions1")
    broker = cluster.add_cache("queue", host="mq1")
    queue = StreamQueue(broker.client(), "thumbnails", visibility_timeout=0.2)

    router_app = app(rs, cache, sessions, proxy, queue)
    webs = [
        cluster.add_web_server(f"web{i}", router_app, host=f"web{i}", workers=4, service_time=0.002, cache=cache)
        for i in range(1, servers + 1)
    ]
    # A crashed server fails its probe at once; a live one answers a probe behind the requests queued
    # before it, which on a busy machine can take longer than 50 ms: a short timeout would eject it too.
    lb = cluster.add_load_balancer("lb", webs, host="lb1", interval=0.05, probe_timeout=0.25)
    cluster.expose(HOSTNAME, lb)
    cluster.logs.enable()

    system = WholeSystem(cluster, cdn, lb, webs, sessions, cache, rs, proxy, queue, None, None, broker)  # type: ignore[arg-type]
    system.pool = WorkerPool(queue, lambda message: _thumbnail(system, message), workers=workers, name="thumbnailer")
    system.monitor = FailoverMonitor(rs)
    cluster.on_close(system.monitor.stop)
    cluster.on_close(system.pool.stop)
    cluster._add(WorkerNode("thumbnailers", host="workers1", workers=workers))
    cluster.links += [(w.name, n, label) for w in webs for n, label in (
        ("sessions", "sessions"), ("shard-proxy", "posts, feed"), ("queue", "XADD a thumbnail job"))]  # fmt: skip
    cluster.links.append(("queue", "thumbnailers", "jobs, acked when done"))
    rs.clients = [w.name for w in webs]
    return system


def _thumbnail(system: WholeSystem, message: Message) -> None:
    """A worker's job: count the photo's bytes into its user's storage, once however often delivered."""
    p = message.payload
    redis = system.broker.client()
    apply_once(redis, f"done:{p['job']}", lambda pipe: pipe.hincrby("storage", str(p["user"]), p["bytes"]))
    if system.crash_next.is_set():
        system.crash_next.clear()
        raise WorkerCrash()  # after the effect, before the ack: the job comes back to another worker


class WorkerDies:
    """The next thumbnail job's worker dies after the job's effect, before acknowledging it."""

    action, heal_action, target, detail = "crash", "heal", "a thumbnail worker", "mid-job"

    def __init__(self, system: WholeSystem) -> None:
        self.system = system

    def inject(self):
        self.system.crash_next.set()
        return lambda: None


@dataclass(frozen=True)
class FaultStep:
    at: float
    what: str
    absorbed_by: str
    #: The request kinds (as :attr:`WholeSystem.tally` names them) this fault could hurt.
    affects: tuple[str, ...]


def faults_of(system: WholeSystem) -> list[tuple[FaultStep, Any]]:
    """One fault of each kind, in the order :func:`run` injects them (``at``: the share of the run)."""

    return [
        (FaultStep(0.10, "web2 crashes", "health check ejects it; sessions are in Redis",
                   ("profile", "update", "posts", "feed", "upload", "cart")), Crash(system.webs[1])),
        (FaultStep(0.25, "the cache crashes", "profiles read from the replicas",
                   ("profile",)), Crash(system.cache)),
        (FaultStep(0.40, "the primary crashes", "the monitor promotes a replica",
                   ("update",)), Crash(system.users.primary.node)),
        (FaultStep(0.55, "shard1 slows down x5", "the proxy's pool bounds its queue",
                   ("posts", "feed")), Slow(system.proxy.shards[1], 5)),
        (FaultStep(0.70, "a worker dies mid-job", "redelivery; the effect is idempotent",
                   ("upload",)), WorkerDies(system)),
        (FaultStep(0.85, "edge-us goes dark", "us users go to the next edge",
                   ("static us",)), Crash(system.cdn.edges["us"])),
    ]  # fmt: skip


def run(*, rate: float = 150, duration: float = 3.0, seed: int = 42) -> Run:
    """The whole system under ``rate`` requests/s for ``duration`` s, with one fault of each kind.

    Rows: one per fault, with the requests of the kinds it could hurt from its start to the next fault's,
    how many of those failed, for how long after the fault failures went on, and their median latency
    before and after (the cost of what absorbed it). Figures: ``total`` and ``failed`` requests, ``by
    kind`` (``{kind: (requests, failed)}``), ``photos`` (the bytes of the uploads accepted and those the
    workers counted), ``promotions``, ``logged`` (log records), ``dashboard`` rows, and the ``diagram`` of
    the system after the faults."""
    with Cluster(seed=seed) as cluster:
        system = build(cluster, seed=seed)
        board = Dashboard(system.webs, edge=system.lb)
        steps = faults_of(system)
        plan = [(step.at * duration, fault) for step, fault in steps]
        result, events = board.watch(
            lambda: under_faults(
                cluster,
                lambda: open_loop(system.target(), rate=rate, duration=duration, keys=UniformKeys(USERS), seed=seed),
                plan,
            )
        )
        photos = _drain_photos(system)
        diagram = system.diagram("The whole system, after one fault of each kind")
        logged = len(cluster.logs.records)
    rows = []
    starts = [step.at * duration for step, _ in steps]
    for i, (step, _) in enumerate(steps):
        start, end = starts[i], (starts[i + 1] if i + 1 < len(steps) else float("inf"))
        mine = [(t, ok, took) for kind, t, ok, took in system.tally if kind in step.affects]
        during = [(t, ok, took) for t, ok, took in mine if start <= t < end]
        before = [took for t, ok, took in mine if (starts[i - 1] if i else 0.0) <= t < start and ok]
        failed = [t for t, ok, _ in during if not ok]
        rows.append({
            "fault": step.what, "absorbed by": step.absorbed_by, "requests it could hurt": len(during),
            "failed": len(failed), "failing for s": round(max(failed) - start, 2) if failed else 0.0,
            "median ms before": _median_ms(before), "median ms after": _median_ms([x for _, ok, x in during if ok]),
        })  # fmt: skip
    by_kind: dict[str, tuple[int, int]] = {}
    counts = Counter((kind, ok) for kind, _, ok, _ in system.tally)
    for kind in sorted({kind for kind, *_ in system.tally}):
        by_kind[kind] = (counts[kind, True] + counts[kind, False], counts[kind, False])
    return Run(
        "The whole system under load, one fault of each kind",
        rows,
        loads={"load": result},
        timeline=events,
        figures={
            "total": result.completed,
            "failed": result.errors,
            "by kind": by_kind,
            "photos": photos,
            "promotions": system.monitor.promotions,
            "logged": logged,
            # (kind, seconds into the run, ok, latency) of every request, and each fault's window
            "requests": list(system.tally),
            "windows": {
                step.what: (starts[i], starts[i + 1] if i + 1 < len(steps) else duration)
                for i, (step, _) in enumerate(steps)
            },  # fmt: skip
            "dashboard": board.rows,
            "diagram": diagram,
        },  # fmt: skip
        chart="timeline",
        axes={"latency": True},
    )


def _median_ms(seconds: list[float]) -> float:
    return round(1000 * sorted(seconds)[len(seconds) // 2], 1) if seconds else float("nan")


def _drain_photos(system: WholeSystem, within: float = 5.0) -> dict[str, int]:
    """Wait (up to ``within`` s) for the workers to empty the queue; then the bytes of the uploads the web
    tier accepted against those the workers counted."""
    clock = system.cluster.clock
    deadline = clock.now() + within
    pause = threading.Event()
    while system.queue.depth() and clock.now() < deadline:
        pause.wait(0.02)  # polling the broker's depth: nothing to wait on but time
    counted = sum(int(v) for v in system.broker.client().hgetall("storage").values())
    return {"uploaded": len(system.accepted), "bytes accepted": sum(system.accepted), "bytes counted": counted,
            "left in the queue": system.queue.depth()}  # fmt: skip
