"""Capstone part 2, 10.validate: you write the checker.

A paginator can look right on the first page and still lose posts on page 40, repeat one when posts
share a timestamp, or return a silently partial page when a shard is down. Write the validator that
catches all of that. It gets any paginator with the signature of ``10.paginate`` and a store, and
returns the list of problems it found (empty when it found none).

What you get:

- ``paginate(shards, cursor, page_size, direction)`` returns ``(posts, next_cursor, has_next)``.
- ``store.shards``: the shards to hand to the paginator; ``store.shards.rows_read``: rows read so far;
  ``store.all_posts(direction)``: the ground truth in feed order; ``store.insert(post)`` and
  ``store.delete(post)``; each ``shard.node`` has ``crash()``, ``recover()``, ``query_time`` (the
  latency injected into each of its queries) and ``open_connections`` (how many are open right now).
"""

import time

from minicluster.cursor import InvalidCursor
from minicluster.posts import Post


def validate(paginate, store):
    """Return a list of problems (one sentence each) that ``paginate`` shows on ``store``.

    Check at least: every post exactly once and in order in both directions for several page sizes
    (1, a few, exactly the number of posts, more than that), posts that share a created_at included
    (in post_id order, inside a page too), ``has_next`` and ``next_cursor`` on every page, at most
    ``page_size + 1`` rows read per shard per page, ``InvalidCursor`` itself (not another error) for
    garbage, tampered (edited) and wrong-direction cursors, concurrency (when the shards have latency,
    a page must take well under the sum of their latencies), an error when a shard is down (raised
    once no other shard is still being read), and no duplicates or losses while posts are inserted and
    deleted during a walk. Leave the store as you found it where you can.

    Bound every walk (a broken paginator may say ``has_next=True`` forever), and call the paginator
    inside ``try``/``except``: what it raises is a problem to report, not a reason to crash.
    """
    total = len(store.all_posts("newest"))
    checks = [lambda: _concurrency(paginate, store)]  # one page: cheapest first
    for direction in ("newest", "oldest"):
        for size in sorted({1, 3, max(1, total), total + 1}):
            checks.append(lambda size=size, direction=direction: _walk(paginate, store, size, direction))
    checks += [
        lambda: _bad_cursors(paginate, store),
        lambda: _shard_down(paginate, store),
        lambda: _writers(paginate, store),
    ]
    for run in checks:
        problems = run()
        if problems:  # one problem is enough to reject a paginator: stop early
            return problems
    return []


def _pages(paginate, store, size, direction, between=None):
    """Walk every page; returns (posts, problems, pages)."""
    shards, walked, cursor, pages = store.shards, [], None, 0
    limit = len(store.all_posts(direction)) // size + 5
    while True:
        before = shards.rows_read
        posts, cursor, has_next = paginate(shards, cursor, size, direction)
        pages += 1
        read = shards.rows_read - before
        problem = None
        if read > len(shards) * (size + 1):
            problem = f"page {pages} (size {size}) read {read} rows from {len(shards)} shards"
        elif len(posts) > size:
            problem = f"page {pages} holds {len(posts)} posts, more than {size}"
        elif has_next != (cursor is not None):
            problem = f"page {pages}: has_next={has_next} but next_cursor={cursor!r}"
        elif has_next and len(posts) < size:
            problem = f"page {pages} is not full but has_next is True"
        elif pages > limit:
            problem = f"still paging after {pages} pages of {size}"
        if problem:
            return walked, [problem], pages
        walked += posts
        if between is not None:
            between()
        if not has_next:
            return walked, [], pages


def _walk(paginate, store, size, direction):
    expected = store.all_posts(direction)
    try:
        walked, problems, pages = _pages(paginate, store, size, direction)
    except Exception as exc:
        return [f"{direction} first, page size {size}: raised {type(exc).__name__}: {exc}"]
    if problems:
        return [f"{direction} first: {problems[0]}"]
    if walked != expected:
        return [f"{direction} first, page size {size}: the posts differ from the ground truth"]
    if pages != max(1, -(-len(expected) // size)):
        return [f"{direction} first, page size {size}: {pages} pages for {len(expected)} posts"]
    return []


def _bad_cursors(paginate, store):
    problems = []
    try:
        _, cursor, _ = paginate(store.shards, None, 2, "newest")
    except Exception as exc:
        return [f"the first page raised {type(exc).__name__}: {exc}"]
    if cursor is None:
        return ["a first page of 2 returned no next_cursor on a store with more posts"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for what, bad, direction in (
        ("garbage", "garbage", "newest"),
        ("tampered", tampered, "newest"),
        ("wrong-direction", cursor, "oldest"),
    ):
        try:
            paginate(store.shards, bad, 2, direction)
            problems.append(f"a {what} cursor was accepted")
        except InvalidCursor:
            pass
        except Exception as exc:
            problems.append(f"a {what} cursor raised {type(exc).__name__}, not InvalidCursor")
    return problems


def _concurrency(paginate, store):
    latency = sum(shard.node.query_time for shard in store.shards)
    if latency == 0:
        return []
    took = []
    # One page well under the sum proves concurrency; a busy machine can slow a page, never speed one up,
    # so a slow page is tried again (up to five times) before it counts.
    while len(took) < 5 and (not took or min(took) > latency / 2):
        started = time.perf_counter()
        try:
            paginate(store.shards, None, 5, "newest")
        except Exception as exc:
            return [f"the first page raised {type(exc).__name__}: {exc}"]
        took.append(time.perf_counter() - started)
    if min(took) > latency / 2:
        return [
            f"a page took {min(took):.3f} s at best where the shards' latencies add up to {latency:.3f} s: "
            "not concurrent"
        ]
    return []


def _shard_down(paginate, store):
    node = store.shards[0].node
    node.crash()
    try:
        paginate(store.shards, None, 5, "newest")
        return [f"with {node.name} down, a page came back instead of an error"]
    except Exception:
        # the error must come once every other fetch has finished, not while they read on in the background
        reading = [s.node.name for s in store.shards if s.node.open_connections]
        if reading:
            return [f"with {node.name} down, the paginator raised while {', '.join(reading)} were still being read"]
        return []
    finally:
        node.recover()


def _writers(paginate, store):
    initial = store.all_posts("newest")
    if len(initial) < 4:
        return []
    newest = initial[0]
    added, removed = [], []

    def mutate():
        post = Post(newest.post_id + 1 + len(added), newest.user_id, initial[len(initial) // 2].created_at, "new")
        store.insert(post)
        added.append(post)
        victim = initial[-1 - len(removed)]
        store.delete(victim)
        removed.append(victim)

    try:
        walked, problems, _ = _pages(paginate, store, 3, "newest", mutate)
    finally:
        for post in added:
            store.delete(post)
        for post in removed:
            store.insert(post)
    if problems:
        return [f"while posts changed: {problems[0]}"]
    ids = [p.post_id for p in walked]
    if len(ids) != len(set(ids)):
        return ["while posts changed, a post was returned twice"]
    gone = {p.post_id for p in removed}
    lost = [p for p in initial if p.post_id not in gone and p.post_id not in set(ids)]
    if lost:
        return [f"while posts changed, post {lost[0].post_id} was never returned"]
    return []
