"""The capstone's data: users' posts, sharded by ``user_id`` over several DuckDB shard files.

Posts are sharded by their author, as the notes' sketch assumes, so one user's posts live together
but a global feed (every post, newest first) has to ask every shard. The data set is built to make
that hard in the ways real feeds are hard:

* a few **celebrities** write a large share of the posts (and so does the Zipf head of ordinary users),
  so one shard can hold most of the data while others hold almost none;
* many posts share the **same ``created_at``** (to the microsecond), on one shard and across shards,
  so ordering by time alone is ambiguous: the feed is ordered by ``(created_at, post_id)``;
* ``post_id`` is a Snowflake id (:mod:`minicluster.ids`), unique and roughly time-ordered.

A single-database copy of the same posts is the ground truth a paginator is checked against.
"""

from __future__ import annotations

import bisect
import itertools
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from .cursor import DIRECTIONS, CursorCodec
from .errors import ConfigError, check_positive
from .ids import SnowflakeGenerator
from .load import derive_seed
from .sharding import ModuloRouter, ShardRouter
from .storage import DatabaseNode

POSTS_DDL = (
    "CREATE TABLE posts (post_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, "
    "created_at TIMESTAMPTZ NOT NULL, body VARCHAR NOT NULL)"
)
#: PostgreSQL pages by a B-tree on the feed's key (DuckDB by row-group pruning: its ART index is not used
#: for ranges).
POSTS_INDEX = "CREATE INDEX posts_feed ON posts (created_at, post_id)"


def _create_posts(node) -> None:
    node.execute(POSTS_DDL)
    if getattr(node, "engine", "duckdb") == "postgres":
        node.execute(POSTS_INDEX)


#: Every post, in the order of :class:`Post`'s fields; add WHERE / ORDER BY / LIMIT.
SELECT_POSTS = "SELECT post_id, user_id, created_at, body FROM posts"
START = datetime(2026, 1, 1, tzinfo=UTC)
#: The most rows one fetch may ask for, and the largest page a paginator should accept.
MAX_FETCH = 10_001
MAX_PAGE_SIZE = MAX_FETCH - 1


def check_page_size(page_size: object) -> int:
    """``page_size`` if it is a whole number from 1 to :data:`MAX_PAGE_SIZE`, else :class:`ConfigError`."""
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE:,}, got {page_size!r}")
    return page_size


def feed_order(direction: str) -> str:
    """The ORDER BY of the feed in ``direction``: ``(created_at, post_id)``, newest or oldest first."""
    order = "DESC" if direction == "newest" else "ASC"
    return f"ORDER BY created_at {order}, post_id {order}"


class Post(NamedTuple):
    post_id: int
    user_id: int
    created_at: datetime
    body: str

    @property
    def key(self) -> tuple[datetime, int]:
        """The feed's sort key."""
        return (self.created_at, self.post_id)


@dataclass(frozen=True)
class PostsSpec:
    """How to generate a data set; every choice is drawn from ``seed``."""

    posts: int = 10_000
    users: int = 1_000
    celebrities: int = 3
    celebrity_share: float = 0.3  #: fraction of all posts written by the celebrities
    zipf_s: float = 1.1  #: activity skew of ordinary users
    tie_share: float = 0.2  #: fraction of posts that reuse an earlier post's created_at exactly
    span: timedelta = timedelta(days=30)
    seed: int = 42

    def __post_init__(self) -> None:
        check_positive("posts", self.posts, integer=True, allow_zero=True)
        check_positive("users", self.users, integer=True)
        if not 0 <= self.celebrities <= self.users:
            raise ConfigError(f"celebrities must be between 0 and users ({self.users}), got {self.celebrities!r}")
        for name in ("celebrity_share", "tie_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")


