"""Capstone 10.paginate: the global feed across shards, one page at a time.

Posts are sharded by ``user_id``, so the newest posts of the whole site are spread over every shard.
A page of the feed has to ask all shards, merge what they return in feed order, and hand back a
cursor from which the next page continues.

What you get:

- ``shards``: a list of shards. ``shard.fetch(after, direction, limit)`` returns up to ``limit`` posts
  strictly after the key ``after`` (a ``(created_at, post_id)`` tuple, or ``None`` for the start), in
  feed order for ``direction``. ``shards.codec`` turns positions into opaque cursors and back:
  ``shards.codec.encode(Cursor(created_at, post_id, direction))`` and
  ``shards.codec.decode(text, direction)`` (which raises ``InvalidCursor`` on anything it did not issue).
- Each post has ``post_id``, ``user_id``, ``created_at`` and ``key``, which is ``(created_at, post_id)``.
"""

import functools
import heapq
import itertools
from concurrent.futures import ThreadPoolExecutor, wait

from minicluster.cursor import Cursor
from minicluster.posts import Page, check_page_size


def paginate(shards, cursor=None, page_size=20, direction="newest"):
    """Return one ``Page(posts, next_cursor, has_next)`` of the feed.

    - ``direction`` is ``"newest"`` (newest first, the default) or ``"oldest"``; the feed is ordered by
      ``(created_at, post_id)`` in that direction, so posts with the same ``created_at`` keep one order.
    - ``cursor`` is ``None`` for the first page, else the ``next_cursor`` of the previous page.
    - ``page_size`` posts at most; ``has_next`` tells whether any post comes after this page, exactly;
      ``next_cursor`` is ``None`` when there is no next page.
    - Ask the shards **concurrently** (one slow shard must not add its latency to every other's), read
      at most ``page_size + 1`` rows from each shard, and let a shard's error propagate: never return
      a page that silently misses a shard.
    - A ``page_size`` that is not a whole number from 1 to 10,000 raises ``ConfigError``
      (``check_page_size(page_size)`` does it).
    """
    check_page_size(page_size)
    after = None if cursor is None else shards.codec.decode(cursor, direction).key

    def fetch(shard):
        return shard.fetch(after, direction, page_size + 1)

    futures = [_pool().submit(fetch, shard) for shard in shards]
    # Wait for every fetch, even when one fails: raising at the first error would leave the others
    # reading rows in the background, counted against whatever comes next.
    wait(futures)
    per_shard = [future.result() for future in futures]  # re-raises a shard's error

    # Each shard's rows are already in feed order: a k-way merge keeps the first page_size + 1.
    merged = heapq.merge(*per_shard, key=lambda post: post.key, reverse=direction == "newest")
    rows = list(itertools.islice(merged, page_size + 1))
    posts, has_next = rows[:page_size], len(rows) > page_size
    next_cursor = None
    if has_next:
        last = posts[-1]
        next_cursor = shards.codec.encode(Cursor(last.created_at, last.post_id, direction))
    return Page(posts, next_cursor, has_next)


@functools.lru_cache(maxsize=1)
def _pool():
    """Threads kept from page to page: starting a thread per shard on every page costs more than the
    queries of small shards (measured: ~10% of a page over 8 shards)."""
    return ThreadPoolExecutor(max_workers=32, thread_name_prefix="paginate")
