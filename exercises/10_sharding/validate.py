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
    # TODO: write this (the docstring says what it must do), then run: minicluster check 10.validate
    raise NotImplementedError
