"""Stage 10: sharding the database, and reading a global feed back out of the shards.

How many keys move when a shard is added under each router (and how many rows a reshard moves),
how celebrities skew the load of shards sharded by user, how many rows and queries a feed page costs
depending on how many rows it asks each shard for, and what a connection proxy does for a capped
database.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import random
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..apps import HOSTNAME
from ..cluster import Cluster
from ..errors import ConfigError
from ..experiment import Run, Topology, load_row
from ..load import closed_loop, derive_seed
from ..posts import Post, PostsSpec, ShardedPosts, generate
from ..proxy import SQLProxy
from ..sharding import DirectoryRouter, JumpRouter, ModuloRouter, RangeRouter, RingRouter, ShardRouter
from ..web import Request, Response, Router, WebServer

ROUTERS = {"modulo": ModuloRouter, "ring (100 vnodes)": RingRouter, "jump hash": JumpRouter}


@dataclass
class Sharded(Topology):
    store: ShardedPosts
    web: WebServer

    def target(self):
        """``target(key)``: ``GET /users/{key}/posts``, a user's latest posts, read from that user's shard."""
        client = self.cluster.client()
        return lambda key: client.get(f"http://{HOSTNAME}/users/{key}/posts")


def user_posts_api(store: ShardedPosts) -> Router:
    """``GET /users/{id}/posts``: the user's 20 newest posts, from the one shard that holds them."""

    def user_posts(request: Request, ctx) -> Response:
        raw = request.path_params["id"]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            return Response.json({"error": f"malformed user id {raw!r}"}, 400)
        shard = store.shard_of(int(raw))
        rows = shard.node.execute(
            "SELECT post_id, created_at FROM posts WHERE user_id = ? ORDER BY created_at DESC, post_id DESC LIMIT 20",
            [int(raw)],
        )
        return Response.json({"shard": shard.index, "posts": [{"id": i, "at": at} for i, at in rows]})

    return Router().route("GET", "/users/{id}/posts", user_posts)


def build(
    cluster: Cluster,
    *,
    shards: int = 4,
    posts: Sequence[Post] = (),
    router: ShardRouter | None = None,
    query_time: float = 0.0,
    workers: int = 8,
) -> Sharded:
    """Posts sharded by user over ``shards`` databases (hosts ``shard-host0..``), an app server in front.

    The app routes each user's requests to the user's shard, and a feed page asks every shard; the live
    diagram draws one link per shard saying both.
    The single-database ground truth the checks compare with stands apart, on ``truth-host``.
    """
    store = ShardedPosts(cluster, shards, router=router, query_time=query_time)
    store.load(posts)
    web = cluster.add_web_server("web", user_posts_api(store), host="app1", workers=workers)
    cluster.expose(HOSTNAME, web)
    for shard in store.shards:
        # one user's posts: the shard of that user; the global feed: every shard at once (fan-out)
        cluster.links.append(("web", shard.node.name, "a user's posts by user_id · the feed fans out to all"))
    return Sharded(cluster, store, web)


def moved_when_adding_a_shard(shard_counts: Sequence[int] = range(2, 17), keys: int = 20_000) -> Run:
    """For each router, the fraction of ``keys`` user ids that move when going from N to N+1 shards.

    One row per N; figures: each router's fractions, by router name.
    """
    users = range(1, keys + 1)
    sizes = sorted({*shard_counts, *(n + 1 for n in shard_counts)})  # each placement computed once
    table = {}
    for name, make in ROUTERS.items():
        placed = {}
        for n in sizes:
            router = make(n)
            placed[n] = [router.shard_for(u) for u in users]
        table[name] = [sum(a != b for a, b in zip(placed[n], placed[n + 1])) / keys for n in shard_counts]
    rows = [{"N": n, **{f"{name} %": table[name][i] for name in ROUTERS}} for i, n in enumerate(shard_counts)]
    axes = {"x": "N", "xlabel": "shards before adding one (N)", "ylabel": "keys moved", "percent": True}
    return Run(f"Keys moved when adding one shard ({keys:,} keys)", rows, figures=table, axes=axes)


def posts_per_shard(posts: Sequence[Post], router) -> list[int]:
    """How many of ``posts`` each shard holds under ``router``."""
    counts = Counter(router.shard_for(p.user_id) for p in posts)
    return [counts[i] for i in range(router.shards)]


