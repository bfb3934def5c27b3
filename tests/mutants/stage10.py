"""Wrong paginators: every mistake WORKBOOK.md names for the capstone, and more."""

import heapq
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from minicluster.cursor import Cursor
from minicluster.posts import START, Page


def _after(shards, cursor, direction):
    return None if cursor is None else shards.codec.decode(cursor, direction).key


def _fetch_all(shards, after, direction, limit):
    with ThreadPoolExecutor(max_workers=max(1, len(shards))) as pool:
        return list(pool.map(lambda s: s.fetch(after, direction, limit), shards))


def _merge(per_shard, direction, key=lambda p: p.key):
    return heapq.merge(*per_shard, key=key, reverse=direction == "newest")


def _page(shards, rows, page_size, direction, cursor_post=None):
    posts, has_next = rows[:page_size], len(rows) > page_size
    last = cursor_post or (posts[-1] if posts else None)
    cursor = shards.codec.encode(Cursor(last.created_at, last.post_id, direction)) if has_next else None
    return Page(posts, cursor, has_next)


def offset_per_shard(shards, cursor=None, page_size=20, direction="newest"):
    """The cursor carries a page number; every shard is read from the start up to that offset."""
    number = 0 if cursor is None else shards.codec.decode(cursor, direction).post_id
    skip = number * page_size
    per_shard = _fetch_all(shards, None, direction, skip + page_size + 1)
    rows = list(itertools.islice(_merge(per_shard, direction), skip, skip + page_size + 1))
    posts, has_next = rows[:page_size], len(rows) > page_size
    token = shards.codec.encode(Cursor(START, number + 1, direction)) if has_next else None
    return Page(posts, token, has_next)


def concatenated_not_merged(shards, cursor=None, page_size=20, direction="newest"):
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    return _page(shards, list(itertools.chain(*per_shard))[: page_size + 1], page_size, direction)


def too_few_rows_no_refill(shards, cursor=None, page_size=20, direction="newest"):
    """Asks each shard for its 'share' of the page, as if posts were spread evenly."""
    share = page_size // max(1, len(shards)) + 1
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, share)
    rows = list(itertools.islice(_merge(per_shard, direction), page_size + 1))
    return _page(shards, rows, page_size, direction)


def cursor_on_created_at_only(shards, cursor=None, page_size=20, direction="newest"):
    """Continues after the last created_at: every other post with that same instant is skipped."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    rows = list(itertools.islice(_merge(per_shard, direction), page_size + 1))
    posts, has_next = rows[:page_size], len(rows) > page_size
    edge = -1 if direction == "newest" else (1 << 63) - 1
    token = shards.codec.encode(Cursor(posts[-1].created_at, edge, direction)) if has_next else None
    return Page(posts, token, has_next)


def inclusive_cursor(shards, cursor=None, page_size=20, direction="newest"):
    """Fetches from the last key inclusive (>= instead of >): the last post comes back on the next page."""
    after = _after(shards, cursor, direction)
    if after is not None:
        after = (after[0], after[1] + 1 if direction == "newest" else after[1] - 1)
    per_shard = _fetch_all(shards, after, direction, page_size + 1)
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def no_tie_breaker_in_merge(shards, cursor=None, page_size=20, direction="newest"):
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    rows = list(itertools.islice(_merge(per_shard, direction, key=lambda p: p.created_at), page_size + 1))
    return _page(shards, rows, page_size, direction)


def cursor_from_last_fetched(shards, cursor=None, page_size=20, direction="newest"):
    """Next cursor from the extra row fetched to learn has_next: that row is never returned."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    rows = list(itertools.islice(_merge(per_shard, direction), page_size + 1))
    return _page(shards, rows, page_size, direction, cursor_post=rows[-1] if rows else None)


def crashes_on_an_empty_shard(shards, cursor=None, page_size=20, direction="newest"):
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    heads = [rows[0] for rows in per_shard]  # IndexError when a shard has nothing left
    del heads
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def swallows_shard_errors(shards, cursor=None, page_size=20, direction="newest"):
    after = _after(shards, cursor, direction)

    def fetch(shard):
        try:
            return shard.fetch(after, direction, page_size + 1)
        except Exception:
            return []

    with ThreadPoolExecutor(max_workers=max(1, len(shards))) as pool:
        per_shard = list(pool.map(fetch, shards))
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def sequential_fan_out(shards, cursor=None, page_size=20, direction="newest"):
    after = _after(shards, cursor, direction)
    per_shard = [s.fetch(after, direction, page_size + 1) for s in shards]
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def shared_list_without_waiting(shards, cursor=None, page_size=20, direction="newest"):
    """Threads append to one shared list; the function reads it before they have all finished."""
    after = _after(shards, cursor, direction)
    gathered = []

    def fetch(shard):
        gathered.extend(shard.fetch(after, direction, page_size + 1))

    threads = [threading.Thread(target=fetch, args=(s,)) for s in shards]
    for t in threads:
        t.start()
    threads[0].join()
    rows = sorted(gathered, key=lambda p: p.key, reverse=direction == "newest")[: page_size + 1]
    return _page(shards, rows, page_size, direction)


