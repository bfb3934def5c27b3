"""How often one DuckDB query gives up the interpreter lock and takes it back: ``python -m benchmarks.gil_handoffs``.

DuckDB's Python client releases the GIL while the engine works, but takes it back between the steps
of a query: while the statement is prepared and submitted, once per step of execution to look for
Ctrl-C (``DuckDBPyConnection::CheckSignals``, called as the result settles: seen in gdb's backtraces),
and as the rows are fetched and the result closed. Each time is a
moment where the query's thread waits if any other thread is running Python: the more hand-offs a
query makes, the worse many threads running such queries at once share a machine's cores (item 1 of
the README's table: a thread per shard).

Counted, not timed: the query runs in a child Python under ``gdb``, with a breakpoint that never stops
on ``PyEval_SaveThread`` (every release of the lock goes through it); its hit count with ``N`` queries
minus its count with none, divided by ``N``. Needs ``gdb`` (``apt-get install gdb``); not part of
``python -m benchmarks``. The data: one shard of the capstone's shape, 125,000 posts (a shard of 1M
posts over 8), on a node as the cluster makes them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

#: What each probe runs ``N`` times on one connection's cursor (then again fetching each result's rows;
#: ``execute`` alone also closes the result before it, whose rows were never read).
QUERIES = {
    "SELECT 1": "sql, params = 'SELECT 1', None",
    "count(*) over the shard": "sql, params = 'SELECT count(*) FROM posts', None",
    "a post by its id": "sql, params = 'SELECT * FROM posts WHERE post_id = ?', [newest]",
    "first page (Top-N, 21 rows)": "sql, params = Shard.query(None, 'newest', 21)",
    "deep page (Top-N, 21 rows)": "sql, params = Shard.query((START + timedelta(days=15), 0), 'newest', 21)",
}

CHILD = """
import sys
from datetime import timedelta
from minicluster.posts import POSTS_DDL, START, PostsSpec, Shard, _columns, generate
from minicluster.storage import DatabaseNode

n, rows, path, posts = int(sys.argv[1]), sys.argv[2] == "rows", sys.argv[3], int(sys.argv[4])
node = DatabaseNode("probe", path)
node.execute(POSTS_DDL)
node.bulk_load("posts", _columns(generate(PostsSpec(posts=posts, users=posts // 100, seed=42))))
node.execute("CHECKPOINT")
[(newest,)] = node.execute("SELECT max(post_id) FROM posts")
{query}
rows_read = None
with node.connect() as conn:
    cursor = conn._cursor  # the DuckDB cursor itself: only DuckDB's own hand-offs are counted
    for _ in range(n):
        result = cursor.execute(sql, params) if params is not None else cursor.execute(sql)
        if rows:
            rows_read = len(result.fetchall())
node.close()
print(rows_read)
"""


def child(query: str, n: int, rows: bool, workdir: str, posts: int = 125_000) -> list[str]:
    """The command line of a Python that runs ``query`` ``n`` times on a shard of ``posts`` posts."""
    code = textwrap.dedent(CHILD).replace("{query}", QUERIES[query])
    path = f"{tempfile.mkdtemp(dir=workdir)}/probe.duckdb"
    return [sys.executable, "-c", code, str(n), "rows" if rows else "execute", path, str(posts)]


def releases(query: str, n: int, rows: bool, workdir: str) -> int:
    """How many times the child process released the interpreter lock, start to end."""
    gdb = [
        "gdb", "-q", "-batch", "-ex", "set pagination off", "-ex", "set breakpoint pending on",
        "-ex", "break PyEval_SaveThread", "-ex", "ignore 1 1000000000", "-ex", "run", "-ex", "info breakpoints",
        "--args", *child(query, n, rows, workdir),
    ]  # fmt: skip
    done = subprocess.run(gdb, capture_output=True, text=True, timeout=600)
    hits = re.search(r"already hit (\d+) time", done.stdout)
    if "exited normally" not in done.stdout or not hits:
        raise RuntimeError(f"the probe under gdb did not run to its end:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return int(hits.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gil_handoffs", description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=200, help="queries per count (default 200)")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"-n must be at least 1, got {args.n}")
    if shutil.which("gdb") is None:
        print("gdb is not installed (apt-get install gdb): it counts the hand-offs", file=sys.stderr)
        return 2
    print(f"Interpreter lock released and taken back, per query ({args.n} queries on one cursor, {sys.executable}):")
    print(f"{'query':32s} {'execute':>8s} {'fetchall':>9s} {'total':>6s}")
    with tempfile.TemporaryDirectory() as workdir:
        for query in QUERIES:
            base = releases(query, 0, False, workdir)
            execute = (releases(query, args.n, False, workdir) - base) / args.n
            total = (releases(query, args.n, True, workdir) - base) / args.n
            print(f"{query:32s} {execute:8.1f} {total - execute:9.1f} {total:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
