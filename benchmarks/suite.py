"""The measurements: each returns a JSON-ready dict with its figures, its ratios and its goal.

Machines here are noisy, so every figure that matters is a ratio of two things measured in the same
run, timed in turns (A, B, A, B, ...) so that a slow moment hurts both, and reported as the median
over the repeats. One exception: the floor is made of queries timed warm, each repeated in a row, and
the page compared with it is timed the same way (:func:`in_a_row`).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from minicluster import Cluster
from minicluster.cursor import Cursor
from minicluster.posts import SELECT_POSTS, Post, PostsSpec, ShardedPosts, ShardSet, feed_order, generate
from minicluster.stages import sharding
from minicluster.web import Response
from minicluster.workbook import load

PAGE_SIZE = 20
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scale:
    """How big a run is: ``QUICK`` (~2¼ minutes here) or ``FULL`` (what the README quotes)."""

    name: str
    posts: int  # in the sharded-vs-unsharded store
    shard_counts: tuple[int, ...]
    depths: tuple[int, ...]  # keyset vs OFFSET (0: the first page, without a predicate; 1: just below the top)
    repeats: int
    rows_read_posts: int
    ingest_posts: int
    single_inserts: int
    requests: int  # per batch of the request path's: long enough for 8 threads to settle (see request_path)
    notebooks: tuple[str, ...]  # name prefixes; () for none
    test_suite: bool
    check_repeats: int = 5  # each `minicluster check`, timed this many times (0: not measured)


QUICK = Scale("quick", 100_000, (1, 2, 4, 8, 16), (0, 1, 1_000, 10_000, 50_000), 7, 5_000, 100_000, 300, 6_000,
              ("01",), False)  # fmt: skip
FULL = Scale("full", 1_000_000, (1, 2, 4, 8, 16), (0, 1, 10_000, 100_000, 500_000), 15, 20_000, 1_000_000, 2_000,
             20_000, ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10"), True)  # fmt: skip


def turns(candidates: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each candidate, timed in turns (one of each per repeat) after a warm-up call."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()
    for _ in range(repeats):
        for name, fn in candidates.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def in_a_row(fn: Callable[[], object], repeats: int, runs: int = 10) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs of ``runs`` calls in a row (each run's mean), after a
    warm-up call: how fast it is warm, as a reader paging on finds it and as the floor's queries are timed."""
    fn()
    means = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(runs):
            fn()
        means.append((time.perf_counter() - started) / runs)
    return statistics.median(means)


def _goal(text: str, figure: float, met: bool) -> dict:
    return {"text": text, "figure": round(figure, 3), "met": bool(met)}


