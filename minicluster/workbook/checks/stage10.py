"""Checker of the capstone, ``10.paginate``: walk every page and compare with the ground truth."""

from __future__ import annotations

import contextlib
import itertools
import json
import linecache
import math
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from ...cluster import Cluster
from ...cursor import InvalidCursor
from ...posts import Post, PostsSpec, ShardedPosts, generate
from ...sharding import DirectoryRouter, ModuloRouter
from .base import Checker, Failure, NotAttempted, describe


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
    latency, latency_shards = 0.05, 6

    def verify(self, paginate) -> list[str]:
        if not callable(paginate):
            raise Failure(
                f"expected a function paginate(shards, cursor, page_size, direction), got {describe(paginate)}"
            )
        posts = generate(PostsSpec(posts=100, users=40, celebrities=2, tie_share=0.3, seed=11))
        with Cluster(seed=11) as cluster:
            store = self._store(cluster, 4, posts)
            for direction in ("newest", "oldest"):
                for size in (3, 7, 25, 99, 100, 101, 500):
                    walk = self._walk(paginate, store, size, direction, f"{len(posts)} posts on 4 shards")
                    if (size, direction) == (25, "newest"):
                        rows_per_page = sum(walk.rows_read) / walk.pages
            self._bad_cursors(paginate, store)
            self._shard_down(paginate, store)
        with Cluster(seed=12) as cluster:
            few = posts[:: len(posts) // 20]
            store = self._store(cluster, 3, few)
            for direction in ("newest", "oldest"):
                for size in (1, 2):
                    self._walk(paginate, store, size, direction, f"{len(few)} posts on 3 shards")
        with Cluster(seed=12) as cluster:
            self._walk(paginate, self._store(cluster, 3, []), 5, "newest", "an empty store")
        with Cluster(seed=13) as cluster:
            few = DirectoryRouter(ModuloRouter(6), {u: u % 3 for u in range(1, 41)})
            self._walk(paginate, self._store(cluster, 6, posts, few), 7, "newest", "3 of 6 shards empty")
        skewed = generate(PostsSpec(posts=200, users=30, celebrities=1, celebrity_share=0.9, seed=14))
        for direction in ("newest", "oldest"):
            with Cluster(seed=14) as cluster:
                store = self._store(cluster, 4, skewed, DirectoryRouter(ModuloRouter(4), {1: 2}))
                self._walk(paginate, store, 9, direction, "a celebrity's shard")
        with Cluster(seed=15) as cluster:
            self._concurrency(paginate, cluster)
        with Cluster(seed=16) as cluster:
            self._writers(paginate, cluster, posts)
        return [
            "every post exactly once, in (created_at, post_id) order, both directions, page sizes 1 to 500",
            "has_next and next_cursor exact on every page, including a last page that is exactly full",
            "empty store, empty shards, a celebrity's shard and posts tied to the microsecond",
            f"shards asked concurrently: a page over {self.latency_shards} shards of {self.latency * 1000:g} ms "
            f"each took well under {self.latency_shards * self.latency * 1000:g} ms",
            f"rows read per page of 25 over 4 shards: {rows_per_page:.1f} on average (at most 4 x 26 = 104)",
            "no duplicates and nothing lost while posts were inserted and deleted during the walk",
            "InvalidCursor for garbage, tampered and wrong-direction cursors; an error, never a partial page, "
            "when a shard is down",
        ]

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
        seen: dict[int, int] = {}
        for i, post in enumerate(got):
            if post.post_id in seen:
                raise Failure(f"{on}: {_show(post)} returned twice (positions {seen[post.post_id]} and {i})")
            seen[post.post_id] = i
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                tie = " (they share created_at: break ties by post_id)" if g.created_at == e.created_at else ""
                raise Failure(f"{on}: position {i}: expected {_show(e)}, got {_show(g)}{tie}")
        if len(got) != len(expected):
            missing = expected[len(got)] if len(got) < len(expected) else None
            detail = f"; the first missing is {_show(missing)}" if missing else ""
            raise Failure(f"{on}: {len(got)} posts returned, the store holds {len(expected)}{detail}")

    # -- the hard cases ---------------------------------------------------------------------------
    def _bad_cursors(self, paginate, store) -> None:
        shards = store.shards
        _, cursor, _ = self._page(paginate, shards, None, 5, "newest", "first page, newest first")
        tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
        cases = [
            ("a garbage cursor", "not-a-cursor", "newest"),
            ("a tampered cursor", tampered, "newest"),
            ("a newest-first cursor used for oldest first", cursor, "oldest"),
        ]
        for what, bad, direction in cases:
            try:
                result = paginate(shards, bad, 5, direction)
            except InvalidCursor:
                continue
            except NotImplementedError:
                raise NotAttempted() from None
            except Exception as exc:
                raise Failure(f"{what}: raised {type(exc).__name__}: {exc}; raise InvalidCursor instead") from None
            raise Failure(f"{what}: returned a page ({describe(result)}); refuse it with InvalidCursor")

    def _shard_down(self, paginate, store) -> None:
        down = store.shards[1].node
        down.crash()
        try:
            try:
                result = paginate(store.shards, None, 5, "newest")
            except NotImplementedError:
                raise NotAttempted() from None
            except Exception:
                return
            raise Failure(
                f"with {down.name} down, paginate returned a page ({len(result[0])} posts) instead of an error: "
                "a page that silently misses a shard is wrong without anyone knowing"
            )
        finally:
            down.recover()

    def _concurrency(self, paginate, cluster) -> float:
        posts = generate(PostsSpec(posts=25, users=20, celebrities=0, seed=15))
        store = ShardedPosts(cluster, self.latency_shards, query_time=self.latency)
        store.load(posts)
        bound = self.latency_shards * self.latency / 2
        walk = self._walk(
            paginate, store, 5, "newest", f"{self.latency_shards} shards of {self.latency * 1000:g} ms each"
        )
        seconds = sorted(walk.seconds)[len(walk.seconds) // 2]
        if seconds > bound:
            raise Failure(
                f"a page over {self.latency_shards} shards that each take {self.latency * 1000:g} ms took "
                f"{seconds * 1000:.0f} ms (median); ask the shards concurrently, not one after another"
            )
        return seconds

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


class HashRingCheck(Checker):
    """``HashRing``: balanced, ~1/(N+1) moved on add, only the removed node's keys move, deterministic."""

    exercise_id = "10.hash_ring"
    keys = range(20_000)

    def verify(self, ring_class) -> list[str]:
        if not callable(ring_class):
            raise Failure(f"expected the class HashRing, got {describe(ring_class)}")
        nodes = ["shard-a", "shard-b", "shard-c", "shard-d"]
        ring = self.call(ring_class, nodes, 100, on="HashRing(4 nodes, vnodes=100)")
        before = self._owners(ring, "HashRing(4 nodes)")
        counts = Counter(before.values())
        if set(counts) != set(nodes):
            raise Failure(f"20,000 keys went to {sorted(counts)}; every one of the 4 nodes should own some")
        if max(counts.values()) > 1.5 * min(counts.values()):
            raise Failure(
                f"with 100 virtual nodes each, the busiest node owns {max(counts.values())} of 20,000 keys and the "
                f"least busy {min(counts.values())}; are all vnodes placed on the ring?"
            )
        reordered = self.call(ring_class, nodes[::-1], 100, on="HashRing(the same 4 nodes in another order)")
        if self._owners(reordered, "HashRing(reordered)") != before:
            raise Failure(
                "two rings with the same nodes, added in another order, disagree; a key's owner must "
                "depend only on the nodes, not on the order they were added"
            )
        self.call(ring.add, "shard-e", on="add('shard-e')")
        grown = self._owners(ring, "after add('shard-e')")
        moved = [k for k in self.keys if grown[k] != before[k]]
        if any(grown[k] != "shard-e" for k in moved):
            raise Failure(
                "after add('shard-e'), some keys moved between the old nodes; they should only move to the new one"
            )
        if not 0.1 <= len(moved) / len(before) <= 0.3:
            raise Failure(
                f"adding a 5th node moved {len(moved) / len(before):.0%} of the keys; consistent hashing moves about "
                "1/5 (hash % N would move 80%)"
            )
        self.call(ring.remove, "shard-b", on="remove('shard-b')")
        shrunk = self._owners(ring, "after remove('shard-b')")
        wrong = [k for k in self.keys if (grown[k] == "shard-b") != (shrunk[k] != grown[k]) or shrunk[k] == "shard-b"]
        if wrong:
            k = wrong[0]
            raise Failure(
                f"after remove('shard-b'), key {k} went from {grown[k]} to {shrunk[k]}; only shard-b's keys "
                "should move, and none may stay on it"
            )
        empty = self.call(ring_class, [], 100, on="HashRing([])")
        try:
            got = empty.lookup("anything")
        except NotImplementedError:
            raise NotAttempted() from None
        except LookupError:
            got = None
        except Exception as exc:
            raise Failure(f"lookup on an empty ring raised {type(exc).__name__}; raise LookupError") from None
        else:
            raise Failure(f"lookup on an empty ring returned {describe(got)}; raise LookupError")
        self._same_in_another_process(ring_class, before)
        return [
            "20,000 keys spread within 1.5x over 4 nodes, whatever order the nodes were added in",
            "adding a 5th node moves about 1/5 of the keys, all of them to the new node",
            "removing a node moves only its own keys",
            "the same owners in a fresh Python process (no hash() salt); LookupError on an empty ring",
        ]

    def _owners(self, ring, on):
        def lookups():
            return {k: ring.lookup(k) for k in self.keys}

        return self.call(lookups, on=f"{on}: lookup of 20,000 keys")

    def _same_in_another_process(self, ring_class, before) -> None:
        import inspect
        import os
        import subprocess
        import sys

        try:
            source = inspect.getsourcefile(ring_class)
        except TypeError:
            source = None
        if not source or not os.path.isfile(source):
            return  # defined in a notebook: nothing to import in another process
        script = (
            "import importlib.util, json, sys\n"
            "spec = importlib.util.spec_from_file_location('ring', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"r = getattr(m, {ring_class.__name__!r})(['shard-a', 'shard-b', 'shard-c', 'shard-d'], 100)\n"
            "print(json.dumps([r.lookup(k) for k in range(0, 20000, 97)]))\n"
        )
        expected = [before[k] for k in range(0, 20000, 97)]
        for salt in ("1", "2"):
            env = {**os.environ, "PYTHONHASHSEED": salt}
            done = subprocess.run(
                [sys.executable, "-c", script, source], capture_output=True, text=True, timeout=60, env=env, check=False
            )
            if done.returncode != 0 or json.loads(done.stdout or "null") != expected:
                raise Failure(
                    "a fresh Python process puts the same keys on other nodes: positions must come from a stable "
                    "hash (hashlib), not hash(), whose strings are salted per process"
                )


class _Connect:
    """The checker's connect(): counts connections and which are lent out right now."""

    def __init__(self) -> None:
        self.opened = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.opened += 1
            return f"connection-{self.opened}"


def _blocked(thread: threading.Thread) -> bool:
    """Whether ``thread`` is parked in a wait (its current line calls wait/acquire/get/sleep)."""
    frame = sys._current_frames().get(thread.ident)
    if frame is None:
        return False
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    return any(word in line for word in ("wait", "acquire", ".get(", "sleep"))


class ConnectionPoolCheck(Checker):
    """Bounded, reuses, times out, never lends one connection twice, fair, and no leak on exceptions."""

    exercise_id = "10.connection_pool"
    timeout = 0.3

    def verify(self, pool_class) -> list[str]:
        if not callable(pool_class):
            raise Failure(f"expected the class ConnectionPool, got {describe(pool_class)}")
        self._bounded_and_timed_out(pool_class)
        self._no_leak(pool_class)
        self._never_lent_twice(pool_class)
        self._fair(pool_class)
        return [
            "never more than size connections; idle ones are reused",
            "a borrower waits up to the timeout, then gets PoolTimeout",
            "a connection comes back even when the code using it raises",
            "under 16 threads, no connection is ever lent to two borrowers at once",
            "waiting borrowers are served first come, first served",
        ]

    def _new(self, pool_class, connect, size, timeout=None):
        return self.call(pool_class, connect, size, timeout or self.timeout, on=f"ConnectionPool(connect, {size})")

    def _bounded_and_timed_out(self, pool_class) -> None:
        connect = _Connect()
        pool = self._new(pool_class, connect, 3)
        first = self.call(pool.acquire, on="acquire() on a new pool of 3")
        self.call(pool.release, first, on="release()")
        reused = self.call(pool.acquire, on="acquire() after giving the only connection back")
        if reused != first or connect.opened != 1:
            raise Failure(
                f"after the only connection came back, acquire() opened another one ({connect.opened} opened); "
                "reuse an idle connection before opening a new one"
            )
        held = [reused] + [self.call(pool.acquire, on=f"acquire() #{i + 2} of a pool of 3") for i in range(2)]
        if len(set(held)) != 3:
            raise Failure(f"three acquire() calls returned {held}; each borrower needs its own connection")
        self._expect_timeout(pool, connect, "acquire() with all 3 connections lent")
        self.call(pool.release, held[0], on="release()")
        again = self.call(pool.acquire, on="acquire() after a release")
        if again != held[0] or connect.opened != 3:
            raise Failure(f"after a release, acquire() opened a new connection instead of reusing {held[0]!r}")
        self._expect_timeout(pool, connect, "acquire() once the released connection was lent again")

    def _expect_timeout(self, pool, connect, on) -> None:
        started = time.perf_counter()
        try:
            got = self.call(pool.acquire, on=on)
        except Failure as failure:
            if "PoolTimeout" not in str(failure) and "TimeoutError" not in str(failure):
                raise
            got = None
        waited = time.perf_counter() - started
        if got is not None:
            raise Failure(
                f"{on} returned {describe(got)}"
                + (f" (connect() was called {connect.opened} times)" if connect.opened > 3 else " (already lent)")
                + "; it must wait, and raise PoolTimeout when the timeout passes"
            )
        if waited < 0.5 * self.timeout:
            raise Failure(
                f"acquire() gave up after {waited * 1000:.0f} ms; wait up to the timeout ({self.timeout} s) first"
            )

    def _no_leak(self, pool_class) -> None:
        pool = self._new(pool_class, _Connect(), 2)

        def failing_uses():
            for _ in range(10):
                try:
                    with pool.connection():
                        raise ZeroDivisionError("the query failed")
                except ZeroDivisionError:
                    pass
            with pool.connection() as a, pool.connection() as b:
                return a, b

        try:
            self.call(failing_uses, on="10 uses of pool.connection() whose code raised, then 2 more")
        except Failure as failure:
            if "PoolTimeout" in str(failure) or "TimeoutError" in str(failure):
                raise Failure(
                    "after 10 uses of `with pool.connection():` whose code raised, the pool had no connection left: "
                    "give it back in a finally"
                ) from None
            raise

    def _never_lent_twice(self, pool_class) -> None:
        connect = _Connect()
        pool = self._new(pool_class, connect, 4, timeout=5.0)
        out: set = set()
        lock = threading.Lock()
        problems: list[str] = []
        start = threading.Barrier(16)

        def borrower() -> None:
            try:
                start.wait()
                for _ in range(40):
                    with pool.connection() as conn:
                        with lock:
                            if conn in out:
                                problems.append(f"{conn!r} was lent to two borrowers at once")
                            out.add(conn)
                            if len(out) > 4:
                                problems.append(f"{len(out)} connections lent at once from a pool of 4")
                        time.sleep(0.0005)  # the query: hold the connection a moment, as real borrowers do
                        with lock:
                            out.discard(conn)
            except BaseException as exc:  # reported below
                problems.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=borrower, daemon=True) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.call_timeout * 2)
        if any(t.is_alive() for t in threads):
            raise Failure("16 threads borrowing from a pool of 4 never finished: a deadlock, or a lost wake-up?")
        if problems:
            raise Failure(f"16 threads borrowing from a pool of 4: {problems[0]}")
        if connect.opened > 4:
            raise Failure(f"a pool of 4 opened {connect.opened} connections")

    def _fair(self, pool_class) -> None:
        pool = self._new(pool_class, _Connect(), 1, timeout=5.0)
        held = self.call(pool.acquire, on="acquire() on a pool of 1")
        served: list[int] = []
        threads = []
        for i in range(4):

            def borrow(i=i):
                conn = pool.acquire()
                served.append(i)
                pool.release(conn)

            t = threading.Thread(target=borrow, daemon=True)
            t.start()
            threads.append(t)
            for _ in range(5000):  # until it is parked in line (read from its live frame)
                if _blocked(t):
                    break
                threading.Event().wait(0.001)
        released = time.perf_counter()
        self.call(pool.release, held, on="release()")
        for t in threads:
            t.join(self.call_timeout)
        if time.perf_counter() - released > 1.0:
            raise Failure(
                "four waiting borrowers took over a second to be served after the connection came back (their "
                "timeout is 5 s): release() must wake the waiters, not leave them to time out"
            )
        if served != [0, 1, 2, 3]:
            raise Failure(
                f"four borrowers arrived in the order 0, 1, 2, 3 while the only connection was lent; they were "
                f"served {served}: keep waiters in line, first come first served"
            )


