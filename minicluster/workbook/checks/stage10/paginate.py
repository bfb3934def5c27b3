"""Checker of the capstone, ``10.paginate``: walk every page and compare with the ground truth."""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ....cluster import Cluster
from ....cursor import InvalidCursor
from ....posts import Post, PostsSpec, ShardedPosts, generate
from ....sharding import DirectoryRouter, ModuloRouter
from ..base import Checker, Failure, describe


@dataclass
class Walk:
    posts: list = field(default_factory=list)
    pages: int = 0
    rows_read: list = field(default_factory=list)
    seconds: list = field(default_factory=list)


def _show(post) -> str:
    return f"post {post.post_id} (user {post.user_id}, {post.created_at.isoformat()})"


class PaginateCheck(Checker):
    """Every page in both directions against a single-database ground truth, and the hard cases."""

    exercise_id = "10.paginate"
    #: 12 shards of 50 ms: a concurrent page takes about one shard's latency, so the bound (2.2 of them)
    #: also catches a pool capped at a few threads (4 threads: 3 rounds, 150 ms).
    latency, latency_shards, latency_bound = 0.05, 12, 2.2
    #: Over a second, well under the call timeout: slow is not down, and must be waited for.
    slow_shard = 1.1
    #: The walk (page size, direction) taken before any other scenario.
    first_walk = (7, "newest")

    def verify(self, paginate) -> list[str]:
        if not callable(paginate):
            raise Failure(
                f"expected a function paginate(shards, cursor, page_size, direction), got {describe(paginate)}"
            )
        posts = generate(PostsSpec(posts=100, users=40, celebrities=2, tie_share=0.3, seed=11))
        # Most mistakes show on the first walk: found there before the slow scenarios below start, they
        # cost a learner (and the mutants' tests) milliseconds rather than the slowest scenario's second.
        with self._cluster(11) as cluster:
            self._walk(paginate, self._store(cluster, 4, posts), *self.first_walk, f"{len(posts)} posts on 4 shards")
        # The slow shards mostly wait: they run beside the walks (the check takes ~1 s instead of ~3.5).
        rows_per_page, *_ = self.side_by_side(
            lambda: self._walks(paginate, posts),
            lambda: self._slow_shard(paginate, posts),
            lambda: self._down_while_slow(paginate, posts),
        )
        # Pages timed alone, once the slow shards no longer hold any of the learner's threads.
        with self._cluster(15) as cluster:
            self._concurrency(paginate, cluster)
        return [
            "every post exactly once, in (created_at, post_id) order, both directions, page sizes 1 to 500",
            "has_next and next_cursor exact on every page, including a last page that is exactly full",
            "empty store, empty shards, a celebrity's shard, posts tied to the microsecond and posts a few "
            "microseconds apart within one millisecond on different shards",
            f"shards asked concurrently: a page over {self.latency_shards} shards of {self.latency * 1000:g} ms "
            f"each took under {self.latency_bound * self.latency * 1000:g} ms; a shard {self.slow_shard:g} s slow "
            "was waited for",
            f"rows read per page of 25 over 4 shards: {rows_per_page:.1f} on average (at most 4 x 26 = 104)",
            "no duplicates and nothing lost while posts were inserted and deleted during the walk",
            "InvalidCursor for garbage, empty, tampered and wrong-direction cursors; an error, never a partial "
            "page, when a shard is down, raised once every other shard's fetch has finished",
        ]

    def _walks(self, paginate, posts) -> float:
        """Every walk against the ground truth, the bad cursors, a shard down, and writers during a walk;
        returns the rows read per page of 25 over 4 shards."""
        with self._cluster(11) as cluster:
            store = self._store(cluster, 4, posts)
            for direction in ("newest", "oldest"):
                for size in (3, 7, 25, 99, 100, 101, 500):
                    if (size, direction) == self.first_walk:
                        continue  # walked first of all
                    walk = self._walk(paginate, store, size, direction, f"{len(posts)} posts on 4 shards")
                    if (size, direction) == (25, "newest"):
                        rows_per_page = sum(walk.rows_read) / walk.pages
            self._bad_cursors(paginate, store)
            self._shard_down(paginate, store)
        with self._cluster(12) as cluster:
            few = posts[:: len(posts) // 20]
            store = self._store(cluster, 3, few)
            for direction in ("newest", "oldest"):
                for size in (1, 2):
                    self._walk(paginate, store, size, direction, f"{len(few)} posts on 3 shards")
        with self._cluster(12) as cluster:
            self._walk(paginate, self._store(cluster, 3, []), 5, "newest", "an empty store")
        with self._cluster(13) as cluster:
            few = DirectoryRouter(ModuloRouter(6), {u: u % 3 for u in range(1, 41)})
            self._walk(paginate, self._store(cluster, 6, posts, few), 7, "newest", "3 of 6 shards empty")
        skewed = generate(PostsSpec(posts=200, users=30, celebrities=1, celebrity_share=0.9, seed=14))
        for direction in ("newest", "oldest"):
            with self._cluster(14) as cluster:
                store = self._store(cluster, 4, skewed, DirectoryRouter(ModuloRouter(4), {1: 2}))
                self._walk(paginate, store, 9, direction, "a celebrity's shard")
        with self._cluster(17) as cluster:
            self._within_one_millisecond(paginate, cluster)
        with self._cluster(16) as cluster:
            self._writers(paginate, cluster, posts)
        return rows_per_page

    # -- building and walking -------------------------------------------------------------------
    @staticmethod
    def _store(cluster, shards, posts, router=None):
        store = ShardedPosts(cluster, shards, router=router)
        store.load(posts)
        return store

    def _page(self, paginate, shards, cursor, size, direction, on):
        page = self.call(paginate, shards, cursor, size, direction, on=on)
        try:
            posts, next_cursor, has_next = page
        except (TypeError, ValueError):
            raise Failure(f"{on}: returned {describe(page)}; return Page(posts, next_cursor, has_next)") from None
        if type(posts) not in (list, tuple) or not all(type(p) is Post for p in posts):
            raise Failure(f"{on}: the page's posts are {describe(posts)}; return a list of the shards' Post objects")
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise Failure(f"{on}: next_cursor is {describe(next_cursor)}; it must be a string (or None)")
        if not isinstance(has_next, bool):
            raise Failure(f"{on}: has_next is {describe(has_next)}; it must be True or False")
        if len(posts) > size:
            raise Failure(f"{on}: {len(posts)} posts on a page of size {size}")
        if has_next and next_cursor is None:
            raise Failure(f"{on}: has_next is True but next_cursor is None")
        if not has_next and next_cursor is not None:
            raise Failure(f"{on}: has_next is False but a next_cursor was returned; make it None on the last page")
        return list(posts), next_cursor, has_next

    def _walk(self, paginate, store, size, direction, what, between_pages=None) -> Walk:
        shards = store.shards
        expected = store.all_posts(direction)
        limit = math.ceil(len(expected) / size) + 3
        if between_pages is not None:  # writers add posts as the walk goes: allow for them
            limit = 2 * limit + 20
        walk, cursor = Walk(), None
        while True:
            on = f"{what}, {direction} first, page size {size}, page {walk.pages + 1}"
            before, started = shards.rows_read, time.perf_counter()
            posts, cursor, has_next = self._page(paginate, shards, cursor, size, direction, on)
            walk.seconds.append(time.perf_counter() - started)
            read = shards.rows_read - before
            walk.rows_read.append(read)
            walk.pages += 1
            if read > len(shards) * (size + 1):
                raise Failure(
                    f"{on}: read {read} rows from {len(shards)} shards for a page of {size}; "
                    f"page_size + 1 = {size + 1} per shard is always enough"
                )
            if has_next and len(posts) < size:
                raise Failure(f"{on}: only {len(posts)} posts but has_next is True; fill the page first")
            walk.posts.extend(posts)
            if between_pages is not None:
                between_pages(walk)
            if not has_next:
                break
            if walk.pages >= limit:
                raise Failure(f"{on}: still not done after {walk.pages} pages; does the cursor move forward?")
        if between_pages is None:
            self._compare(walk.posts, expected, f"{what}, {direction} first, page size {size}")
            pages = max(1, math.ceil(len(expected) / size))
            if walk.pages != pages:
                raise Failure(
                    f"{what}, {direction} first, page size {size}: {walk.pages} pages for {len(expected)} posts "
                    f"instead of {pages}; has_next must be False on a last page that is exactly full"
                )
        return walk

    @staticmethod
    def _compare(got, expected, on) -> None:
        """Name the first difference the way a learner can act on: out of order, skipped, or repeated."""
        first_at: dict[int, int] = {}
        for i, post in enumerate(got):
            first_at.setdefault(post.post_id, i)
        for i, (g, e) in enumerate(zip(got, expected)):
            if g == e:
                continue
            if first_at[g.post_id] < i:
                raise Failure(f"{on}: {_show(g)} returned twice (positions {first_at[g.post_id]} and {i})")
            if e.post_id not in first_at:
                raise Failure(
                    f"{on}: {_show(e)} was skipped (it belongs at position {i}, where {_show(g)} came): every "
                    "shard's rows merged in feed order, and each page continuing right after the last post it "
                    "returned, leave no gap"
                )
            tie = " (they share created_at: break ties by post_id)" if g.created_at == e.created_at else ""
            raise Failure(
                f"{on}: position {i}: {_show(e)} must come before {_show(g)}, in (created_at, post_id) order{tie}"
            )
        if len(got) > len(expected):
            extra = got[len(expected)]
            again = first_at[extra.post_id] < len(expected)
            raise Failure(f"{on}: {_show(extra)} returned {'twice' if again else 'but not in the store'}")
        if len(got) < len(expected):
            raise Failure(
                f"{on}: {len(got)} posts returned, the store holds {len(expected)}; the first missing is "
                f"{_show(expected[len(got)])}"
            )

    # -- the hard cases ---------------------------------------------------------------------------
    def _bad_cursors(self, paginate, store) -> None:
        shards = store.shards
        _, cursor, _ = self._page(paginate, shards, None, 5, "newest", "first page, newest first")
        tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
        cases = [
            ("a garbage cursor", "not-a-cursor", "newest"),
            ("the empty string as a cursor", "", "newest"),
            ("a cursor of one dot", ".", "newest"),
            ("a tampered cursor", tampered, "newest"),
            ("a newest-first cursor used for oldest first", cursor, "oldest"),
        ]
        for what, bad, direction in cases:
            self.expect_raises(
                InvalidCursor, paginate, shards, bad, 5, direction, on=what, instead="refuse it with InvalidCursor"
            )

    def _shard_down(self, paginate, store) -> None:
        down = store.shards[1].node
        down.crash()
        try:
            self._expect_an_error(paginate, store, f"with {down.name} down")
        finally:
            down.recover()

    def _expect_an_error(self, paginate, store, on) -> None:
        self.expect_raises(
            Exception,
            paginate,
            store.shards,
            None,
            5,
            "newest",
            on=on,
            instead="let the shard's error through: a page silently missing a shard is wrong without anyone knowing",
        )

    def _concurrency(self, paginate, cluster) -> float:
        posts = generate(PostsSpec(posts=20, users=20, celebrities=0, seed=15))  # 4 pages of 5
        store = ShardedPosts(cluster, self.latency_shards)
        store.load(posts)
        for shard in store.shards:  # only the walk's queries take the shards' latency, not the set-up's
            shard.node.query_time = self.latency
        bound = self.latency_bound * self.latency
        walk = self._walk(
            paginate, store, 5, "newest", f"{self.latency_shards} shards of {self.latency * 1000:g} ms each"
        )
        seconds = sorted(walk.seconds)[len(walk.seconds) // 2]
        if seconds > bound:
            raise Failure(
                f"a page over {self.latency_shards} shards that each take {self.latency * 1000:g} ms took "
                f"{seconds * 1000:.0f} ms (median); ask every shard at the same time (a pool of a few threads, or one "
                "shard after another, makes a page wait for several shards in a row)"
            )
        return seconds

    def _within_one_millisecond(self, paginate, cluster) -> None:
        """Posts microseconds apart within one millisecond, on different shards, ids against time order."""
        base = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
        posts = [
            # user u lives on shard u % 4; the later the post, the smaller its id
            Post(9_000 - 10 * i, 1 + i % 8, base + timedelta(microseconds=37 * i), "within one millisecond")
            for i in range(24)
        ]
        store = self._store(cluster, 4, posts)
        for direction in ("newest", "oldest"):
            self._walk(paginate, store, 5, direction, "24 posts 37 µs apart within one millisecond on 4 shards")

    def _slow_shard(self, paginate, posts) -> None:
        with self._cluster(18) as cluster:
            store = self._store(cluster, 4, posts[:40])
            slow = store.shards[2].node
            slow.query_time = self.slow_shard
            expected = store.all_posts("newest")[:10]
            on = f"{slow.name} answers in {self.slow_shard:g} s (slow, not down), first page of 10"
            got, _, _ = self._page(paginate, store.shards, None, 10, "newest", on)
        if got != expected:
            missing = [p for p in expected if p not in got]
            detail = f"; {_show(missing[0])} from {slow.name} is missing" if missing else ""
            raise Failure(f"{on}: the page differs from the ground truth{detail}: wait for every shard")

    def _down_while_slow(self, paginate, posts) -> None:
        """A shard down while another is slow: the error must come after every fetch has finished, or the
        slow one goes on reading in the background, its rows counted against whatever comes next."""
        with self._cluster(19) as cluster:
            store = self._store(cluster, 4, posts[:40])
            down, slow = store.shards[0].node, store.shards[2].node
            slow.query_time = 0.3
            others = [shard.node for shard in store.shards if shard.node is not down]
            down.crash()
            self._expect_an_error(paginate, store, f"with {down.name} down and {slow.name} answering in 0.3 s")
            still_reading = slow.open_connections
            queries = [node.metrics.counter("queries").value for node in others]
            # A fetch still queued in a pool opens no connection yet: watch long enough for it to run.
            threading.Event().wait(slow.query_time + 0.5)
            later = [node.metrics.counter("queries").value for node in others]
        if still_reading or later != queries:
            raise Failure(
                f"with {down.name} down and {slow.name} answering in 0.3 s, your paginator raised while "
                f"{slow.name}'s fetch was still running: it reads on in the background, and its rows count "
                "against the next page. Wait for every fetch (concurrent.futures.wait(futures)) before raising"
            )

    @contextlib.contextmanager
    def _cluster(self, seed: int):
        """A cluster that, before it closes, lets fetches the learner's code left running end (bounded):
        closed under them, they would fail on threads of their own, long after the verdict."""
        with Cluster(seed=seed) as cluster:
            try:
                yield cluster
            finally:
                for node in list(cluster.nodes.values()):
                    if hasattr(node, "wait_idle"):
                        node.wait_idle(self.slow_shard + self.call_timeout)

    def _writers(self, paginate, cluster, posts) -> None:
        store = self._store(cluster, 4, posts)
        initial = store.all_posts("newest")
        deleted: set[int] = set()
        inserted: dict[int, Post] = {}
        ids = itertools.count(max(p.post_id for p in posts) + 1)
        lock = threading.Lock()

        def mutate(rng: random.Random) -> None:
            """Two new posts at random earlier times (some ahead of the cursor, some behind), one deletion."""
            for _ in range(2):
                post = Post(next(ids), rng.randint(1, 40), rng.choice(posts).created_at, "written during the walk")
                store.insert(post)
                with lock:
                    inserted[post.post_id] = post
            victim = rng.choice(initial)
            with lock:
                fresh = victim.post_id not in deleted
                deleted.add(victim.post_id)
            if fresh:
                store.delete(victim)

        # One writer between pages (the same every run) and one racing the walk on its own thread.
        between = random.Random(16)
        racing = random.Random(17)
        stop = threading.Event()

        def writer() -> None:
            for _ in range(40):
                if stop.is_set():
                    return
                mutate(racing)

        thread = threading.Thread(target=writer, name="concurrent-writer", daemon=True)
        thread.start()
        try:
            walk = self._walk(
                paginate, store, 10, "newest", "posts inserted and deleted during the walk", lambda w: mutate(between)
            )
        finally:
            stop.set()
            thread.join(self.call_timeout)
        on = "posts inserted and deleted during the walk, newest first, page size 10"
        ids = [p.post_id for p in walk.posts]
        if len(ids) != len(set(ids)):
            twice = next(p for p in walk.posts if ids.count(p.post_id) > 1)
            raise Failure(f"{on}: {_show(twice)} returned twice")
        keys = [p.key for p in walk.posts]
        if any(a <= b for a, b in zip(keys, keys[1:])):
            raise Failure(f"{on}: the posts returned are not in newest-first order")
        returned = set(ids)
        lost = [p for p in initial if p.post_id not in deleted and p.post_id not in returned]
        if lost:
            raise Failure(f"{on}: {_show(lost[0])} existed before the walk, was never deleted, and was not returned")
        foreign = [pid for pid in returned if pid not in inserted and pid not in {p.post_id for p in initial}]
        if foreign:
            raise Failure(f"{on}: post {foreign[0]} was returned but never existed")