def has_next_when_page_is_full(shards, cursor=None, page_size=20, direction="newest"):
    """Guesses has_next from a full page: a last page that is exactly full gets an empty page after it."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size)
    posts = list(itertools.islice(_merge(per_shard, direction), page_size))
    has_next = len(posts) == page_size
    token = shards.codec.encode(Cursor(posts[-1].created_at, posts[-1].post_id, direction)) if has_next else None
    return Page(posts, token, has_next)


def cursor_even_on_the_last_page(shards, cursor=None, page_size=20, direction="newest"):
    """The notes' sketch: next cursor = last post, always (or the old cursor when the page is empty)."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    rows = list(itertools.islice(_merge(per_shard, direction), page_size + 1))
    posts = rows[:page_size]
    token = shards.codec.encode(Cursor(posts[-1].created_at, posts[-1].post_id, direction)) if posts else cursor
    return Page(posts, token, len(rows) > page_size)


def page_size_plus_five(shards, cursor=None, page_size=20, direction="newest"):
    """The notes' PER_SHARD_FETCH = PAGE_SIZE + 5: correct pages, but more rows read than needed."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 5)
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def plain_json_cursor(shards, cursor=None, page_size=20, direction="newest"):
    """A readable, unsigned cursor: anyone can edit it, and garbage is not refused as InvalidCursor."""
    from datetime import datetime

    after = None
    if cursor is not None:
        data = json.loads(cursor)
        after = (datetime.fromisoformat(data["t"]), data["id"])
    per_shard = _fetch_all(shards, after, direction, page_size + 1)
    rows = list(itertools.islice(_merge(per_shard, direction), page_size + 1))
    posts, has_next = rows[:page_size], len(rows) > page_size
    token = json.dumps({"t": posts[-1].created_at.isoformat(), "id": posts[-1].post_id}) if has_next else None
    return Page(posts, token, has_next)


def cursor_direction_ignored(shards, cursor=None, page_size=20, direction="newest"):
    """Decodes every cursor as it was issued, so a newest-first cursor walks oldest-first silently."""
    after = None
    if cursor is not None:
        for issued in ("newest", "oldest"):
            try:
                after = shards.codec.decode(cursor, issued).key
                break
            except ValueError:
                continue
    per_shard = _fetch_all(shards, after, direction, page_size + 1)
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


MUTANTS = {
    "10.paginate": {
        f.__name__: f
        for f in (
            offset_per_shard,
            concatenated_not_merged,
            too_few_rows_no_refill,
            cursor_on_created_at_only,
            inclusive_cursor,
            no_tie_breaker_in_merge,
            cursor_from_last_fetched,
            crashes_on_an_empty_shard,
            swallows_shard_errors,
            sequential_fan_out,
            shared_list_without_waiting,
            has_next_when_page_is_full,
            cursor_even_on_the_last_page,
            page_size_plus_five,
            plain_json_cursor,
            cursor_direction_ignored,
        )
    }
}


# -- 10.hash_ring ---------------------------------------------------------------------------------
import bisect  # noqa: E402
import hashlib  # noqa: E402
import random  # noqa: E402


def _position(value):
    return int.from_bytes(hashlib.sha256(str(value).encode()).digest()[:8], "big")


class _Ring:
    """A correct ring whose parts the mutants below replace one at a time."""

    def __init__(self, nodes=(), vnodes=100):
        self.vnodes = vnodes
        self.points = []  # sorted (position, node)
        for node in nodes:
            self.add(node)

    def place(self, node, i):
        return _position(f"{node}#{i}")

    def add(self, node):
        for i in range(self.vnodes):
            bisect.insort(self.points, (self.place(node, i), node))

    def remove(self, node):
        self.points = [p for p in self.points if p[1] != node]

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_left(self.points, (_position(key), ""))
        return self.points[i % len(self.points)][1]


class ModuloNotARing(_Ring):
    def __init__(self, nodes=(), vnodes=100):
        self.nodes = []
        super().__init__(nodes, vnodes)

    def add(self, node):
        self.nodes.append(node)

    def remove(self, node):
        self.nodes.remove(node)

    def lookup(self, key):
        if not self.nodes:
            raise LookupError("empty")
        return self.nodes[_position(key) % len(self.nodes)]


class SortedModulo(ModuloNotARing):
    """hash % N over the sorted node names: order-independent, but adding a node moves most keys."""

    def add(self, node):
        self.nodes = sorted([*self.nodes, node])


class IgnoresVnodes(_Ring):
    def add(self, node):
        bisect.insort(self.points, (self.place(node, 0), node))


class PythonHash(_Ring):
    def place(self, node, i):
        return hash(f"{node}#{i}")

    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        i = bisect.bisect_left(self.points, (hash(str(key)), ""))
        return self.points[i % len(self.points)][1]


class RemovesOnlyTheFirstPoint(_Ring):
    def remove(self, node):
        self.points.remove((self.place(node, 0), node))


class NoWrapAround(_Ring):
    def lookup(self, key):
        if not self.points:
            raise LookupError("empty")
        return self.points[bisect.bisect_left(self.points, (_position(key), ""))][1]


class PlacedByArrivalOrder(_Ring):
    """Positions from the order nodes arrived in, not from their names."""

    def __init__(self, nodes=(), vnodes=100):
        self.arrivals = 0
        super().__init__(nodes, vnodes)

    def add(self, node):
        self.arrivals += 1
        for i in range(self.vnodes):
            bisect.insort(self.points, (_position(f"{self.arrivals}#{i}"), node))


class RandomPoints(_Ring):
    def place(self, node, i):
        return random.getrandbits(64)


class NoneOnAnEmptyRing(_Ring):
    def lookup(self, key):
        return super().lookup(key) if self.points else None


MUTANTS["10.hash_ring"] = {
    cls.__name__: cls
    for cls in (
        ModuloNotARing,
        SortedModulo,
        IgnoresVnodes,
        PythonHash,
        RemovesOnlyTheFirstPoint,
        NoWrapAround,
        PlacedByArrivalOrder,
        RandomPoints,
        NoneOnAnEmptyRing,
    )
}


# -- 10.connection_pool ---------------------------------------------------------------------------
import collections  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from minicluster.proxy import PoolTimeout  # noqa: E402


class _Pool:
    """A correct, simple pool (one Condition, FIFO tickets) whose parts the mutants replace."""

    def __init__(self, connect, size, timeout=2.0):
        self.connect, self.size, self.timeout = connect, size, timeout
        self.idle, self.opened = [], 0
        self.changed = threading.Condition()
        self.line = collections.deque()

    def my_turn(self, ticket):
        return self.line[0] is ticket

    def acquire(self):
        ticket = object()
        deadline = time.monotonic() + self.timeout
        with self.changed:
            self.line.append(ticket)
            try:
                while not (self.my_turn(ticket) and (self.idle or self.opened < self.size)):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise PoolTimeout("timed out")
                    self.changed.wait(remaining)
                if self.idle:
                    return self.idle.pop()
                self.opened += 1
            finally:
                self.line.remove(ticket)
                self.changed.notify_all()
        return self.connect()

    def release(self, conn):
        with self.changed:
            self.idle.append(conn)
            self.changed.notify_all()

    @contextmanager
    def connection(self):
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)


class Unbounded(_Pool):
    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        return self.connect()


class LeaksOnException(_Pool):
    @contextmanager
    def connection(self):
        conn = self.acquire()
        yield conn
        self.release(conn)


class LastComeFirstServed(_Pool):
    def my_turn(self, ticket):
        return self.line[-1] is ticket


class WaitsForever(_Pool):
    def acquire(self):
        with self.changed:
            while not (self.idle or self.opened < self.size):
                self.changed.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        return self.connect()


class GivesUpAtOnce(_Pool):
    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle.pop()
            if self.opened < self.size:
                self.opened += 1
                return self.connect()
        raise PoolTimeout("busy")


class WrongTimeoutError(_Pool):
    def acquire(self):
        try:
            return super().acquire()
        except PoolTimeout:
            raise RuntimeError("pool exhausted") from None


class ReleaseWakesNobody(_Pool):
    def release(self, conn):
        with self.changed:
            self.idle.append(conn)


class LendsWithoutRemoving(_Pool):
    """Hands out an idle connection but leaves it in the idle list: two borrowers get the same one."""

    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle[-1]
        return super().acquire()

    def release(self, conn):
        with self.changed:
            if conn not in self.idle:
                self.idle.append(conn)
            self.changed.notify_all()


class OpensBeforeReusing(_Pool):
    """Opens a new connection while under size even when an idle one is waiting."""

    def acquire(self):
        with self.changed:
            if self.opened < self.size:
                self.opened += 1
                new = True
            else:
                new = False
        return self.connect() if new else super().acquire()


MUTANTS["10.connection_pool"] = {
    cls.__name__: cls
    for cls in (
        Unbounded,
        LeaksOnException,
        LastComeFirstServed,
        WaitsForever,
        GivesUpAtOnce,
        WrongTimeoutError,
        ReleaseWakesNobody,
        LendsWithoutRemoving,
        OpensBeforeReusing,
    )
}