def celebrity_mitigation(posts: Sequence[Post], shards: int, celebrities: Sequence[int]) -> DirectoryRouter:
    """A directory that gives each celebrity a shard of its own and spreads everyone else over the rest."""
    rest = ModuloRouter(shards - len(celebrities))
    table = {user: shards - len(celebrities) + i for i, user in enumerate(celebrities)}
    for user in {p.user_id for p in posts} - set(celebrities):
        table[user] = rest.shard_for(user)
    return DirectoryRouter(ModuloRouter(shards), table)


def hot_users(posts: Sequence[Post], top: int = 5) -> list[tuple[int, int]]:
    """The ``top`` users by posts written, measured: ``[(user_id, posts), ...]``, most first."""
    return Counter(p.user_id for p in posts).most_common(top)


def measured_directory(posts: Sequence[Post], shards: int) -> DirectoryRouter:
    """A directory placed by measurement: users by posts written, most first, each on the shard that
    holds the fewest posts so far (greedy bin packing). Every heavy user is found by its numbers, not
    by a list of names, and the light ones fill the gaps."""
    load = [0] * shards
    table = {}
    for user, count in Counter(p.user_id for p in posts).most_common():
        shard = min(range(shards), key=lambda i: (load[i], i))
        table[user] = shard
        load[shard] += count
    return DirectoryRouter(ModuloRouter(shards), table)


def reads_per_shard(
    posts: Sequence[Post], router, *, reads: int = 10_000, celebrity_share: float = 0.5, seed: int = 42
) -> list[int]:
    """Timeline reads per shard: ``celebrity_share`` of the reads go to the most-written user's timeline
    (everyone follows the celebrity), the rest to users in proportion to what they write. A read hot spot
    is one user's shard, whatever the placement of the posts."""
    rng = random.Random(derive_seed(seed, "timeline reads"))
    writers = Counter(p.user_id for p in posts)
    star = writers.most_common(1)[0][0]
    users, weights = list(writers), list(writers.values())
    counts = [0] * router.shards
    for _ in range(reads):
        user = star if rng.random() < celebrity_share else rng.choices(users, weights)[0]
        counts[router.shard_for(user)] += 1
    return counts


def heap_work(shards: Sequence[int] = (2, 4, 8, 16), *, page_size: int = 20) -> Run:
    """Heap pushes to pick one page from ``page_size + 1`` rows per shard, counted two ways.

    The notes' sketch adds *every* fetched row to a heap (``heap.addAll``), then takes the page off the
    top: ``shards x (page_size + 1)`` pushes. A streaming k-way merge keeps only each shard's next row in
    the heap and pushes a shard's following row when one of its rows is taken: ``shards`` pushes to
    start and one per row taken, ``shards + page_size + 1`` at most, whatever the number of shards.
    """
    rows = []
    for n in shards:
        # shard i holds the posts i, i + n, i + 2n... (newest first): an even spread, page_size + 1 each
        per_shard = [[-(i + k * n) for k in range(page_size + 1)] for i in range(n)]
        everything = []
        for rows_of_shard in per_shard:
            for row in rows_of_shard:
                heapq.heappush(everything, row)
        add_all = len(everything)
        heads = [(rows_of_shard[0], i, 0) for i, rows_of_shard in enumerate(per_shard)]
        heapq.heapify(heads)
        streaming = len(heads)
        for _ in range(page_size + 1):
            _, i, k = heapq.heappop(heads)
            if k + 1 < len(per_shard[i]):
                heapq.heappush(heads, (per_shard[i][k + 1], i, k + 1))
                streaming += 1
        rows.append({"shards": n, "heap.addAll pushes": add_all, "streaming merge pushes": streaming})
    return Run(f"Heap pushes to pick a page of {page_size}", rows, chart="lines", axes={"x": "shards"})


def _merged(per_shard, direction: str, n: int) -> list[Post]:
    merged = heapq.merge(*per_shard, key=lambda p: p.key, reverse=direction == "newest")
    return list(itertools.islice(merged, n))