def generate(spec: PostsSpec) -> list[Post]:
    """The posts of ``spec``, in ``(created_at, post_id)`` order."""
    rng = random.Random(derive_seed(spec.seed, "posts"))
    celebrities = list(range(1, spec.celebrities + 1))
    ordinary = list(range(spec.celebrities + 1, spec.users + 1)) or celebrities
    weights = list(itertools.accumulate(1 / k**spec.zipf_s for k in range(1, len(ordinary) + 1)))
    span_us = int(spec.span.total_seconds() * 1_000_000)

    times: list[int] = []
    for _ in range(spec.posts):
        if times and rng.random() < spec.tie_share:
            times.append(rng.choice(times))  # an exact tie with some earlier post, any author
        else:
            times.append(rng.randrange(span_us))
    authors = [
        rng.choice(celebrities)
        if celebrities and rng.random() < spec.celebrity_share
        else ordinary[bisect.bisect_left(weights, rng.random() * weights[-1])]
        for _ in range(spec.posts)
    ]
    # Post ids come from a handful of app servers (Snowflake nodes), issued in time order.
    servers = [SnowflakeGenerator(node) for node in range(8)]
    posts = []
    for offset, author in sorted(zip(times, authors)):
        created_at = START + timedelta(microseconds=offset)
        post_id = rng.choice(servers).id_at(int(created_at.timestamp() * 1000))
        posts.append(Post(post_id, author, created_at, f"post by user {author}"))
    posts.sort(key=lambda p: p.key)
    return posts


def _columns(posts: Sequence[Post]) -> dict[str, list]:
    columns = list(zip(*posts)) or [() for _ in Post._fields]
    return {field: list(values) for field, values in zip(Post._fields, columns)}


class Shard:
    """One shard as the paginator sees it: keyset fetches, with every row read counted.

    ``fetch`` is safe to call from many threads at once (each call uses its own connection).
    Latency and failures are injected through the node (``node.query_time``, the nemesis).
    """

    def __init__(self, node: DatabaseNode, index: int) -> None:
        self.node = node
        self.index = index
        self.name = node.name

    @property
    def rows_read(self) -> int:
        """Rows read from this shard's database so far, by anyone (counted by the node, not by fetch)."""
        return self.node.metrics.counter("rows_read").value

    @property
    def queries(self) -> int:
        """Statements sent to this shard's database so far (each one a round trip)."""
        return self.node.metrics.counter("queries").value

    def fetch(
        self,
        after: tuple[datetime, int] | None,
        direction: str = "newest",
        limit: int = 20,
        *,
        until: tuple[datetime, int] | None = None,
    ) -> list[Post]:
        """Up to ``limit`` posts strictly after ``after`` (a ``(created_at, post_id)`` key) in ``direction``.

        ``after=None`` starts from the beginning (the newest post for ``"newest"``). ``until``, a key,
        stops before it: only posts strictly between ``after`` and ``until`` come back (a refill that
        wants nothing past a page's cut-off).
        """
        sql, params = self.query(after, direction, limit, until=until)
        with self.node.connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [Post(*row) for row in rows]

    @staticmethod
    def query(
        after: tuple[datetime, int] | None,
        direction: str = "newest",
        limit: int = 20,
        *,
        until: tuple[datetime, int] | None = None,
    ) -> tuple[str, list]:
        """The SQL and parameters :meth:`fetch` sends (for timing it inside the database, say)."""
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction must be 'newest' or 'oldest', got {direction!r}")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_FETCH:
            raise ConfigError(f"limit must be an integer from 0 to {MAX_FETCH:,}, got {limit!r}")
        op, back = ("<", ">") if direction == "newest" else (">", "<")
        conditions, params = [], []
        if after is not None:
            # The first condition is implied by the second; it is there because DuckDB skips whole row
            # groups by the min/max of a plain column comparison, not of a row comparison.
            conditions.append(f"created_at {op}= ? AND (created_at, post_id) {op} (?, ?)")
            params += [after[0], after[0], after[1]]
        if until is not None:
            conditions.append(f"created_at {back}= ? AND (created_at, post_id) {back} (?, ?)")
            params += [until[0], until[0], until[1]]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"{SELECT_POSTS} {where} {feed_order(direction)} LIMIT ?", [*params, limit]

    def insert(self, post: Post) -> None:
        with self.node.connect() as conn:
            conn.execute("INSERT INTO posts VALUES (?, ?, ?, ?)", list(post))

    def delete(self, post_id: int) -> None:
        with self.node.connect() as conn:
            conn.execute("DELETE FROM posts WHERE post_id = ?", [post_id])

    def __repr__(self) -> str:
        return f"<Shard {self.name} {self.node.health.value}>"


class Page(NamedTuple):
    """One page of the feed: its posts, the cursor of the next page (None on the last), and whether there is one."""

    posts: list[Post]
    next_cursor: str | None
    has_next: bool


class ShardSet(list):
    """The shards a paginator reads (a list of :class:`Shard`) and ``codec``, this cluster's cursor codec."""

    def __init__(self, shards, codec: CursorCodec) -> None:
        super().__init__(shards)
        self.codec = codec

    @property
    def rows_read(self) -> int:
        """Rows read from every shard so far."""
        return sum(s.rows_read for s in self)

    @property
    def queries(self) -> int:
        """Fetches sent to all shards so far."""
        return sum(s.queries for s in self)


