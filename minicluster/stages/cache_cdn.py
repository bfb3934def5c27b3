"""Stage 5: a cache in front of the database, and a CDN in front of the static files.

A cache keeps answers in memory so that the database is asked less; a CDN keeps copies of static
files near the users so that the far-away origin is asked less. Both trade freshness and memory for
speed. The experiments, on a real DuckDB database, a Redis-compatible cache with a real key budget
(:mod:`minicluster.eviction`) and CDN edges on the network model (:mod:`minicluster.cdn`):

* **hit ratio** against cache size and eviction policy under Zipf keys, and what it buys: database
  load and latency;
* **TTL**: a longer TTL hits more often and serves more stale data;
* **invalidation**: no invalidation, delete-then-write and write-then-delete, step by step;
* **the thundering herd**: 50 misses on one hot key at once, with and without single flight;
* **the cache crashes**: the database takes the whole load, the app keeps answering;
* **the cache is volatile**: data written only to it is lost with it;
* **the cache tier grows on its own**: more cache nodes, more memory, same web tier;
* **the CDN**: latency per region with and without it, edges down, and a deploy: stale files with a
  TTL, with the invalidation API and with versioned URLs.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass

from .. import cache as caching
from ..apps import HOSTNAME, USERS_DDL, create_users, users_api, users_target
from ..cache import CacheNode
from ..cdn import CDN, Origin
from ..clock import ManualClock
from ..cluster import Cluster
from ..eviction import POLICIES
from ..experiment import Run, Topology, load_row, under_faults
from ..faults import Crash
from ..hashring import HashRing
from ..load import ZipfKeys, closed_loop, derive_seed, open_loop
from ..loadbalancer import LoadBalancer
from ..storage import DatabaseNode
from ..web import WebServer

#: The defaults of this stage: 2,000 users read with Zipf popularity (s = 1); the database spends 5 ms
#: of one of its 2 cores per query (400 queries/s at most).
USERS, ZIPF_S, QUERY_TIME, DB_CORES = 2000, 1.0, 0.005, 2
#: The CDN's regions; the origin is in the first.
REGIONS = ("us", "eu", "ap")


@dataclass
class Cached(Topology):
    lb: LoadBalancer
    webs: list[WebServer]
    cache: CacheNode
    db: DatabaseNode
    cdn: CDN

    def target(self):
        """``target(key)``: user ``key`` asks ``GET /users/{key}`` through the balancer."""
        return users_target(self.cluster)


def build(
    cluster: Cluster,
    *,
    web_servers: int = 2,
    workers: int = 4,
    cache_keys: int | None = None,
    policy=None,
    ttl: float = 60,
    query_time: float = QUERY_TIME,
    users: int = USERS,
) -> Cached:
    """Balancer ``lb``, web servers ``web1..N`` reading users cache-aside through ``cache`` (host
    ``cache1``, at most ``cache_keys`` keys) from ``db`` (host ``db1``); static files on ``static`` (the
    origin, region us) behind CDN edges in every region of :data:`REGIONS`."""
    db = cluster.add_database("db", host="db1", query_time=query_time, cores=DB_CORES)
    create_users(db, users, seed=cluster.seed)
    cache = cluster.add_cache("cache", host="cache1", max_keys=cache_keys, policy=policy)
    app = users_api(cached=True, ttl=ttl)
    webs = [
        cluster.add_web_server(f"web{i}", app, host=f"web{i}", workers=workers, database=db, cache=cache)
        for i in range(1, web_servers + 1)
    ]
    lb = cluster.add_load_balancer("lb", webs, host="lb1", health_check=False)
    cluster.expose(HOSTNAME, lb)
    origin = Origin("static", REGIONS[0], host="origin-us", clock=cluster.clock)
    cluster._check_new(origin.name)
    cluster._add(origin)
    origin.deploy("/static/app.js", "console.log('v1')")
    cdn = CDN(cluster, origin, REGIONS)
    return Cached(cluster, lb, webs, cache, db, cdn)


# -- the cache on its own: hit ratio, policies, size -----------------------------------------------


class _Database:
    """The users table on a DuckDB node, one connection per thread, counting the queries that reach it.

    With ``preload`` the table is read once, in one query, and each lookup is answered from that copy
    (still counted): for replays where only the sequence of hits and misses matters, at a fraction of
    a query's cost.
    """

    def __init__(self, node: DatabaseNode, *, preload: bool = False) -> None:
        self.node = node
        self._local = threading.local()
        self.queries = 0
        self._lock = threading.Lock()
        self._copy = dict(node.execute("SELECT id, name FROM users")) if preload else None

    def name_of(self, user: int) -> str | None:
        if self._copy is not None:
            with self._lock:
                self.queries += 1
            return self._copy.get(user)
        row = self.execute("SELECT name FROM users WHERE id = ?", [user]).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, params=None):
        """DB-API ``execute`` on this thread's connection, counted (what exercise 05.cache_aside is given)."""
        with self._lock:
            self.queries += 1
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.node.connect()
        return conn.execute(sql, params)


