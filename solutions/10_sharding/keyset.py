"""Exercise 10.keyset: one shard's page, by key, in SQL.

The notes' ``findNextPage`` asks each shard for the posts after the cursor's ``(createdAt, postId)``.
That query is the heart of keyset pagination: it starts *at the key*, so page 40 costs what page 1
costs, where ``OFFSET 800`` would make the database read and throw away 800 rows first. Posts that
share a ``created_at`` are told apart by ``post_id``: compare the whole key, as a row value.

What you get:

- ``conn``: a connection to one shard's database (DuckDB). ``conn.execute(sql, params)`` runs one
  statement with ``?`` placeholders filled from the list ``params``; ``.fetchall()`` returns its rows.
- The table ``posts(post_id, user_id, created_at, body)``; ``SELECT_POSTS`` selects its columns in the
  order of ``Post``'s fields, so ``Post(*row)`` turns a row into a post.
- ``after``: ``None`` (start from the beginning) or a key ``(created_at, post_id)``.
"""

from minicluster.posts import SELECT_POSTS, Post


def fetch(conn, after, direction, limit):
    """Return up to ``limit`` posts strictly after the key ``after``, in feed order for ``direction``.

    ``"newest"``: newest first, ordered by ``(created_at, post_id)`` descending, so "after" means a
    smaller key; ``"oldest"``: ascending, "after" means a larger key. One statement, with the values in
    parameters (never formatted into the SQL text), a ``WHERE`` on the whole key as a row value, an
    ``ORDER BY`` on both columns and a ``LIMIT``: the database returns only the rows of the page.
    """
    newest = direction == "newest"
    order = "DESC" if newest else "ASC"
    where, params = "", []
    if after is not None:
        where = f"WHERE (created_at, post_id) {'<' if newest else '>'} (?, ?)"
        params = [after[0], after[1]]
    sql = f"{SELECT_POSTS} {where} ORDER BY created_at {order}, post_id {order} LIMIT ?"
    return [Post(*row) for row in conn.execute(sql, [*params, limit]).fetchall()]