# -- 1-3: the capstone's pages over 1M posts ------------------------------------------------------------
class PostsBench:
    """The posts, an unsharded database holding all of them, and the capstone solution."""

    def __init__(self, scale: Scale, seed: int = 42, engine: str = "duckdb") -> None:
        self.scale = scale
        self.engine = engine
        started = time.perf_counter()
        users = max(2_000, scale.posts // 100)
        self.posts = generate(PostsSpec(posts=scale.posts, users=users, celebrities=3, seed=seed))
        self.newest = sorted(self.posts, key=lambda p: p.key, reverse=True)
        self.cluster = Cluster(seed=seed, engine=engine)
        single = ShardedPosts(self.cluster, 1)  # its one shard is the unsharded database
        single.load(self.posts, truth=False)
        self.codec = single.codec
        self.unsharded = single.shards[0]
        self.seed = seed
        self.paginate = load("10.paginate", tree="solutions")
        self.setup_seconds = time.perf_counter() - started

    def close(self) -> None:
        self.cluster.close()

    def at(self, depth: int) -> tuple[tuple | None, str | None]:
        """The key after ``depth`` posts (newest first) and the cursor the paginator would have issued."""
        if depth == 0:
            return None, None
        last = self.newest[depth - 1]
        return last.key, self.codec.encode(Cursor(last.created_at, last.post_id, "newest"))

    def sharded(self, shards: int) -> tuple[Cluster, ShardSet]:
        cluster = Cluster(seed=self.seed, engine=self.engine)
        store = ShardedPosts(cluster, shards)
        store.load(self.posts, truth=False)
        # The store's codec signs with this cluster's secret: hand out the unsharded one's instead, so
        # one cursor serves both sides.
        return cluster, ShardSet(store.shards, self.codec)

    def inside(self, shard, after: tuple | None, limit: int = PAGE_SIZE + 1) -> float:
        """Seconds one shard's fetch query takes inside its database, as the database itself times it:
        DuckDB's profiler (parsing, planning and execution), PostgreSQL's ``EXPLAIN ANALYZE`` (planning +
        execution). What no client code can make faster."""
        sql, params = shard.query(after, "newest", limit)
        with shard.node.connect() as conn:
            if self.engine == "postgres":
                plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchall()[0][0][0]
                return (plan["Planning Time"] + plan["Execution Time"]) / 1000
            raw = conn._cursor  # the DuckDB cursor: profiling is a setting of the connection
            raw.execute("PRAGMA enable_profiling = 'no_output'")
            try:
                raw.execute(sql, params).fetchall()
                return json.loads(raw.get_profiling_information(format="json"))["query"]["total_time"]
            finally:
                raw.execute("PRAGMA disable_profiling")

    def floor(self, shards: ShardSet, after: tuple | None) -> dict:
        """The fastest a page over ``shards`` could be on this machine: each shard's query timed inside the
        database (median of the repeats), summed, divided by the cores, plus merging their rows."""
        cores = os.cpu_count() or 1
        inside = [statistics.median(self.inside(shard, after) for _ in range(self.scale.repeats)) for shard in shards]
        per_shard = [shard.fetch(after, "newest", PAGE_SIZE + 1) for shard in shards]

        def merge():
            merged = heapq.merge(*per_shard, key=lambda post: post.key, reverse=True)
            return list(itertools.islice(merged, PAGE_SIZE + 1))

        merge_s = turns({"merge": merge}, self.scale.repeats)["merge"]
        return {
            "inside_sum_ms": round(sum(inside) * 1000, 3),
            "merge_ms": round(merge_s * 1000, 3),
            "floor_ms": round((sum(inside) / cores + merge_s) * 1000, 3),
        }

    def page_latency(self) -> dict:
        """Item 1: sharded pages vs the floor of this machine and vs the same keyset page from one database,
        first page and a deep one."""
        s, deep = self.scale, self.scale.posts // 2
        rows, fanout = [], None
        for n in s.shard_counts:
            cluster, shards = self.sharded(n)
            try:
                row = {"shards": n}
                for label, depth in (("first", 0), ("deep", deep)):
                    after, cursor = self.at(depth)
                    expected = self.unsharded.fetch(after, "newest", PAGE_SIZE + 1)[:PAGE_SIZE]
                    if list(self.paginate(shards, cursor, PAGE_SIZE, "newest").posts) != expected:
                        raise AssertionError(f"the sharded page at depth {depth} over {n} shards is wrong")
                    medians = turns(
                        {
                            "sharded": lambda c=cursor, ss=shards: self.paginate(ss, c, PAGE_SIZE, "newest"),
                            "unsharded": lambda a=after: self.unsharded.fetch(a, "newest", PAGE_SIZE + 1),
                        },
                        s.repeats,
                    )
                    # The floor's queries are timed warm, each repeated in a row: so is the page it is
                    # compared with (timed in turns with one database's page, as above, each finds the
                    # caches the other left: at 1M posts the first page took ~30% longer).
                    warm = in_a_row(lambda c=cursor, ss=shards: self.paginate(ss, c, PAGE_SIZE, "newest"), s.repeats)
                    floor = self.floor(shards, after)
                    row[f"{label}_ms"] = round(medians["sharded"] * 1000, 2)
                    row[f"{label}_unsharded_ms"] = round(medians["unsharded"] * 1000, 2)
                    row[f"{label}_ratio"] = round(medians["sharded"] / medians["unsharded"], 2)
                    row[f"{label}_in_a_row_ms"] = round(warm * 1000, 2)
                    row[f"{label}_inside_sum_ms"] = floor["inside_sum_ms"]
                    row[f"{label}_floor_ms"] = floor["floor_ms"]
                    row[f"{label}_over_floor"] = round(warm * 1000 / floor["floor_ms"], 2)
                rows.append(row)
                if n == 8:
                    fanout = self._fanout(shards)
                    side_by_side = self._side_by_side(shards)
                    fetches = self._how_fetches_run(shards)
            finally:
                cluster.close()
        at8 = next(r for r in rows if r["shards"] == 8)
        vs_one = max(at8["first_ratio"], at8["deep_ratio"])
        vs_floor = max(r[f"{label}_over_floor"] for r in rows if r["shards"] in (8, 16) for label in ("first", "deep"))
        return {
            "page_latency": {
                "title": f"Page of {PAGE_SIZE}, sharded vs one database, {s.posts:,} posts (deep = {deep:,} in)",
                "rows": rows,
                "side_by_side": side_by_side,
                "fetches_at_8": fetches,
                "goal": _goal(
                    "<= 1.5x the floor (each shard's query timed inside the database, summed / cores + the merge) "
                    f"at 8 and 16 shards, and <= 3x the unsharded page at 8 shards ({vs_one:g}x)",
                    vs_floor,
                    vs_floor <= 1.5 and vs_one <= 3,
                ),
            },
            "fanout": fanout,
        }

    def _side_by_side(self, shards: ShardSet, queries: int = 600) -> dict:
        """Queries per second of one thread vs two side by side, each with a connection of its own to
        each of two shards, asking them in turns (the second thread starting on the other shard): a page's
        shard queries, and a count of every post for comparison. Both threads do the same work (shards
        differ in size: a thread on a larger shard alone would set the pair's time). What the floor's
        division by the cores assumes is that two threads answer twice as many."""
        first, second = shards[0].node, shards[1].node
        sql, params = shards[0].query(None, "newest", PAGE_SIZE + 1)
        kinds = {"page query": (sql, params), "count(*)": ("SELECT count(*) FROM posts", [])}
        result = {}
        for kind, (statement, values) in kinds.items():

            def run(orders, statement=statement, values=values) -> float:
                ready = threading.Barrier(len(orders) + 1)

                def loop(order) -> None:
                    with contextlib.ExitStack() as stack:
                        conns = [stack.enter_context(node.connect()) for node in order]
                        ready.wait()
                        for i in range(queries):
                            conns[i % 2].execute(statement, values).fetchall()

                workers = [threading.Thread(target=loop, args=(order,)) for order in orders]
                for worker in workers:
                    worker.start()
                ready.wait()
                started = time.perf_counter()
                for worker in workers:
                    worker.join()
                return time.perf_counter() - started

            seconds = turns(
                {"one": lambda: run([(first, second)]), "two": lambda: run([(first, second), (second, first)])}, 3
            )
            one, two = queries / seconds["one"], 2 * queries / seconds["two"]
            result[kind] = {"one_per_s": round(one), "two_per_s": round(two), "two_over_one": round(two / one, 2)}
        return result

    def _how_fetches_run(self, shards: ShardSet) -> dict:
        """The first page's fetches (page_size + 1 rows from each shard) run three ways, wall and CPU time
        per page (CPU: every thread of the process): one after another in the caller's thread; a thread per
        shard, as the solution runs them; as many threads as cores, each taking the next shard. The floor
        assumes the cores split the queries' time with nothing lost; this shows what splitting costs.

        On DuckDB, then the same three ways with DuckDB alone: each thread's own DuckDB cursor on each shard, the
        fetch's SQL and ``fetchall`` (the rows made ``Post``s, ~3 us, to compare them with the fetches'), no
        connection bookkeeping around them. What DuckDB's Python client itself loses by splitting (``python -m
        benchmarks.gil_handoffs`` counts why: every query gives up the interpreter lock and takes it back
        ~15-20 times)."""
        cores = os.cpu_count() or 1
        one_each = ThreadPoolExecutor(max_workers=len(shards))
        per_core = ThreadPoolExecutor(max_workers=cores)
        sql, params = shards[0].query(None, "newest", PAGE_SIZE + 1)
        held: list = []  # every connection the raw fetches hold, closed at the end
        local = threading.local()

        def fetch(shard):
            return shard.fetch(None, "newest", PAGE_SIZE + 1)

        def raw(shard):
            conns = getattr(local, "conns", None)
            if conns is None:
                conns = local.conns = {}
            if shard.index not in conns:
                conns[shard.index] = shard.node.connect()
                held.append(conns[shard.index])
            return [Post(*row) for row in conns[shard.index]._cursor.execute(sql, params).fetchall()]

        def on(pool, fn):
            def page():
                futures = [pool.submit(fn, shard) for shard in shards]
                wait(futures)
                return [future.result() for future in futures]

            return page

        ways = {
            "one after another": lambda: [fetch(shard) for shard in shards],
            "a thread per shard": on(one_each, fetch),
            f"{cores} threads": on(per_core, fetch),
        }
        if self.engine == "duckdb":  # (a PostgreSQL connection held per thread and shard would fill the server)
            ways |= {
                "DuckDB alone: one after another": lambda: [raw(shard) for shard in shards],
                "DuckDB alone: a thread per shard": on(one_each, raw),
                f"DuckDB alone: {cores} threads": on(per_core, raw),
            }
        runs = 20
        wall: dict[str, list[float]] = {name: [] for name in ways}
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        try:
            pages = {name: way() for name, way in ways.items()}  # (a warm-up too)
            if any(page != pages["one after another"] for page in pages.values()):
                raise AssertionError("the first page's fetches differ by how they are run")
            for _ in range(self.scale.repeats):
                for name, way in ways.items():
                    started, spent = time.perf_counter(), time.process_time()
                    for _ in range(runs):
                        way()
                    wall[name].append((time.perf_counter() - started) / runs)
                    cpu[name].append((time.process_time() - spent) / runs)
        finally:
            one_each.shutdown()
            per_core.shutdown()
            for conn in held:
                conn.close()
        return {
            name: {
                "ms": round(statistics.median(wall[name]) * 1000, 2),
                "cpu_ms": round(statistics.median(cpu[name]) * 1000, 2),
            }
            for name in ways
        }

    def _fanout(self, shards: ShardSet, latency: float = 0.02) -> dict:
        """Item 3: the solution's concurrent fan-out vs asking the shards one after another."""
        rows = []
        for injected in (0.0, latency):
            for shard in shards:
                shard.node.query_time = injected
            try:
                medians = turns(
                    {
                        "concurrent": lambda: self.paginate(shards, None, PAGE_SIZE, "newest"),
                        # the same page_size + 1 rows from each shard, asked one shard after another
                        "sequential": lambda: sharding.fixed_fetch(shards, None, PAGE_SIZE, "newest", 1),
                    },
                    max(3, self.scale.repeats // 2),
                )
            finally:
                for shard in shards:
                    shard.node.query_time = 0.0
            rows.append(
                {
                    "shards": len(shards),
                    "injected_ms": injected * 1000,
                    "concurrent_ms": round(medians["concurrent"] * 1000, 2),
                    "sequential_ms": round(medians["sequential"] * 1000, 2),
                    "sequential_over_concurrent": round(medians["sequential"] / medians["concurrent"], 2),
                }
            )
        with_latency = rows[-1]["sequential_over_concurrent"]
        return {
            "title": f"Fan-out over {len(shards)} shards: concurrent (the solution) vs sequential",
            "rows": rows,
            "goal": _goal(
                f"with {latency * 1000:g} ms per shard, concurrent well under the sequential sum (ratio >= 2)",
                with_latency,
                with_latency >= 2,
            ),
        }

    def keyset_vs_offset(self) -> dict:
        """Item 2: keyset and OFFSET pages at growing depth on the unsharded database, first as loaded
        (append-only, in time order), then after 1% of the posts are deleted (a table that has lived).

        Deletes the posts from the unsharded database: run it last.
        """
        node = self.unsharded.node
        sql = f"{SELECT_POSTS} {feed_order('newest')} LIMIT ? OFFSET ?"
        # Every page on one connection: what grows with depth is the query, and a new PostgreSQL connection
        # per page (~2.5 ms, a new server process) would drown it (it moved one run's ratio to 1.35).
        conn = node.connect()

        def offset_page(depth: int) -> list[Post]:
            return [Post(*r) for r in conn.execute(sql, [PAGE_SIZE + 1, depth]).fetchall()]

        def keyset_page(after) -> list[Post]:
            return [Post(*r) for r in conn.execute(*self.unsharded.query(after, "newest", PAGE_SIZE + 1)).fetchall()]

        def measure(table: str, newest: list[Post]) -> list[dict]:
            depths = self.scale.depths
            after = {depth: newest[depth - 1].key if depth else None for depth in depths}
            for depth in depths:
                if offset_page(depth) != self.unsharded.fetch(after[depth], "newest", PAGE_SIZE + 1):
                    raise AssertionError(f"keyset and OFFSET disagree at depth {depth} ({table})")
            # Keyset pages in turns with each other, OFFSET pages with each other: a deep OFFSET page reads
            # most of the table, and a page timed right after it pays for that (~1 ms more, measured).
            keyset = turns(
                {str(d): lambda a=after[d]: keyset_page(a) for d in depths},
                self.scale.repeats,
            )
            offset = turns({str(d): lambda d=d: offset_page(d) for d in depths}, self.scale.repeats)
            rows = [
                {
                    "table": table,
                    "depth": d,
                    "keyset_ms": round(keyset[str(d)] * 1000, 2),
                    "offset_ms": round(offset[str(d)] * 1000, 2),
                }
                for d in depths
            ]
            # Keyset pages are compared with the shallowest page that carries the same predicate (depth 1):
            # the first page has none, so it measures a different query, not depth.
            top = next(row for row in rows if row["depth"] > 0)
            for row in rows:
                row["keyset_vs_top"] = round(row["keyset_ms"] / top["keyset_ms"], 2)
                row["offset_vs_first"] = round(row["offset_ms"] / rows[0]["offset_ms"], 2)
                row["offset_vs_keyset"] = round(row["offset_ms"] / row["keyset_ms"], 2)
            return rows

        try:
            loaded = measure("as loaded", self.newest)
            conn.execute("DELETE FROM posts WHERE post_id % 100 = 7")
            lived = measure("1% deleted", [p for p in self.newest if p.post_id % 100 != 7])
        finally:
            conn.close()
        deepest = lived[-1]
        return {
            "title": f"Keyset vs OFFSET by depth, one database of {self.scale.posts:,} posts",
            "rows": loaded + lived,
            "goal": _goal(
                "keyset deepest / just below the top (both with the predicate) <= 1.3 while OFFSET grows with "
                "depth (table with 1% deleted)",
                deepest["keyset_vs_top"],
                deepest["keyset_vs_top"] <= 1.3 and deepest["offset_vs_first"] > 2,
            ),
        }


# -- 4: rows read per page ------------------------------------------------------------------------------
def rows_read(scale: Scale) -> dict:
    counts = (2, 4, 8, 16)
    floor = "one row per query (the floor)"
    costs = sharding.fetch_costs(
        counts,
        posts=scale.rows_read_posts,
        page_size=PAGE_SIZE,
        strategies={**sharding.STRATEGIES, floor: sharding.one_row_at_a_time},
    )
    rows = [
        {"strategy": name, **{f"{n} shards": f"{r:g} rows / {q:g} queries" for n, r, q in zip(counts, *c.values())}}
        for name, c in costs.items()
    ]
    hinted = sharding.HINTED
    rows_16, queries_16 = costs[hinted]["rows"][-1], costs[hinted]["queries"][-1]
    return {
        "title": f"Rows read and shard queries per page of {PAGE_SIZE} ({scale.rows_read_posts:,} posts, 10 pages)",
        "rows": rows,
        "costs": costs,
        "shard_counts": counts,
        "goal": _goal(
            f"adaptive with the cursor's shares <= 2 x page size ({2 * PAGE_SIZE}) rows at 16 shards (floor: "
            f"{costs[floor]['rows'][-1]:g}), in no more queries than the even share's "
            f"({costs['adaptive']['queries'][-1]:g})",
            rows_16,
            rows_16 <= 2 * PAGE_SIZE and queries_16 <= costs["adaptive"]["queries"][-1],
        ),
    }


# -- 5: bulk ingest ---------------------------------------------------------------------------------------
def ingest(scale: Scale, seed: int = 7) -> dict:
    posts = generate(PostsSpec(posts=scale.ingest_posts, users=10_000, celebrities=3, seed=seed))
    bulk = []
    for _ in range(3):
        with Cluster(seed=seed) as cluster:
            store = ShardedPosts(cluster, 8)
            started = time.perf_counter()
            store.load(posts, truth=False)
            bulk.append(time.perf_counter() - started)
    singles = posts[: scale.single_inserts]
    with Cluster(seed=seed) as cluster:
        store = ShardedPosts(cluster, 8)
        started = time.perf_counter()
        for post in singles:
            store.shard_of(post.user_id).insert(post)
        single = time.perf_counter() - started
    bulk_rate = len(posts) / statistics.median(bulk)
    single_rate = len(singles) / single
    return {
        "title": "Ingest into 8 shard files: bulk path vs single-row inserts",
        "rows": [
            {"path": "bulk (ShardedPosts.load)", "rows": len(posts), "rows_per_s": round(bulk_rate)},
            {"path": "single-row autocommit inserts", "rows": len(singles), "rows_per_s": round(single_rate)},
        ],
        "bulk_over_single": round(bulk_rate / single_rate, 1),
        "goal": _goal(">= 100,000 rows/s through the bulk path", bulk_rate, bulk_rate >= 100_000),
    }


# -- 6: the request path ----------------------------------------------------------------------------------
#: At 8 client threads, the way to the cache cut into its parts, each timed in turns with the others: what
#: the cluster adds to a GET, and how much of it is handing the request to another thread and back.
REQUEST_WAYS = {
    "hand-off": "a bare hand-off to 8 worker threads (a queue in, a lock back, the GET in the worker)",
    "web servers": "the 2 web servers called in turns (no balancer)",
    "balancer": "the balancer called directly",
    "cluster": "the cluster (client, DNS, balancer)",
    "cluster without bookkeeping": "the cluster with its metrics and the cache's budget made no-ops",
}


def request_path(scale: Scale, repeats: int = 5) -> dict:
    """Cache-hit requests client -> balancer -> web server -> cache, vs raw redis-py GETs, same server; at 8
    client threads also each part of the way (:data:`REQUEST_WAYS`).

    Each batch is ``scale.requests`` long: raw GETs from 8 threads run near one thread's rate for their first
    few thousand (~40k/s on fakeredis here) and settle at ~23k/s once the threads queue on the interpreter
    lock and fakeredis's own; batches of 6,000 caught them anywhere in between (22-34k/s from batch to batch,
    21.7-25.3k with 20,000)."""
    from minicluster.web import Request

    rows = []
    with Cluster(seed=1, latency=0.0) as cluster:  # no modelled network: this measures our own overhead
        cache = cluster.add_cache("cache")
        cache.client().set("greeting", "hello")

        def handler(request, ctx):
            return Response(200, ctx.cache.get("greeting"))

        servers = [cluster.add_web_server(f"web{i}", handler, workers=4, cache=cache) for i in range(2)]
        balancer = cluster.add_load_balancer("lb", servers, health_check=False)
        cluster.expose("app.example", balancer)

        def through_the_cluster():
            client = cluster.client(f"user-{threading.get_ident()}")
            return lambda: client.get("http://app.example/greeting")

        def to_the_servers():
            turn = itertools.cycle(servers)
            return lambda: next(turn).handle(Request("GET", "/greeting"))

        def to_the_balancer():
            return lambda: balancer.handle(Request("GET", "/greeting"))

        def raw_redis():
            client = cache.client()
            return lambda: client.get("greeting")

        with _hand_off(raw_redis, workers=sum(s.workers for s in servers)) as handed_off:
            for threads in (1, 8):
                ways = {
                    "cluster": lambda t=threads: _rate(through_the_cluster, t, scale.requests),
                    "raw": lambda t=threads: _rate(raw_redis, t, scale.requests),
                }
                if threads == 8:
                    ways |= {
                        "hand-off": lambda: _rate(handed_off, 8, scale.requests),
                        "web servers": lambda: _rate(to_the_servers, 8, scale.requests),
                        "balancer": lambda: _rate(to_the_balancer, 8, scale.requests),
                        "cluster without bookkeeping": lambda: _without_bookkeeping(
                            lambda: _rate(through_the_cluster, 8, scale.requests)
                        ),
                    }
                seconds = turns(ways, repeats)  # seconds per batch: the faster path takes less
                per_s = {name: scale.requests / s for name, s in seconds.items()}
                row = {
                    "client_threads": threads,
                    "through_cluster_per_s": round(per_s["cluster"]),
                    "raw_redis_get_per_s": round(per_s["raw"]),
                    "ratio": round(per_s["cluster"] / per_s["raw"], 2),
                }
                if threads == 8:
                    row["ways"] = {
                        name: {
                            "what": what,
                            "per_s": round(per_s[name]),
                            "of_raw": round(per_s[name] / per_s["raw"], 2),
                        }
                        for name, what in REQUEST_WAYS.items()
                    }
                rows.append(row)
    at8 = next(r["ratio"] for r in rows if r["client_threads"] == 8)
    server = "a real redis-server" if cache.url else "fakeredis"
    return {
        "title": f"Cache hits through balancer -> web server -> cache vs raw redis-py GETs (same {server})",
        "rows": rows,
        "goal": _goal(">= 0.6 of raw GETs at 8 client threads", at8, at8 >= 0.6),
    }


@contextlib.contextmanager
def _hand_off(make_get: Callable[[], Callable[[], object]], workers: int):
    """``workers`` threads doing GETs handed to them: yields a ``make_call`` for :func:`_rate` whose calls
    put a :class:`~minicluster.web.Reply` on a queue and wait for it, as a web server's callers do, with
    nothing else of a web server's around the GET (what any thread-per-request server pays at least)."""
    import queue

    from minicluster.web import Reply

    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def serve() -> None:
        get = make_get()
        while (reply := inbox.get()) is not None:
            try:
                reply.set_result(get())
            except BaseException as exc:  # the caller raises it: a failed GET fails the measurement
                reply.set_exception(exc)

    threads = [threading.Thread(target=serve, name=f"hand-off-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()

    def make_call() -> Callable[[], object]:
        def call():
            reply = Reply()
            inbox.put(reply)
            return reply.result(timeout=60)  # a worker gone wrong fails the measurement; it never hangs it

        return call

    try:
        yield make_call
    finally:
        for _ in threads:
            inbox.put(None)
        for thread in threads:
            thread.join()


def _without_bookkeeping(run: Callable[[], None]) -> None:
    """``run()`` with every metric's update and the cache's budget made no-ops: what they cost, measured
    (the cluster's nodes call them through their classes, so patching the classes reaches every one)."""
    from unittest import mock

    from minicluster import cache, metrics

    with contextlib.ExitStack() as patches:
        for cls, names in ((metrics.Counter, ("inc", "inc_held")), (metrics.Histogram, ("record", "record_held")),
                           (metrics.Occupancy, ("change", "change_held")), (metrics.TimeSeries, ("add", "add_held")),
                           (cache.CacheNode, ("_touch",))):  # fmt: skip
            for name in names:
                patches.enter_context(mock.patch.object(cls, name, lambda *args, **kwargs: None))
        run()


#: The settings that make the library use real servers; the embedded measurements run without them.
SERVER_VARIABLES = ("MINICLUSTER_CONFIG", "MINICLUSTER_REDIS_URL", "MINICLUSTER_POSTGRES_DSN",
                    "MINICLUSTER_PGBOUNCER_DSN", "MINICLUSTER_ENGINE")  # fmt: skip


@contextlib.contextmanager
def embedded():
    """Items 1-7 as the workbook runs by default (DuckDB, fakeredis), whatever servers are configured."""
    saved = {name: os.environ.get(name) for name in SERVER_VARIABLES}
    for name in SERVER_VARIABLES:
        os.environ.pop(name, None)
    os.environ["MINICLUSTER_CONFIG"] = os.path.join(tempfile.gettempdir(), "minicluster-no-servers.json")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def on_real_servers(scale: Scale, settings: dict[str, str]) -> dict:
    """Items 1, 2 and 6 again on real servers (``settings``: what ``minicluster servers up`` configured):
    the capstone's pages and keyset vs OFFSET on PostgreSQL shards, the cache-hit path on redis-server.
    Empty when none is configured."""
    results: dict = {}
    with embedded():
        if settings.get("postgres_dsn"):
            os.environ["MINICLUSTER_POSTGRES_DSN"] = settings["postgres_dsn"]
            bench = PostsBench(scale, engine="postgres")
            try:
                measured = bench.page_latency()
                results["page_latency_postgres"] = measured["page_latency"]
                results["keyset_vs_offset_postgres"] = bench.keyset_vs_offset()
            finally:
                bench.close()
        if settings.get("redis_url"):
            os.environ["MINICLUSTER_REDIS_URL"] = settings["redis_url"]
            results["request_path_redis"] = request_path(scale)
    return results


def _rate(make_call: Callable[[], Callable[[], object]], threads: int, requests: int) -> None:
    """``requests`` calls split over ``threads`` threads, each with its own client; started together."""
    ready = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def run() -> None:
        call = make_call()
        ready.wait()
        try:
            for _ in range(requests // threads):
                result = call()
                if getattr(result, "status", 200) != 200 or result is None:
                    raise AssertionError(f"a cache hit came back as {result!r}")
        except BaseException as exc:  # reported below: a benchmark of failures measures nothing
            failures.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]


# -- 7: the workbook --------------------------------------------------------------------------------------
def checks(scale: Scale, only: tuple[str, ...] | None = None) -> dict:
    """Item 11: each exercise's ``minicluster check`` as a learner runs it (a fresh interpreter, the check
    in a child process), on a copy of the workbook whose exercises are the solutions; the median of
    ``check_repeats`` runs each (``only``: these exercise ids)."""
    from minicluster.workbook import catalog

    rows = []
    with tempfile.TemporaryDirectory(prefix="minicluster-bench-checks-") as folder:
        root = Path(folder)
        shutil.copytree(ROOT / "solutions", root / "exercises")
        shutil.copytree(ROOT / "solutions", root / "solutions")
        shutil.copytree(ROOT / "tests" / "mutants", root / "tests" / "mutants")  # 10.validate grades with them
        env = {**os.environ, "MINICLUSTER_ROOT": str(root), "MINICLUSTER_STATE": str(root / "progress.json")}
        env.pop("MINICLUSTER_TREE", None)
        for exercise in catalog.exercises():
            if only is not None and exercise.id not in only:
                continue
            seconds = []
            for _ in range(scale.check_repeats):
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "minicluster", "check", exercise.id], env=env,
                                      capture_output=True, text=True)  # fmt: skip
                seconds.append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise AssertionError(f"minicluster check {exercise.id} failed on its solution: {done.stdout}")
            rows.append({"exercise": exercise.id, "median_s": round(statistics.median(seconds), 2),
                         "fastest_s": round(min(seconds), 2)})  # fmt: skip
    slowest = max(rows, key=lambda r: r["median_s"])
    return {
        "title": f"`minicluster check` on each solution, median of {scale.check_repeats} (a fresh process each)",
        "rows": rows,
        "goal": _goal(
            f"every check <= 2 s (slowest: {slowest['exercise']})", slowest["median_s"], slowest["median_s"] <= 2
        ),  # fmt: skip
    }


def workbook(scale: Scale) -> dict:
    from minicluster.workbook.notebooks import execute

    rows = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if any(path.name.startswith(prefix) for prefix in scale.notebooks):
            _, seconds = execute(path)
            rows.append({"notebook": path.name, "seconds": round(seconds, 1)})
    suite = None
    if scale.test_suite:
        env = {**os.environ, "MINICLUSTER_TREE": "solutions"}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        lines = done.stdout.strip().splitlines()
        suite = {
            "seconds": round(time.perf_counter() - started, 1),
            "passed": done.returncode == 0,
            "summary": lines[-1] if lines else done.stderr[-500:],
            # which test, and pytest's one-line reason: a failure in a 10-minute run must say where
            "failed": [line for line in lines if line.startswith(("FAILED ", "ERROR "))],
        }
    slowest = max((r["seconds"] for r in rows), default=0.0)
    passed = suite is None or (suite["passed"] and suite["seconds"] <= 600)
    return {
        "title": "The workbook: each notebook top to bottom" + (", and the whole test suite" if suite else ""),
        "rows": rows,
        "test_suite": suite,
        "goal": _goal(
            "every notebook under 30 s" + (", the test suite passing within 10 minutes" if suite else ""),
            slowest,
            slowest < 30 and passed,
        ),
    }