def cache_aside(cache, db: _Database, user: int, ttl: float = 60) -> str | None:
    """Read ``user``'s name through the cache (:func:`minicluster.cache.cache_aside`): a hit answers, a
    miss asks the database and keeps the answer ``ttl`` seconds; a cache that is down is skipped."""
    return caching.cache_aside(cache, f"user:{user}", lambda: db.name_of(user), ttl=ttl)


def _zipf_keys(requests: int, seed: int, keys: int = USERS, s: float = ZIPF_S) -> list[int]:
    rng = random.Random(derive_seed(seed, "zipf"))
    dist = ZipfKeys(keys, s)
    return [dist.sample(rng) for _ in range(requests)]


def hit_ratio_by_size(
    sizes: tuple[int, ...] = (20, 100, 500),
    policies: tuple[str, ...] = ("LRU", "LFU", "FIFO"),
    *,
    requests: int = 2000,
    seed: int = 42,
) -> Run:
    """The same seeded sequence of ``requests`` Zipf-popular reads (2,000 users, s = 1) replayed through
    caches holding ``sizes`` keys, one run per size and eviction policy: exact and repeatable.

    Columns: the size, then the hit ratio per policy. Figure ``ratio``: ``{policy: {size: hit ratio}}``.
    """
    sequence = _zipf_keys(requests, seed)
    ratios: dict[str, dict[int, float]] = {p: {} for p in policies}
    with Cluster(seed=seed) as cluster:
        db_node = cluster.add_database("db", host="db1")
        create_users(db_node, USERS, seed=seed)
        db = _Database(db_node, preload=True)
        for name in policies:
            for size in sizes:
                cache = CacheNode(f"cache-{size}", max_keys=size, policy=POLICIES[name]())
                client = cache.client()
                for user in sequence:
                    cache_aside(client, db, user)
                ratios[name][size] = cache.hit_ratio()
    rows = [{"cache keys": size, **{f"{p} hit %": ratios[p][size] for p in policies}} for size in sizes]
    return Run(
        f"Hit ratio of {requests} Zipf reads over {USERS} users, by cache size and policy",
        rows,
        figures={"ratio": ratios},
        chart="lines",
        axes={"x": "cache keys", "percent": True, "ylabel": "hit ratio"},
    )


def load_by_size(
    sizes: tuple[int, ...] = (0, 50, 500), *, rate: float = 350, duration: float = 0.6, seed: int = 42
) -> Run:
    """Zipf reads arriving at ``rate`` per second (open loop) through a warm cache of ``sizes`` keys (0: no
    cache) in front of a database of 2 cores x 5 ms (400 queries/s). The cache starts holding the most
    popular users, as after a while of traffic. Columns: reads/s, p50 and p99, the hit ratio and the
    queries per second the database still had to answer."""
    rows, loads = [], {}
    for size in sizes:
        result, hit_ratio, queries = _readers(size, rate, duration, seed)
        loads[f"{size} keys"] = result
        row = load_row(result)
        rows.append(
            {
                "cache keys": size,
                "reads/s": result.throughput,
                "p50_ms": row["p50_ms"],
                "p99_ms": row["p99_ms"],
                "hit %": hit_ratio,
                "DB queries/s": queries / result.elapsed,
                "errors": row["errors"],
            }
        )
    return Run(
        f"{rate:g} reads/s through a cache in front of a 400 queries/s database",
        rows,
        loads,
        chart="lines",
        axes={"x": "cache keys", "y": ["DB queries/s", "p99_ms"], "ylabel": "queries/s, ms"},
    )