class ShardedPosts:
    """Posts sharded by ``user_id`` over ``shards`` DuckDB files, plus a single-database ground truth.

    ``shards`` (a :class:`ShardSet`: the list of :class:`Shard` with the cluster's cursor ``codec``)
    is what a paginator gets.
    """

    def __init__(self, cluster, shards: int, *, router: ShardRouter | None = None, query_time: float = 0.0) -> None:
        check_positive("shards", shards, integer=True)
        self.cluster = cluster
        self.query_time = query_time
        self.router = router or ModuloRouter(shards)
        if self.router.shards != shards:
            raise ConfigError(f"the router knows {self.router.shards} shards, but {shards} were asked for")
        codec = CursorCodec(cluster.cursor_secret)
        self.shards = ShardSet(
            (
                Shard(cluster.add_database(f"shard{i}", host=f"shard-host{i}", query_time=query_time), i)
                for i in range(shards)
            ),
            codec,
        )
        self.codec = codec
        self.truth = cluster.add_database("posts_truth", host="truth-host")
        self._truth = Shard(self.truth, -1)  # the same writes as a shard's
        for node in [*(s.node for s in self.shards), self.truth]:
            _create_posts(node)
        self._lock = threading.Lock()

    def shard_of(self, user_id: int) -> Shard:
        return self.shards[self.router.shard_for(user_id)]

    def load(self, posts: Sequence[Post], *, truth: bool = True) -> None:
        """Bulk-load ``posts`` into their shards and (unless ``truth=False``) into the ground truth."""
        by_shard: dict[int, list[Post]] = {}
        shard_of = {user: self.router.shard_for(user) for user in {p.user_id for p in posts}}  # once per user
        for post in posts:
            by_shard.setdefault(shard_of[post.user_id], []).append(post)
        loads = [(self.shards[index].node, part) for index, part in by_shard.items()]
        if posts and truth:
            loads.append((self.truth, posts))
        # Each file is its own database and DuckDB inserts without the GIL: load them side by side.
        with ThreadPoolExecutor(max_workers=min(4, max(1, len(loads)))) as pool:
            list(pool.map(lambda load: load[0].bulk_load("posts", _columns(load[1])), loads))

    def reshard(self, router: ShardRouter) -> tuple[int, int]:
        """Move every post to the shard ``router`` gives its author, adding shard files as needed.

        Posts are copied to their new shard before they are deleted from the old one, so a reader never
        misses one (it may briefly see one twice). Returns ``(moved, total)``.
        """
        if router.shards < len(self.shards):
            raise ConfigError(f"resharding only grows: {len(self.shards)} shards now, the router knows {router.shards}")
        with self._lock:
            for i in range(len(self.shards), router.shards):
                node = self.cluster.add_database(f"shard{i}", host=f"shard-host{i}", query_time=self.query_time)
                _create_posts(node)
                self.shards.append(Shard(node, i))
            moving: dict[tuple[int, int], list[Post]] = {}
            total = 0
            for shard in list(self.shards):
                for row in shard.node.execute(SELECT_POSTS):
                    total += 1
                    post = Post(*row)
                    target = router.shard_for(post.user_id)
                    if target != shard.index:
                        moving.setdefault((shard.index, target), []).append(post)
            for (_, target), posts in moving.items():
                self.shards[target].node.bulk_load("posts", _columns(posts))
            for (source, _), posts in moving.items():
                self.shards[source].node.execute(
                    "DELETE FROM posts WHERE post_id IN (SELECT UNNEST(?))", [[p.post_id for p in posts]]
                )
            self.router = router
        return sum(len(p) for p in moving.values()), total

    def insert(self, post: Post) -> None:
        """A new post, written to its shard and to the ground truth."""
        with self._lock:
            self.shard_of(post.user_id).insert(post)
            self._truth.insert(post)

    def delete(self, post: Post) -> None:
        with self._lock:
            self.shard_of(post.user_id).delete(post.post_id)
            self._truth.delete(post.post_id)

    def all_posts(self, direction: str = "newest") -> list[Post]:
        """Every post in feed order, from the ground truth."""
        return [Post(*row) for row in self.truth.execute(f"{SELECT_POSTS} {feed_order(direction)}")]
