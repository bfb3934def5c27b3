"""Broken paginators: every mistake WORKBOOK.md names for the capstone, and more.

They serve twice: the test suite proves that the ``10.paginate`` checker fails each of them, and the
``10.validate`` checker grades a learner's validator by whether it catches each of them (it loads this
file from the workbook's ``tests/mutants/``, and the correct paginator it compares with is the
reference solution of ``10.paginate``). Each is built on the library's public API only: shards'
``fetch``, the cursor ``codec`` and ``Page``.
"""

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


def reads_everything_through_the_node(shards, cursor=None, page_size=20, direction="newest"):
    """Skips fetch: reads every row of every shard with its own SQL, sorts in memory, signs a real cursor."""
    from minicluster.posts import SELECT_POSTS, Post

    after = _after(shards, cursor, direction)
    rows = []
    for shard in shards:
        with shard.node.connect() as conn:
            rows += [Post(*row) for row in conn.execute(SELECT_POSTS).fetchall()]
    newest = direction == "newest"
    rows.sort(key=lambda p: p.key, reverse=newest)
    if after is not None:
        rows = [p for p in rows if (p.key < after if newest else p.key > after)]
    return _page(shards, rows[: page_size + 1], page_size, direction)


def merges_on_milliseconds(shards, cursor=None, page_size=20, direction="newest"):
    """Merges on created_at cut to the millisecond (a JavaScript Date, a ms epoch): posts a few µs apart reorder."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)

    def key(post):
        return (post.created_at.replace(microsecond=post.created_at.microsecond // 1000 * 1000), post.post_id)

    merged = _merge(per_shard, direction, key=key)
    return _page(shards, list(itertools.islice(merged, page_size + 1)), page_size, direction)


def pool_of_four_threads(shards, cursor=None, page_size=20, direction="newest"):
    """Concurrent, but through a pool of four threads: over twelve shards a page waits three rounds."""
    after = _after(shards, cursor, direction)
    with ThreadPoolExecutor(max_workers=4) as pool:
        per_shard = list(pool.map(lambda s: s.fetch(after, direction, page_size + 1), shards))
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def drops_slow_shards(shards, cursor=None, page_size=20, direction="newest"):
    """Waits half a second, then merges whatever came back: a slow shard is treated as a missing one."""
    from concurrent.futures import wait

    after = _after(shards, cursor, direction)
    pool = ThreadPoolExecutor(max_workers=max(1, len(shards)))
    futures = [pool.submit(s.fetch, after, direction, page_size + 1) for s in shards]
    done, _ = wait(futures, timeout=0.5)
    pool.shutdown(wait=False)
    per_shard = [f.result() for f in futures if f in done]
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def empty_cursor_is_the_first_page(shards, cursor=None, page_size=20, direction="newest"):
    """Tests the cursor for truth (`if cursor:`), so "" silently restarts the feed instead of being refused."""
    after = shards.codec.decode(cursor, direction).key if cursor else None
    per_shard = _fetch_all(shards, after, direction, page_size + 1)
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def merge_ignores_direction(shards, cursor=None, page_size=20, direction="newest"):
    """Always merges newest-first (reverse=True): right newest-first, out of order oldest-first."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    rows = list(itertools.islice(heapq.merge(*per_shard, key=lambda p: p.key, reverse=True), page_size + 1))
    return _page(shards, rows, page_size, direction)


def ties_reversed_inside_a_page(shards, cursor=None, page_size=20, direction="newest"):
    """Right pages and cursors, but posts with the same created_at come out in the wrong post_id order
    inside a page (sorted by (created_at, -post_id) for display)."""
    per_shard = _fetch_all(shards, _after(shards, cursor, direction), direction, page_size + 1)
    page = _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)
    shown = sorted(page.posts, key=lambda p: (p.created_at, -p.post_id), reverse=direction == "newest")
    return Page(shown, page.next_cursor, page.has_next)


def signature_not_checked(shards, cursor=None, page_size=20, direction="newest"):
    """Reads the cursor's payload and its direction but never checks the signature: garbage is refused,
    an edited cursor is obeyed."""
    import base64

    from minicluster.cursor import InvalidCursor

    after = None
    if cursor is not None:
        try:
            payload = cursor.split(".")[0]
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            from datetime import datetime

            after = (datetime.fromisoformat(body["t"]), body["id"])
        except Exception:
            raise InvalidCursor(f"{cursor!r} is not a cursor") from None
        if body.get("d") != direction:
            raise InvalidCursor("wrong direction")
    per_shard = _fetch_all(shards, after, direction, page_size + 1)
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


def bad_cursor_as_value_error(shards, cursor=None, page_size=20, direction="newest"):
    """Refuses every bad cursor, but with a plain ValueError: a client cannot tell it from a bug."""
    from minicluster.cursor import InvalidCursor

    try:
        after = _after(shards, cursor, direction)
    except InvalidCursor as exc:
        raise ValueError(f"bad cursor: {exc}") from None
    per_shard = _fetch_all(shards, after, direction, page_size + 1)
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


_KEPT_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="kept-pool")


def raises_before_the_others_finish(shards, cursor=None, page_size=20, direction="newest"):
    """Threads kept between pages, results taken in shard order: the first shard's error is raised while
    the other shards are still being read (in the background, counted against the next page)."""
    after = _after(shards, cursor, direction)
    futures = [_KEPT_POOL.submit(s.fetch, after, direction, page_size + 1) for s in shards]
    per_shard = [f.result() for f in futures]
    return _page(shards, list(itertools.islice(_merge(per_shard, direction), page_size + 1)), page_size, direction)