def _readers(size: int, rate: float, duration: float, seed: int):
    with Cluster(seed=seed) as cluster:
        node = cluster.add_database("db", host="db1", query_time=QUERY_TIME, cores=DB_CORES)
        create_users(node, USERS, seed=seed)
        db = _Database(node)
        cache = cluster.add_cache("cache", host="cache1", max_keys=max(1, size))
        client = cache.client()
        # Warm: ids are popularity ranks (user 1 is the most asked for), so the top ``size`` ids.
        for user, name in node.execute("SELECT id, name FROM users WHERE id <= ?", [size]):
            client.set(f"user:{user}", name, px=60_000)

        def read(user: int) -> None:
            if size:
                cache_aside(client, db, user)
            else:
                db.name_of(user)

        result = open_loop(read, rate=rate, duration=duration, keys=ZipfKeys(USERS, ZIPF_S), seed=seed)
        hits, misses = cache.metrics.counter("hits").value, cache.metrics.counter("misses").value
        return result, hits / (hits + misses) if size else 0.0, db.queries


# -- freshness: TTL and invalidation ---------------------------------------------------------------


def ttl_tradeoff(
    ttls: tuple[float, ...] = (0.05, 0.2, 1.0),
    *,
    rate: float = 400,
    writes_per_s: float = 40,
    duration: float = 1.0,
    seed: int = 42,
) -> Run:
    """Zipf reads at ``rate`` per second through the cache while a writer renames popular users
    ``writes_per_s`` times a second in the database without touching the cache: entries live ``ttl``.
    A last row runs the longest TTL again with a writer that deletes the entry after each rename.

    Columns: the TTL, whether updates invalidate, hit % and stale % (reads that returned a name older
    than the one committed before the read began)."""
    rows = []
    runs = [(ttl, False) for ttl in ttls] + [(max(ttls), True)]
    for ttl, invalidate in runs:
        hits, stale = _ttl_run(ttl, rate, writes_per_s, duration, seed, invalidate)
        rows.append({"ttl ms": ttl * 1000, "invalidation": invalidate, "hit %": hits, "stale %": stale})
    return Run(
        f"TTL: {rate:g} reads/s, {writes_per_s:g} renames/s",
        rows,
        chart="lines",
        axes={"x": "ttl ms", "percent": True, "ylabel": "share of reads", "y": ["hit %", "stale %"]},
    )


def _ttl_run(
    ttl: float, rate: float, writes_per_s: float, duration: float, seed: int, invalidate: bool
) -> tuple[float, float]:
    with Cluster(seed=seed) as cluster:
        node = cluster.add_database("db", host="db1")
        create_users(node, 200, seed=seed)
        node.execute("UPDATE users SET name = name || '#0'")
        db = _Database(node)
        cache = cluster.add_cache("cache", host="cache1")
        committed = dict.fromkeys(range(1, 201), 0)
        counts = {"stale": 0, "reads": 0}
        lock = threading.Lock()
        done = threading.Event()

        writes = cache.client()

        def writer() -> None:
            rng = random.Random(derive_seed(seed, "writer"))
            keys, conn = ZipfKeys(200, ZIPF_S), node.connect()
            while not done.wait(1 / writes_per_s):
                user = keys.sample(rng)
                version = committed[user] + 1
                conn.execute(
                    "UPDATE users SET name = split_part(name, '#', 1) || '#' || ? WHERE id = ?", [version, user]
                )
                if invalidate:
                    writes.delete(f"user:{user}")  # after the write: see invalidation_race
                committed[user] = version
            conn.close()

        client = cache.client()

        def read(user: int) -> None:
            before = committed[user]
            name = cache_aside(client, db, user, ttl=ttl)
            with lock:
                counts["reads"] += 1
                counts["stale"] += int(name.rsplit("#", 1)[1]) < before

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        open_loop(read, rate=rate, duration=duration, keys=ZipfKeys(200, ZIPF_S), seed=seed)
        done.set()
        thread.join()
        return cache.hit_ratio(), counts["stale"] / max(1, counts["reads"])


#: How each update strategy changes a user: the steps in order ("db": write the database; "delete":
#: drop the cached entry; "set": write the new value into the cache; "between": where a concurrent
#: reader arrives).
UPDATE_STRATEGIES = {
    "no invalidation": ("db", "between"),
    "delete, then write the database": ("delete", "between", "db"),
    "write the database, then delete": ("db", "between", "delete"),
    "write-through: the database, then the cache": ("db", "between", "set"),
}