class ValidateCheck(Checker):
    """A learner's validator: silent on a correct paginator, and catches every paginator in the catalogue."""

    exercise_id = "10.validate"
    call_timeout = 60.0

    @staticmethod
    def _scenarios():
        posts = generate(PostsSpec(posts=12, users=10, celebrities=2, tie_share=0.3, seed=21))
        few = DirectoryRouter(ModuloRouter(6), {u: u % 3 for u in range(1, 11)})
        return [
            ("12 posts on 4 shards", lambda c: PaginateCheck._store(c, 4, posts)),
            ("12 posts on 6 shards, 3 of them empty", lambda c: PaginateCheck._store(c, 6, posts, few)),
            ("6 posts on 4 shards of 20 ms each", lambda c: _latency_store(c, posts[::2])),
        ]

    def verify(self, validate) -> list[str]:
        from .paginate_mutants import DESCRIPTIONS, PAGINATE_MUTANTS, reference

        if not callable(validate):
            raise Failure(f"expected a function validate(paginate, store), got {describe(validate)}")
        with contextlib.ExitStack() as stack:
            stores = _Stores(self._scenarios(), stack)
            for i, scenario in enumerate(stores.names):
                problems = self._problems(validate, reference, stores, i, "a correct paginator")
                if problems:
                    raise Failure(
                        f"your validator reported {describe(problems[0])} for a correct paginator on {scenario}; "
                        "a validator must stay silent when nothing is wrong"
                    )
            for name, broken in PAGINATE_MUTANTS.items():
                what = f"a paginator that {DESCRIPTIONS[name]}"
                if not any(self._problems(validate, broken, stores, i, what) for i in range(len(stores.names))):
                    raise Failure(f"your validator found nothing wrong with {what}")
        return [
            "silent on a correct paginator over three stores",
            f"catches all {len(PAGINATE_MUTANTS)} broken paginators of the capstone's catalogue",
        ]

    def _problems(self, validate, paginator, stores, i, what) -> list:
        store = stores.get(i)
        problems = self.call(validate, paginator, store, on=f"validate({what}, {stores.names[i]})")
        if not isinstance(problems, (list, tuple)):
            raise Failure(f"validate({what}, {stores.names[i]}) returned {describe(problems)}; return a list")
        return list(problems)


class _Stores:
    """One store per scenario, rebuilt only when a validator left it changed (a post added, a shard down)."""

    def __init__(self, scenarios, stack: contextlib.ExitStack) -> None:
        self.names = [name for name, _ in scenarios]
        self._builds = [build for _, build in scenarios]
        self._stack = stack
        self._stores: list = [None] * len(scenarios)
        self._posts: list = [None] * len(scenarios)

    def get(self, i: int):
        store = self._stores[i]
        if store is not None and all(s.node.is_up for s in store.shards) and store.all_posts() == self._posts[i]:
            return store
        cluster = self._stack.enter_context(Cluster(seed=21 + i))
        store = self._stores[i] = self._builds[i](cluster)
        self._posts[i] = store.all_posts()
        return store


def _latency_store(cluster, posts):
    store = ShardedPosts(cluster, 4, query_time=0.02)
    store.load(posts)
    return store