#: Per-shard offsets of every cursor this server issued, kept server-side (the cursor names them).
_ISSUED_OFFSETS: dict = {}


def offsets_through_the_node(shards, cursor=None, page_size=20, direction="newest"):
    """Pages each shard by SQL OFFSET (the offsets kept server-side for each issued cursor): right while the
    posts stand still, a post twice or never once they change under the walk."""
    from minicluster.posts import SELECT_POSTS, Post, feed_order

    offsets = [0] * len(shards)
    if cursor is not None:
        shards.codec.decode(cursor, direction)  # garbage, edited, other-direction cursors: InvalidCursor
        offsets = _ISSUED_OFFSETS[cursor]

    def fetch(shard, offset):
        with shard.node.connect() as conn:
            sql = f"{SELECT_POSTS} {feed_order(direction)} LIMIT ? OFFSET ?"
            return [(shard, Post(*row)) for row in conn.execute(sql, [page_size + 1, offset]).fetchall()]

    with ThreadPoolExecutor(max_workers=max(1, len(shards))) as pool:
        per_shard = list(pool.map(fetch, shards, offsets))
    rows = list(itertools.islice(_merge(per_shard, direction, key=lambda r: r[1].key), page_size + 1))
    page = _page(shards, [post for _, post in rows], page_size, direction)
    if page.next_cursor is not None:
        taken = [shard for shard, _ in rows[:page_size]]
        _ISSUED_OFFSETS[page.next_cursor] = [o + taken.count(s) for s, o in zip(shards, offsets)]
    return page


#: What each mutant does wrong, in the words a learner's validator report would use.
DESCRIPTIONS = {
    "offset_per_shard": "pages by OFFSET, reading every shard from the start on each page",
    "concatenated_not_merged": "concatenates the shards' rows instead of merging them in order",
    "too_few_rows_no_refill": "asks each shard for an even share of the page and never refills",
    "cursor_on_created_at_only": "puts only created_at in the cursor, skipping the rest of a tie",
    "inclusive_cursor": "continues at the cursor inclusively (>= instead of >)",
    "no_tie_breaker_in_merge": "merges by created_at alone, with no post_id tie-breaker",
    "cursor_from_last_fetched": "takes the next cursor from the look-ahead row instead of the last returned post",
    "crashes_on_an_empty_shard": "crashes when a shard has nothing left",
    "swallows_shard_errors": "swallows a shard's error and returns a partial page",
    "sequential_fan_out": "asks the shards one after another",
    "shared_list_without_waiting": "gathers rows into a shared list without waiting for every thread",
    "has_next_when_page_is_full": "guesses has_next from a full page",
    "cursor_even_on_the_last_page": "returns a next cursor on the last page",
    "page_size_plus_five": "reads page_size + 5 rows from every shard",
    "plain_json_cursor": "uses a readable, unsigned cursor",
    "cursor_direction_ignored": "accepts a cursor issued for the other direction",
    "reads_everything_through_the_node": "reads every row of every shard behind fetch's back and sorts in memory",
    "merges_on_milliseconds": "merges on created_at cut to the millisecond",
    "pool_of_four_threads": "asks twelve shards through a pool of four threads",
    "drops_slow_shards": "drops a shard that answers after half a second",
    "empty_cursor_is_the_first_page": "treats an empty cursor as the first page",
    "merge_ignores_direction": "merges newest-first whatever the direction",
    "ties_reversed_inside_a_page": "shows posts with the same created_at in the wrong order inside a page",
    "signature_not_checked": "obeys an edited cursor (never checks its signature)",
    "bad_cursor_as_value_error": "refuses a bad cursor with ValueError instead of InvalidCursor",
    "offsets_through_the_node": "pages each shard by SQL OFFSET, which shifts when posts are added or deleted",
    "raises_before_the_others_finish": "raises a shard's error while the other shards are still being read",
}

MUTANTS = {
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
        reads_everything_through_the_node,
        merges_on_milliseconds,
        pool_of_four_threads,
        drops_slow_shards,
        empty_cursor_is_the_first_page,
        merge_ignores_direction,
        ties_reversed_inside_a_page,
        signature_not_checked,
        bad_cursor_as_value_error,
        offsets_through_the_node,
        raises_before_the_others_finish,
    )
}

#: Mistakes the paginate checker catches that the 10.validate statement does not (yet) ask a learner's
#: validator to find (stores within one millisecond, twelve shards, a slow shard, an empty cursor): the
#: validate checker grades with the rest of the catalogue.
BEYOND_THE_VALIDATOR = {
    "merges_on_milliseconds",
    "pool_of_four_threads",
    "drops_slow_shards",
    "empty_cursor_is_the_first_page",
}

#: Mistakes only shards with latency can show: grading a validator, the 10.validate checker hands these
#: the store with latency first (any store that shows a mistake will do; this one saves a learner the wait
#: of the others).
NEEDS_LATENCY = {"sequential_fan_out"}

#: Mistakes stores without latency show only when a race goes their way (the first shard's error raised
#: while the others are still being read: on a busy machine their threads may not have opened a connection
#: yet, 2 runs in 20 beside two CPU hogs): graded there first, then on the store with latency, which shows
#: them every time.
RACY_WITHOUT_LATENCY = {"raises_before_the_others_finish"}