def invalidation_race() -> Run:
    """Each update strategy, step by step: user 1's name is cached as "Ada"; an update renames her "Ada
    L."; another reader arrives between the update's two steps; then a last read.

    Columns: what the reader in between got, what the last read gets, and whether it is stale (it
    stays stale until the TTL ends)."""
    rows = []
    for strategy, steps in UPDATE_STRATEGIES.items():
        with Cluster(seed=1) as cluster:
            node = cluster.add_database("db")
            node.execute(USERS_DDL)
            node.execute("INSERT INTO users VALUES (1, 'Ada', 'ada@example.com')")
            db, cache = _Database(node), cluster.add_cache("cache").client()
            cache_aside(cache, db, 1)
            between = None
            for step in steps:
                if step == "db":
                    node.execute("UPDATE users SET name = 'Ada L.' WHERE id = 1")
                elif step == "delete":
                    cache.delete("user:1")
                elif step == "set":
                    cache.set("user:1", "Ada L.", ex=60)
                else:
                    between = cache_aside(cache, db, 1)
            last = cache_aside(cache, db, 1)
        rows.append({"strategy": strategy, "reader in between": between, "last read": last, "stale": last != "Ada L."})
    return Run("Renaming Ada while someone reads her profile", rows)


# -- the thundering herd ---------------------------------------------------------------------------


def single_flight(cache, db: _Database, user: int, *, ttl: float = 60, lock_ms: int = 2000, wait: float = 2.0):
    """Cache-aside where one miss loads and the others wait for its answer: the first to take the lock
    (``SET lock:user:<id> <token> NX PX lock_ms``) asks the database; the others poll the cache until
    the answer is there (or the wait runs out: then they ask the database themselves). The lock
    expires on its own if its holder dies, and its holder removes it only if it is still its own."""
    key, lock = f"user:{user}", f"lock:user:{user}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    token = uuid.uuid4().hex
    if cache.set(lock, token, nx=True, px=lock_ms):
        try:
            name = db.name_of(user)
            cache.set(key, name, ex=ttl)
            return name
        finally:
            if cache.get(lock) == token:
                cache.delete(lock)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        hit = cache.get(key)
        if hit is not None:
            return hit
        time.sleep(0.002)  # polling the cache is what a waiting client does; it synchronizes nothing here
    return db.name_of(user)


def stampede(*, clients: int = 50, query_time: float = 0.05, seed: int = 42, classes: dict | None = None) -> Run:
    """``clients`` requests for one user whose entry has just expired, all at once (a barrier), with a
    database that takes ``query_time`` per query. Columns per strategy: database queries and the
    slowest request. ``classes`` adds strategies of the shape of exercise ``05.cache_aside``:
    ``{name: CachedUsers}``, each built as ``CachedUsers(db, cache, 60)``."""
    readers = {
        "cache-aside": lambda client, db: functools.partial(cache_aside, client, db),
        "single flight": lambda client, db: functools.partial(single_flight, client, db),
    }
    for name, cls in (classes or {}).items():
        readers[name] = lambda client, db, cls=cls: cls(db, client, 60).get_user
    rows, figures = [], {}
    for name, make in readers.items():
        result, queries = _herd(make, clients, query_time, seed)
        figures[name] = queries
        rows.append(
            {
                "strategy": name,
                "DB queries": queries,
                "slowest ms": result.latency.max * 1000,
                "errors": result.errors,
            }
        )
    return Run(
        f"{clients} misses on one hot key at once",
        rows,
        figures=figures,
        chart="bars",
        axes={"x": "strategy", "y": ["DB queries"]},
    )


def _herd(make, clients: int, query_time: float, seed: int):
    with Cluster(seed=seed) as cluster:
        node = cluster.add_database("db", host="db1", query_time=query_time)
        create_users(node, 10, seed=seed)
        db, client = _Database(node), cluster.add_cache("cache", host="cache1").client()
        read = make(client, db)
        result = closed_loop(lambda _key: read(1), users=clients, requests_per_user=1, together=True, seed=seed)
        return result, db.queries


# -- failures --------------------------------------------------------------------------------------


