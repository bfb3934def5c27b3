"""Checker of ``10.keyset``: one shard's keyset query, against the ground truth and the way it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ....cluster import Cluster
from ....posts import Post, PostsSpec, ShardedPosts, generate
from ..base import Checker, Failure, describe


def _show(post) -> str:
    return f"post {post.post_id} ({post.created_at.isoformat()})"


class _Recording:
    """The shard's connection, noting every statement and its parameters."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.statements: list[tuple[str, list]] = []

    def execute(self, sql, params=None):
        self.statements.append((str(sql), list(params) if isinstance(params, (list, tuple)) else params))
        return self._conn.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def posts() -> list[Post]:
    """Generated posts with ties, and twelve whose ids run against time (written through servers whose
    clocks disagree): post_id order is not feed order, so a key must hold both columns."""
    generated = generate(PostsSpec(posts=48, users=12, celebrities=1, tie_share=0.35, seed=31))
    base = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    skewed = [Post(9_000 - i, 100 + i % 3, base + timedelta(minutes=7 * i), "a skewed clock") for i in range(12)]
    return generated + skewed


class KeysetCheck(Checker):
    """``fetch(conn, after, direction, limit)``: the page after a key, read with one parameterised query."""

    exercise_id = "10.keyset"

    def verify(self, fetch) -> list[str]:
        if not callable(fetch):
            raise Failure(f"expected a function fetch(conn, after, direction, limit), got {describe(fetch)}")
        data = posts()
        with Cluster(seed=31) as cluster:
            store = ShardedPosts(cluster, 1)
            store.load(data)
            shard = store.shards[0]
            for direction in ("newest", "oldest"):
                truth = store.all_posts(direction)
                got = self._fetch(fetch, shard, None, direction, 5)
                if got != truth[:5]:
                    raise Failure(f"fetch(conn, None, {direction!r}, 5): {self._differs(got, truth[:5])}")
                for limit in (1, 4, len(truth) + 3):
                    self._walk(fetch, shard, direction, limit, truth)
                last = truth[-1].key
                got = self._fetch(fetch, shard, last, direction, 5)
                if got:
                    raise Failure(
                        f"fetch(conn, <the key of the last post>, {direction!r}, 5) returned {len(got)} posts, "
                        f"starting with {_show(got[0])}; nothing comes after the last post"
                    )
        return [
            "the first page and every page after a key, in both directions, page sizes 1, 4 and more than all",
            "posts that share a created_at, and posts whose ids run against time, in (created_at, post_id) order",
            "one statement per fetch, its values in parameters, returning only the rows of the page",
        ]

    def _fetch(self, fetch, shard, after, direction, limit):
        on = f"fetch(conn, {_key(after)}, {direction!r}, {limit})"
        before = shard.rows_read
        with shard.node.connect() as raw:
            conn = _Recording(raw)
            got = self.call(fetch, conn, after, direction, limit, on=on)
        if not isinstance(got, (list, tuple)) or not all(isinstance(p, tuple) and len(p) == 4 for p in got):
            raise Failure(f"{on} returned {describe(got)}; return a list of Post(*row)")
        got = [Post(*p) for p in got]
        read = shard.rows_read - before
        statements = conn.statements
        if len(statements) != 1:
            kinds = "; ".join(sql.split()[0] if sql.split() else "?" for sql, _ in statements)
            raise Failure(
                f"{on} ran {len(statements)} statements ({kinds}); one query does it — counting the rows "
                "before the key (to skip them with OFFSET) reads them all, which is what keyset paging avoids"
            )
        sql, params = statements[0]
        if "OFFSET" in sql.upper():
            raise Failure(
                f"{on}: the query uses OFFSET, which makes the database read and throw away every row "
                "before the page; start at the key with WHERE (created_at, post_id) < (?, ?) instead"
            )
        if after is not None and (str(after[1]) in sql or after[0].isoformat()[:19] in sql.replace(" ", "T")):
            raise Failure(
                f"{on}: the key's values are written into the SQL text ({sql!r}); pass them as parameters "
                "(?, with a list of values): formatted SQL is how injection happens, and a timestamp turned "
                "into text can lose its precision"
            )
        if read > limit:
            raise Failure(
                f"{on}: the database returned {read} rows for a page of {limit}; let LIMIT ? cut the page "
                "in the query, not in Python"
            )
        return got

    def _walk(self, fetch, shard, direction, limit, truth) -> None:
        walked, after = [], None
        for _ in range(len(truth) + 2):
            page = self._fetch(fetch, shard, after, direction, limit)
            where = "the first page" if after is None else f"the page after {_key(after)}"
            expected = truth[len(walked) : len(walked) + limit]
            if page and after is not None and page[0].key == tuple(after):
                raise Failure(
                    f"walking {direction} first with limit {limit}, {where}: the post at the key itself came "
                    f"back ({_show(page[0])}); the page starts strictly after it (< newest first, > oldest first)"
                )
            if page != expected:
                raise Failure(f"walking {direction} first with limit {limit}, {where}: {self._differs(page, expected)}")
            walked += page
            if len(page) < limit:
                return
            after = page[-1].key
        raise Failure(f"walking {direction} first with limit {limit} never reached the end")

    @staticmethod
    def _differs(got: list, expected: list) -> str:
        if len(got) != len(expected) and got == expected[: len(got)]:
            return f"{len(got)} posts where {len(expected)} were due"
        i = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), min(len(got), len(expected)))
        if i >= len(got):
            return f"{len(got)} posts where {len(expected)} were due; {_show(expected[i])} is missing"
        if i >= len(expected):
            return f"{_show(got[i])} should not be on it"
        g, e = got[i], expected[i]
        hint = ""
        if g.created_at == e.created_at:
            hint = " (they share a created_at: order by post_id too, and compare the whole key)"
        elif (g.post_id < e.post_id) != (g.created_at < e.created_at):
            hint = " (their ids run against their times: post_id alone is not the feed's order)"
        return f"position {i} holds {_show(g)}, expected {_show(e)}{hint}"


def _key(after) -> str:
    if after is None:
        return "None"
    return f"({after[0].isoformat()}, {after[1]})"
