"""Stage 10: sharding the database, and reading a global feed back out of the shards.

So far (this stage is being built up): how many keys move when a shard is added under each router,
how celebrities skew the load of shards sharded by user, and how many rows a feed page reads from
the shards depending on how many it asks each shard for.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Sequence

from ..cluster import Cluster
from ..load import LoadResult, closed_loop
from ..metrics import Histogram
from ..posts import Post, PostsSpec, ShardedPosts, generate
from ..proxy import SQLProxy
from ..sharding import DirectoryRouter, JumpRouter, ModuloRouter, RingRouter, keys_moved

ROUTERS = {"modulo": ModuloRouter, "ring (100 vnodes)": RingRouter, "jump hash": JumpRouter}


def moved_when_adding_a_shard(shard_counts: Sequence[int] = range(2, 17), keys: int = 20_000) -> dict[str, list[float]]:
    """For each router, the fraction of ``keys`` user ids that move when going from N to N+1 shards."""
    users = range(1, keys + 1)
    table = {}
    for name, make in ROUTERS.items():
        table[name] = []
        for n in shard_counts:
            moved, total = keys_moved(make(n), make(n + 1), users)
            table[name].append(moved / total)
    return table


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


def feed_page(shards, after, page_size: int, direction: str, per_shard: int) -> list[Post]:
    """One page of the global feed, asking every shard for ``per_shard`` rows (sequentially: for counting)."""
    per = [s.fetch(after, direction, per_shard) for s in shards]
    merged = heapq.merge(*per, key=lambda p: p.key, reverse=direction == "newest")
    return list(itertools.islice(merged, page_size))


def rows_read_per_page(
    shard_counts: Sequence[int] = (2, 4, 8, 16),
    *,
    extra: Sequence[int] = (5, 1),
    posts: int = 20_000,
    page_size: int = 20,
    pages: int = 10,
    seed: int = 42,
) -> dict[str, list[float]]:
    """Mean rows read from all shards per page, asking each shard for ``page_size + e`` rows, per shard count."""
    data = generate(PostsSpec(posts=posts, users=2_000, seed=seed))
    table: dict[str, list[float]] = {f"PAGE_SIZE+{e}": [] for e in extra}
    for n in shard_counts:
        with Cluster(seed=seed) as cluster:
            store = ShardedPosts(cluster, n)
            store.load(data)
            for e in extra:
                before, after = store.shards.rows_read, None
                for _ in range(pages):
                    page = feed_page(store.shards, after, page_size, "newest", page_size + e)
                    after = page[-1].key
                table[f"PAGE_SIZE+{e}"].append((store.shards.rows_read - before) / pages)
    return table


def proxy_experiment(
    *,
    requests: int = 1000,
    concurrency: int = 200,
    max_connections: int = 50,
    pool_size: int = 20,
    query_time: float = 0.02,
    seed: int = 42,
) -> tuple[dict[str, LoadResult], Histogram]:
    """``requests`` queries from ``concurrency`` app-server threads at once: straight to a database that
    accepts ``max_connections``, each request opening its own connection, then through a
    :class:`~minicluster.proxy.SQLProxy` with a pool of ``pool_size``. Returns both runs and the proxy's
    histogram of how long requests waited for a pooled connection."""
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
            results[name] = closed_loop(target, users=concurrency, requests_per_user=per_thread, seed=seed)
        return results, proxy.pools["db"].waits