def cache_crash(
    *, rate: float = 300, duration: float = 2.0, crash_at: float = 0.6, recover_at: float = 1.2, seed: int = 42
) -> Run:
    """Open-loop reads through the web tier (cache-aside) while the cache crashes at ``crash_at`` and
    comes back, empty, at ``recover_at``. Rows: every 0.1 s, the database's queries per second and the
    requests that failed."""
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, users=500)
        # Warm the cache first (every user, as the app stores them), so that the run starts in its steady state.
        client = stage.cache.client()
        for row in stage.db.execute("SELECT id, name, email FROM users"):
            client.set(f"user:{row[0]}", json.dumps(dict(zip(("id", "name", "email"), row))), ex=60)
        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            queries = stage.db.metrics.counter("queries")
            while not stop.wait(0.1):
                samples.append((cluster.clock.now(), queries.value))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result, events = under_faults(
            cluster,
            lambda: open_loop(stage.target(), rate=rate, duration=duration, keys=ZipfKeys(500, ZIPF_S), seed=seed),
            [(crash_at, recover_at - crash_at, Crash(stage.cache))],
        )
        stop.set()
        sampler.join()
    rows, previous = [], None
    for at, count in samples:
        if previous is not None:
            rows.append(
                {"t s": round(at - result.started_at, 1), "DB queries/s": (count - previous[1]) / (at - previous[0])}
            )
        previous = (at, count)
    rows = [r for r in rows if 0 <= r["t s"] <= duration]
    figures = {"failed": result.errors, "completed": result.completed, "down": crash_at, "up": recover_at}
    return Run("The cache crashes and comes back empty", rows, {"load": result}, events, figures, chart="lines",
               axes={"x": "t s", "y": ["DB queries/s"], "ylabel": "queries/s"})  # fmt: skip


def volatile(*, updates: int = 100, seed: int = 42) -> Run:
    """Profile updates written only to the cache (a "write-back" with no write-back) against updates
    written to the database and the cache (write-through); then the cache crashes and comes back.
    Columns: updates made, and how many of them survive."""
    rows = []
    for strategy in ("cache only", "database, then cache"):
        with Cluster(seed=seed) as cluster:
            node = cluster.add_database("db", host="db1")
            create_users(node, updates, seed=seed)
            db, cache_node = _Database(node), cluster.add_cache("cache", host="cache1")
            cache = cache_node.client()
            for user in range(1, updates + 1):
                if strategy != "cache only":
                    node.execute("UPDATE users SET name = ? WHERE id = ?", [f"renamed {user}", user])
                cache.set(f"user:{user}", f"renamed {user}", ex=3600)
            cluster.nemesis.crash(cache_node)
            cluster.nemesis.recover(cache_node)
            cache = cache_node.client()
            kept = sum(cache_aside(cache, db, user) == f"renamed {user}" for user in range(1, updates + 1))
        rows.append({"strategy": strategy, "updates": updates, "survive a cache crash": kept})
    return Run("Updates, then the cache crashes", rows)


def cache_tier(
    nodes: tuple[int, ...] = (1, 2, 4), *, keys_per_node: int = 100, requests: int = 2000, seed: int = 42
) -> Run:
    """The same Zipf reads over 1, 2, 4 cache nodes of ``keys_per_node`` keys each, keys spread by a
    consistent-hash ring: the cache tier grows by adding nodes, without touching the web tier.
    Columns: cache nodes, total keys, hit %, the busiest node's share of requests."""
    sequence = _zipf_keys(requests, seed)
    rows = []
    with Cluster(seed=seed) as cluster:
        db_node = cluster.add_database("db", host="db1")
        create_users(db_node, USERS, seed=seed)
        db = _Database(db_node, preload=True)
        for n in nodes:
            caches = {f"cache{i}": CacheNode(f"cache{i}", max_keys=keys_per_node) for i in range(1, n + 1)}
            clients = {name: c.client() for name, c in caches.items()}
            ring = HashRing(caches)
            for user in sequence:
                cache_aside(clients[ring.lookup(f"user:{user}")], db, user)
            gets = {
                name: c.metrics.counter("hits").value + c.metrics.counter("misses").value for name, c in caches.items()
            }
            hits = sum(c.metrics.counter("hits").value for c in caches.values())
            rows.append(
                {
                    "cache nodes": n,
                    "keys held at most": n * keys_per_node,
                    "hit %": hits / requests,
                    "busiest node %": max(gets.values()) / requests,
                }
            )
    return Run("More cache nodes, more memory: the cache tier grows on its own", rows, chart="lines",
               axes={"x": "cache nodes", "y": ["hit %"], "percent": True, "ylabel": "hit ratio"})  # fmt: skip


# -- the CDN ---------------------------------------------------------------------------------------


def _cdn_cluster(ttl: float) -> tuple[Cluster, CDN]:
    cluster = Cluster(seed=1, clock=ManualClock())
    origin = Origin("static", REGIONS[0], host="origin-us", clock=cluster.clock)
    cluster._check_new(origin.name)
    cluster._add(origin)
    origin.deploy("/static/app.js", "console.log('v1')")
    return cluster, CDN(cluster, origin, REGIONS, ttl=ttl)