def fixed_fetch(shards, after, page_size: int, direction: str, extra: int) -> list[Post]:
    """A page (plus one row to know has_next), asking every shard for ``page_size + extra`` rows.

    Sequential on purpose: this function counts rows; the capstone fans out concurrently.
    """
    per = [s.fetch(after, direction, page_size + extra) for s in shards]
    return _merged(per, direction, page_size + 1)


def _before(a, b, direction: str) -> bool:
    """Whether key ``a`` comes before key ``b`` in feed order."""
    return a > b if direction == "newest" else a < b


class Fetched(list):
    """The rows of a page (plus its look-ahead row), and ``shares``: how many of them each shard sent.

    ``shares`` is the hint a cursor can carry to the next page (a few small numbers): a shard's share of
    this page is the best guess of its share of the next one.
    """

    def __init__(self, rows, shares: list[int]) -> None:
        super().__init__(rows)
        self.shares = shares


def _first_asks(need: int, shards: int, shares: Sequence[int] | None) -> list[int]:
    """How many rows each shard is asked for first: its even share, or its expected share by ``shares``."""
    if shares is None:
        return [max(1, -(-need // max(1, shards)))] * shards
    if (
        not isinstance(shares, Sequence)
        or isinstance(shares, (str, bytes))
        or len(shares) != shards
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in shares)
    ):
        raise ConfigError(f"shares must be {shards} whole numbers >= 0, one per shard, got {shares!r}")
    # Each shard's share of the last page, smoothed by half a row (a shard that sent nothing then may
    # still send a row now, and is asked for one), and a tenth more: a row read too many costs less than
    # a refill. Measured over 10 pages of 5,000 and of 20,000 posts: fewer rows and fewer round trips
    # than the even share from 4 shards up (39.1 rows / 24.8 queries against 43.5 / 25.7 at 16 shards);
    # without the tenth, a few more refills; with a whole row of smoothing, more rows.
    total = sum(shares) + shards / 2
    return [max(1, math.ceil(1.1 * need * (c + 0.5) / total)) for c in shares]


def adaptive_fetch(shards, after, page_size: int, direction: str, shares: Sequence[int] | None = None) -> Fetched:
    """A page (plus one row), asking each shard for its expected share first and refilling only where needed.

    Each shard first sends its share of the ``page_size + 1`` rows: an even share,
    ``ceil((page_size + 1) / shards)``, or, given ``shares`` (the previous page's ``Fetched.shares``, as
    a cursor can carry them), the share it sent of the previous page. The merged rows are final up to
    the ``page_size + 1``-th once no shard could still hold something before it: a shard can, only if
    it is not exhausted and the last row it sent comes *before* that cut-off. Only those shards are asked
    again, each for its share of the slots still open behind its last row (if ``m`` rows of the page
    come after that row, the shard could displace at most ``m`` of them, and it shares them with the
    other shards asked again), and only for rows before the cut-off: a row past it could never be on
    the page, and a shard that sends fewer rows than asked has shown it holds nothing more for it.
    """
    need = page_size + 1
    ask = _first_asks(need, len(shards), shares)
    rows: list[list[Post]] = [[] for _ in shards]
    settled = [False] * len(shards)  # exhausted, or holds nothing more before the cut-off it was asked with
    pending, cutoff = list(range(len(shards))), None
    while True:
        for i in pending:
            start = rows[i][-1].key if rows[i] else after
            got = shards[i].fetch(start, direction, ask[i], until=cutoff)
            rows[i].extend(got)
            settled[i] = len(got) < ask[i]
        page = _merged(rows, direction, need)
        cutoff = page[-1].key if len(page) == need else None
        pending = [
            i
            for i in range(len(shards))
            if not settled[i] and (cutoff is None or _before(rows[i][-1].key, cutoff, direction))
        ]
        if not pending:
            sent_by = {id(post): i for i, sent in enumerate(rows) for post in sent}
            counts = Counter(sent_by[id(post)] for post in page)
            return Fetched(page, [counts[i] for i in range(len(shards))])
        for i in pending:
            # Rows of the page behind this shard's last row: the slots it could still take (at least one).
            behind = sum(1 for p in page if _before(rows[i][-1].key, p.key, direction))
            ask[i] = max(1, -(-(need - len(page) + behind) // len(pending)))


def one_row_at_a_time(shards, after, page_size: int, direction: str) -> list[Post]:
    """A page (plus one row) reading the fewest rows a fetch by count can: one row per round trip.

    Every shard sends its next row; the first of them in feed order goes on the page, and only its shard
    is asked for one more. It reads ``page_size + 1`` rows plus one from each other shard that is not
    exhausted, and pays ``page_size + 1`` round trips in a row for it: the floor the other strategies
    are measured against.
    """
    first = max if direction == "newest" else min
    heads = {i: got[0] for i, shard in enumerate(shards) if (got := shard.fetch(after, direction, 1))}
    page: list[Post] = []
    while heads and len(page) < page_size + 1:
        i = first(heads, key=lambda j: heads[j].key)
        post = heads.pop(i)
        page.append(post)
        if len(page) < page_size + 1 and (got := shards[i].fetch(post.key, direction, 1)):
            heads[i] = got[0]
    return page


#: The adaptive fetch given the previous page's shares, as a cursor can carry them.
HINTED = "adaptive, the cursor carrying shares"

STRATEGIES = {
    "PAGE_SIZE+5 (the notes' sketch)": lambda shards, after, size, d: fixed_fetch(shards, after, size, d, 5),
    "PAGE_SIZE+1": lambda shards, after, size, d: fixed_fetch(shards, after, size, d, 1),
    "adaptive": lambda shards, after, size, d: list(adaptive_fetch(shards, after, size, d)),  # no hint kept
    HINTED: adaptive_fetch,
}


def fetch_costs(
    shard_counts: Sequence[int] = (2, 4, 8, 16),
    *,
    posts: int = 20_000,
    celebrities: int = 3,
    page_size: int = 20,
    pages: int = 10,
    seed: int = 42,
    strategies=None,
) -> dict[str, dict[str, list[float]]]:
    """Mean rows read and round trips (shard queries) per page under each strategy, per shard count.

    ``strategies`` defaults to :data:`STRATEGIES`. Every strategy walks the same ``pages`` pages (newest
    first) and must return the same posts. Returns ``{name: {"rows": [...], "queries": [...]}}``, where a
    query is one fetch sent to one shard.
    """
    strategies = STRATEGIES if strategies is None else strategies
    data = generate(PostsSpec(posts=posts, users=2_000, celebrities=celebrities, seed=seed))

    def measure(n: int) -> dict[str, tuple[float, float]]:
        with Cluster(seed=seed) as cluster:
            store = ShardedPosts(cluster, n)
            store.load(data, truth=False)
            walks, costs = {}, {}
            for name, strategy in strategies.items():
                rows, queries, after, walked = store.shards.rows_read, store.shards.queries, None, []
                shares = None  # what the cursor carries besides the position, for a strategy that gives it
                for _ in range(pages):
                    if shares is None:
                        fetched = strategy(store.shards, after, page_size, "newest")
                    else:
                        fetched = strategy(store.shards, after, page_size, "newest", shares=shares)
                    shares = getattr(fetched, "shares", None)
                    page = fetched[:page_size]
                    walked.extend(page)
                    after = page[-1].key
                costs[name] = (
                    (store.shards.rows_read - rows) / pages,
                    (store.shards.queries - queries) / pages,
                )
                walks[name] = walked
            if len({tuple(w) for w in walks.values()}) != 1:
                raise AssertionError(f"the fetch strategies disagree about the pages over {n} shards")
            return costs

    # Each shard count is its own cluster: measure them side by side (DuckDB releases the GIL).
    with ThreadPoolExecutor(max_workers=min(len(shard_counts), os.cpu_count() or 1)) as pool:
        measured = list(pool.map(measure, shard_counts))
    return {
        name: {"rows": [m[name][0] for m in measured], "queries": [m[name][1] for m in measured]} for name in strategies
    }


def rows_read_per_page(shard_counts: Sequence[int] = (2, 4, 8, 16), **options) -> Run:
    """Mean rows read from all shards per page under each of :data:`STRATEGIES`, per shard count.

    ``options`` are those of :func:`fetch_costs` (``posts``, ``page_size``, ``pages``, ``seed``, ...).
    One row per shard count; figures: each strategy's rows per page, by strategy name.
    """
    costs = fetch_costs(shard_counts, **options)
    reads = {name: cost["rows"] for name, cost in costs.items()}
    rows = [{"shards": n, **{name: reads[name][i] for name in reads}} for i, n in enumerate(shard_counts)]
    page = options.get("page_size", 20)
    axes = {"x": "shards", "xlabel": "shards", "ylabel": f"rows read per page of {page}", "reference": page}
    return Run(f"Rows read per page of {page}", rows, figures=reads, axes=axes)


def proxy_experiment(
    *,
    requests: int = 1000,
    concurrency: int = 200,
    max_connections: int = 50,
    pool_size: int = 20,
    query_time: float = 0.02,
    seed: int = 42,
) -> Run:
    """``requests`` queries from ``concurrency`` app-server threads at once: straight to a database that
    accepts ``max_connections``, each request opening its own connection, then through a
    :class:`~minicluster.proxy.SQLProxy` with a pool of ``pool_size``. One load per way in; figure
    ``waits``: the proxy's histogram of how long requests waited for a pooled connection."""
    results = {}
    with Cluster(seed=seed) as cluster:
        db = cluster.add_database("db", max_connections=max_connections, query_time=query_time)
        proxy = SQLProxy("proxy", db, pool_size=pool_size, timeout=30)

        def direct(key: int):
            with db.connect() as conn:
                return conn.execute("SELECT 1").fetchall()

        def proxied(key: int):
            return proxy.execute("SELECT 1")

        per_thread = max(1, requests // concurrency)
        for name, target in (("straight to the database", direct), ("through the proxy", proxied)):
            # together: the app servers hit the database at once, not as fast as their threads start
            # (on a fast machine the first ones could finish before the last ones begin).
            results[name] = closed_loop(
                target, users=concurrency, requests_per_user=per_thread, seed=seed, together=True
            )
        waits = proxy.pools["db"].waits
    rows = [
        {"way in": name, "served": r.completed - r.errors, "refused": r.errors, "p99_ms": load_row(r)["p99_ms"]}
        for name, r in results.items()
    ]
    title = f"{requests:,} requests from {concurrency} app-server threads, database capped at {max_connections}"
    return Run(title, rows, results, figures={"waits": waits}, chart="percentiles")


def recent_writes_per_shard(posts: Sequence[Post], shards: int = 8, *, recent_days: int = 3) -> dict[str, list[int]]:
    """Where the last ``recent_days`` of writes land: keyed by time ranges (``RangeRouter`` over the
    days of the data, one range of days per shard) and by hashing the user id. A range on something
    that grows sends every new write to the last range's shard."""
    first = min(p.created_at for p in posts)
    last = max(p.created_at for p in posts)
    span_days = (last - first).days + 1
    by_time = RangeRouter([span_days * i // shards for i in range(1, shards)])
    by_user = ModuloRouter(shards)
    recent = [p for p in posts if (last - p.created_at).days < recent_days]
    time_counts = Counter(by_time.shard_for((p.created_at - first).days) for p in recent)
    user_counts = Counter(by_user.shard_for(p.user_id) for p in recent)
    return {
        "range of days": [time_counts[i] for i in range(shards)],
        "hash of user id": [user_counts[i] for i in range(shards)],
    }


def read_write_routing(*, statements: int = 100, write_share: float = 0.1, replicas: int = 2, seed: int = 42) -> Run:
    """A proxy in front of a primary and ``replicas`` replicas: writes to the primary, reads spread over
    the replicas. One row per database: the statements it received and the rows it holds (every write).

    The replicas here are separate databases that nobody copies to (replication is Stage 4), so a row
    written through the proxy is on the primary only: figure ``read_back`` says whether reading it right
    back through the proxy found it, which is the read-after-write problem replication lag brings;
    figure ``diagram``: the live architecture, the proxy between the app servers and the databases.
    """
    rng = random.Random(derive_seed(seed, "statements"))
    with Cluster(seed=seed) as cluster:
        primary = cluster.add_database("primary", host="db1")
        copies = [cluster.add_database(f"replica{i}", host=f"db{i + 1}") for i in range(1, replicas + 1)]
        for db in [primary, *copies]:
            db.execute("CREATE TABLE notes (id INTEGER, body VARCHAR)")
        proxy = cluster.add_proxy("proxy", primary, copies, pool_size=4, host="proxy1")
        cluster.links.append(("client", "proxy", "SQL from the app servers"))
        for i in range(statements - 2):
            if rng.random() < write_share:
                proxy.execute("INSERT INTO notes VALUES (?, ?)", [i, "written through the proxy"])
            else:
                proxy.execute("SELECT count(*) FROM notes")
        # the last two: write a row, and read it right back
        proxy.execute("INSERT INTO notes VALUES (?, ?)", [-1, "read me back"])
        read_back = proxy.execute("SELECT count(*) FROM notes WHERE id = -1")[0][0] == 1
        databases = [primary, *copies]
        received = {db.name: proxy.metrics.counter(f"to_{db.name}").value for db in databases}
        stored = {db.name: db.execute("SELECT count(*) FROM notes")[0][0] for db in databases}
        diagram = cluster.diagram("A read/write-splitting proxy between the app servers and the databases")
    rows = [{"database": name, "statements": received[name], "rows written": stored[name]} for name in received]
    return Run(
        f"{statements} statements through a read/write-splitting proxy",
        rows,
        figures={"read_back": read_back, "diagram": diagram},
        chart="bars",
        axes={"x": "database", "y": ["statements", "rows written"], "ylabel": "statements, rows"},
    )


def headline(*, seed: int = 42) -> str:
    """Stage 10's results in a few lines of text (for ``minicluster tour``)."""
    counts = (2, 4, 8, 16)
    reads = rows_read_per_page(counts, posts=5_000, seed=seed)
    proxy = proxy_experiment(seed=seed)
    waits = proxy["waits"]
    lines = ["Rows read from all shards per page of 20 (exact), by shards:"]
    lines.append(f"{'strategy':<38}" + "".join(f"{n:>8}" for n in counts))
    for name, values in reads.figures.items():
        lines.append(f"{name:<38}" + "".join(f"{v:>8.1f}" for v in values))
    direct, proxied = proxy.loads["straight to the database"], proxy.loads["through the proxy"]
    lines.append(
        f"1,000 requests from 200 threads, database capped at 50 connections: {direct.errors} refused straight, "
        f"{proxied.errors} through a proxy pool of 20 (longest wait {waits.max * 1000:.0f} ms)."
    )
    return "\n".join(lines)


def load_heat_map(posts: Sequence[Post], router, buckets: int = 30) -> list[list[int]]:
    """Posts written per shard (rows) per time bucket (columns): where and when the load lands."""
    start = min(p.created_at for p in posts)
    span = (max(p.created_at for p in posts) - start).total_seconds() or 1.0
    grid = [[0] * buckets for _ in range(router.shards)]
    for p in posts:
        column = min(buckets - 1, int((p.created_at - start).total_seconds() / span * buckets))
        grid[router.shard_for(p.user_id)][column] += 1
    return grid


def reshard_experiment(*, posts: int = 5_000, shards: int = 4, seed: int = 42) -> Run:
    """Rows actually moved between shard files when going from ``shards`` to ``shards + 1``, per router.

    One row per router; figures: ``(moved, total)`` by router name.
    """
    data = generate(PostsSpec(posts=posts, users=2_000, seed=seed))
    moved = {}
    for name, make in ROUTERS.items():
        with Cluster(seed=seed) as cluster:
            store = ShardedPosts(cluster, shards, router=make(shards))
            store.load(data)
            moved[name] = store.reshard(make(shards + 1))
            on_shards = sum(s.node.execute("SELECT count(*) FROM posts")[0][0] for s in store.shards)
            if on_shards != len(data) or any(
                store.router.shard_for(u) != s.index
                for s in store.shards
                for (u,) in s.node.execute("SELECT DISTINCT user_id FROM posts")
            ):
                raise AssertionError("resharding lost, duplicated or misplaced posts")
    rows = [{"router": name, "moved": m, "of": total, "moved %": m / total} for name, (m, total) in moved.items()]
    axes = {"x": "router", "y": ["moved %"], "ylabel": "posts moved", "percent": True}
    return Run(
        f"Resharding {posts:,} posts from {shards} to {shards + 1} shard files",
        rows,
        figures=moved,
        chart="bars",
        axes=axes,
    )
