"""Wrong keyset fetches for ``10.keyset``: each a way a learner gets the notes' findNextPage query wrong."""

from minicluster.posts import SELECT_POSTS, Post


def _order(direction, columns=("created_at", "post_id")):
    order = "DESC" if direction == "newest" else "ASC"
    return "ORDER BY " + ", ".join(f"{c} {order}" for c in columns)


def _run(conn, where, params, direction, limit, order=None):
    sql = f"{SELECT_POSTS} {where} {order or _order(direction)} LIMIT ?"
    return [Post(*row) for row in conn.execute(sql, [*params, limit]).fetchall()]


def _op(direction, inclusive=False):
    return ("<" if direction == "newest" else ">") + ("=" if inclusive else "")


def string_formatted(conn, after, direction, limit):
    """The key's values formatted into the SQL text."""
    where = ""
    if after is not None:
        where = f"WHERE (created_at, post_id) {_op(direction)} ('{after[0].isoformat()}'::TIMESTAMPTZ, {after[1]})"
    return _run(conn, where, [], direction, limit)


def inclusive(conn, after, direction, limit):
    """<= instead of <: the post at the key comes back at the top of the next page."""
    where = f"WHERE (created_at, post_id) {_op(direction, True)} (?, ?)" if after is not None else ""
    return _run(conn, where, list(after or ()), direction, limit)


def direction_ignored(conn, after, direction, limit):
    """Always "smaller key": right newest first, wrong oldest first."""
    where = "WHERE (created_at, post_id) < (?, ?)" if after is not None else ""
    return _run(conn, where, list(after or ()), direction, limit)


def no_tie_breaker(conn, after, direction, limit):
    """WHERE on created_at alone: every other post with the same instant is skipped."""
    where = f"WHERE created_at {_op(direction)} ?" if after is not None else ""
    return _run(conn, where, [after[0]] if after is not None else [], direction, limit)


def ordered_by_created_at_only(conn, after, direction, limit):
    """The right WHERE, but ORDER BY created_at alone: ties come back in any order."""
    where = f"WHERE (created_at, post_id) {_op(direction)} (?, ?)" if after is not None else ""
    order = _order(direction, ("created_at",)) + (", post_id DESC" if direction == "oldest" else ", post_id ASC")
    return _run(conn, where, list(after or ()), direction, limit, order)


def by_post_id_only(conn, after, direction, limit):
    """Keyset on post_id alone, as if ids always ran in time order."""
    where = f"WHERE post_id {_op(direction)} ?" if after is not None else ""
    return _run(conn, where, [after[1]] if after is not None else [], direction, limit, _order(direction, ("post_id",)))


def limit_in_python(conn, after, direction, limit):
    """No LIMIT: every row after the key comes back and Python keeps the first few."""
    where = f"WHERE (created_at, post_id) {_op(direction)} (?, ?)" if after is not None else ""
    rows = conn.execute(f"{SELECT_POSTS} {where} {_order(direction)}", list(after or ())).fetchall()
    return [Post(*row) for row in rows[:limit]]


def offset_counted(conn, after, direction, limit):
    """Counts the rows before the key, then skips them with OFFSET: right, but it reads from the start."""
    skip = 0
    if after is not None:
        op = "<=" if direction == "oldest" else ">="
        (skip,) = conn.execute(
            f"SELECT count(*) FROM posts WHERE (created_at, post_id) {op} (?, ?)", list(after)
        ).fetchone()
    rows = conn.execute(f"{SELECT_POSTS} {_order(direction)} LIMIT ? OFFSET ?", [limit, skip]).fetchall()
    return [Post(*row) for row in rows]


def filters_in_python(conn, after, direction, limit):
    """Reads the whole table and filters and sorts in Python."""
    posts = [Post(*row) for row in conn.execute(SELECT_POSTS).fetchall()]
    newest = direction == "newest"
    posts.sort(key=lambda p: p.key, reverse=newest)
    if after is not None:
        posts = [p for p in posts if (p.key < tuple(after) if newest else p.key > tuple(after))]
    return posts[:limit]


MUTANTS = {
    f.__name__: f
    for f in (
        string_formatted,
        inclusive,
        direction_ignored,
        no_tie_breaker,
        ordered_by_created_at_only,
        by_post_id_only,
        limit_in_python,
        offset_counted,
        filters_in_python,
    )
}