def cdn_latency(*, requests: int = 20) -> Run:
    """Users in each region fetch ``/static/app.js`` ``requests`` times, straight from the origin (in
    us) and through the CDN. Exact (a manual clock: each hop adds its latency). Columns per region:
    the median fetch without and with the CDN, the CDN's hits and the requests that reached the origin."""
    rows = []
    for region in REGIONS:
        cluster, cdn = _cdn_cluster(ttl=3600)
        with cluster:
            cdn.enabled = False
            direct = sorted(cdn.get(region, "/static/app.js").seconds for _ in range(requests))
            cdn.enabled = True
            before = cdn.origin.metrics.counter("requests").value
            fetched = [cdn.get(region, "/static/app.js") for _ in range(requests)]
            origin_hits = cdn.origin.metrics.counter("requests").value - before
        via = sorted(f.seconds for f in fetched)
        rows.append(
            {
                "region": region,
                "origin only ms": direct[len(direct) // 2] * 1000,
                "via CDN ms": via[len(via) // 2] * 1000,
                "CDN hits": sum(f.hit for f in fetched),
                "to origin": origin_hits,
            }
        )
    return Run(f"{requests} fetches of app.js per region", rows, chart="bars",
               axes={"x": "region", "y": ["origin only ms", "via CDN ms"], "ylabel": "median fetch (ms)"})  # fmt: skip


def cdn_outage() -> Run:
    """A warm CDN; then the eu edge is down; then every edge is down. Columns per phase and region:
    who served, how long it took; no request fails (the nearest edge up, else the origin)."""
    rows = []
    cluster, cdn = _cdn_cluster(ttl=3600)
    with cluster:
        for region in REGIONS:
            cdn.get(region, "/static/app.js")
        phases = (("all edges up", ()), ("edge-eu down", ("eu",)), ("every edge down", REGIONS))
        for phase, down in phases:
            for region in down:
                cluster.nemesis.crash(cdn.edges[region])
            for region in REGIONS:
                fetched = cdn.get(region, "/static/app.js")
                rows.append({"phase": phase, "user region": region, "served by": fetched.served_by,
                             "ms": fetched.seconds * 1000})  # fmt: skip
    return Run("Edges go down: the nearest edge up, else the origin", rows)


DEPLOY_STRATEGIES = ("TTL only", "invalidation API", "versioned URL")


def deploy(*, ttl: float = 300, propagation: float = 20, every: float = 10, after: float = 600) -> Run:
    """Users in every region load the page every ``every`` seconds; at t = 0 version 2 of app.js is
    deployed. Exact, on a manual clock. Per strategy: how many fetches after the deploy still got
    version 1, and when the last one was.

    * TTL only: edges keep version 1 until its copies expire (``ttl``);
    * invalidation API: a purge reaches the edges ``propagation`` seconds apart;
    * versioned URL: the page now asks for ``/static/app.v2.js``, a file no edge has yet."""
    rows = []
    for strategy in DEPLOY_STRATEGIES:
        cluster, cdn = _cdn_cluster(ttl=ttl)
        with cluster:
            clock = cluster.clock
            path = "/static/app.js"
            for region in REGIONS:
                cdn.get(region, path)
            clock.advance(every)
            cdn.origin.deploy(path, "console.log('v2')")
            deployed = clock.now()
            if strategy == "invalidation API":
                cdn.invalidate(path, propagation=propagation)
            elif strategy == "versioned URL":
                path = "/static/app.v2.js"
                cdn.origin.deploy(path, "console.log('v2')")
            stale, last_stale, fetches = 0, None, 0
            while clock.now() - deployed < after:
                for region in REGIONS:
                    fetched = cdn.get(region, path)
                    fetches += 1
                    if "v1" in fetched.body:
                        stale, last_stale = stale + 1, clock.now() - deployed
                clock.advance(every)
            to_origin = cdn.origin.metrics.counter("requests").value
        rows.append(
            {
                "strategy": strategy,
                "fetches": fetches,
                "stale (v1)": stale,
                "last stale s": last_stale,
                "origin requests": to_origin,
            }
        )
    return Run(f"Deploying app.js v2 (TTL {ttl:g} s)", rows, chart="bars", axes={"x": "strategy", "y": ["stale (v1)"]})


def headline() -> str:
    """For ``minicluster tour``: hit ratio by cache size, the thundering herd, the CDN per region."""
    sizes = hit_ratio_by_size((20, 100, 500), ("LRU", "LFU"), requests=2000)
    return f"{sizes}\n\n{stampede()}\n\n{cdn_latency()}"
