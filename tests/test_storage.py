import os
import subprocess
import sys
import threading

import pytest

from minicluster.errors import ConfigError, NodeDown, TooManyConnections
from minicluster.storage import DatabaseNode


@pytest.fixture
def db(tmp_path):
    node = DatabaseNode("db", tmp_path / "db.duckdb", max_connections=3)
    node.execute("CREATE TABLE t (id BIGINT, v VARCHAR)")
    yield node
    node.close()


def test_bulk_load_and_query(db):
    assert db.bulk_load("t", {"id": range(10_000), "v": [f"v{i}" for i in range(10_000)]}) == 10_000
    assert db.execute("SELECT count(*), sum(id) FROM t") == [(10_000, sum(range(10_000)))]
    assert db.execute("SELECT v FROM t WHERE id = ?", [1234]) == [("v1234",)]


def test_bulk_load_rejects_bad_input(db):
    with pytest.raises(ConfigError, match="different lengths"):
        db.bulk_load("t", {"id": [1, 2], "v": ["a"]})
    with pytest.raises(ConfigError, match="t; DROP"):
        db.bulk_load("t; DROP", {"id": [1]})


def test_connection_cap_is_enforced_and_released(db):
    conns = [db.connect() for _ in range(3)]
    with pytest.raises(TooManyConnections, match="max_connections=3"):
        db.connect()
    assert db.metrics.counter("refused_connections").value == 1
    conns[0].close()
    conns[0].close()  # closing twice frees one slot, not two
    with db.connect():
        pass
    with pytest.raises(ZeroDivisionError):
        with db.connect():
            raise ZeroDivisionError
    assert db.open_connections == 2
    for c in conns[1:]:
        c.close()
    assert db.open_connections == 0


def test_each_thread_reads_its_own_rows(db):
    db.bulk_load("t", {"id": range(2000), "v": [str(i) for i in range(2000)]})
    errors = []
    start = threading.Barrier(3)

    def reader(offset):
        with db.connect() as conn:
            start.wait()
            for i in range(offset, 2000, 3):
                got = conn.execute("SELECT v FROM t WHERE id = ?", [i]).fetchone()
                if got != (str(i),):
                    errors.append((i, got))

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.metrics.counter("queries").value >= 2000


def test_a_reused_connection_starts_clean(db):
    # a connection closed inside a transaction: rolled back, as closing it would, before its cursor serves again
    conn = db.connect()
    conn.execute("begin transaction")
    conn.execute("INSERT INTO t VALUES (1, 'uncommitted')")
    conn.close()
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
        conn.execute("BEGIN")  # no transaction is left open to refuse this one
        conn.execute("INSERT INTO t VALUES (2, 'committed')")
        conn.execute("COMMIT")
    assert db.execute("SELECT id, v FROM t") == [(2, "committed")]


def test_two_connections_of_one_thread_keep_their_own_results(db):
    db.bulk_load("t", {"id": range(5), "v": list("abcde")})
    with db.connect() as first, db.connect() as second:
        a = first.execute("SELECT v FROM t WHERE id < 2 ORDER BY id")
        b = second.execute("SELECT v FROM t WHERE id >= 3 ORDER BY id")
        assert a.fetchall() == [("a",), ("b",)] and b.fetchall() == [("d",), ("e",)]
    for _ in range(3):  # closed and opened again, one after another and nested
        with db.connect() as conn, db.connect() as other:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (5,)
            assert other.execute("SELECT max(v) FROM t").fetchone() == ("e",)
    assert db.open_connections == 0


def test_a_result_read_after_its_connection_closed_is_an_error_not_other_rows(db):
    db.bulk_load("t", {"id": range(3), "v": list("abc")})
    conn = db.connect()
    result = conn.execute("SELECT v FROM t ORDER BY id")
    conn.close()
    with db.connect() as again:
        again.execute("SELECT 42")  # the next connection of this thread may use the same cursor
        with pytest.raises(ConfigError, match="connection to 'db' is closed: read the rows before closing it"):
            result.fetchall()


def test_crashed_database_refuses_and_keeps_committed_rows(tmp_path):
    path = tmp_path / "db.duckdb"
    db = DatabaseNode("db", path)
    db.execute("CREATE TABLE t (id BIGINT)")
    db.bulk_load("t", {"id": [1, 2, 3]})
    conn = db.connect()
    db.crash()
    with pytest.raises(NodeDown, match="database 'db' is down"):
        conn.execute("SELECT 1")
    with pytest.raises(NodeDown):
        db.connect()
    db.recover()
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
    conn.close()
    db.close()
    reopened = DatabaseNode("db", path)
    assert reopened.execute("SELECT count(*) FROM t") == [(3,)]
    reopened.close()


def test_bad_database_config(tmp_path):
    with pytest.raises(ConfigError, match="max_connections must be an integer > 0, got 0"):
        DatabaseNode("db", tmp_path / "x.duckdb", max_connections=0)


def test_every_connection_speaks_utc_whatever_the_machine_zone(tmp_path):
    # In a fresh process whose zone is New York: DuckDB would otherwise hand back New York times.
    script = (
        "import sys; from minicluster.storage import DatabaseNode\n"
        "node = DatabaseNode('db', sys.argv[1])\n"
        "with node.connect() as a, node.connect() as b:\n"
        "    zones = {c.execute(\"SELECT current_setting('TimeZone')\").fetchone()[0] for c in (a, b)}\n"
        "    ts = a.execute(\"SELECT TIMESTAMPTZ '2026-01-01 05:00:00+05'\").fetchone()[0]\n"
        "print(sorted(zones), ts.isoformat())\n"
        "node.close()\n"
    )
    env = {**os.environ, "TZ": "America/New_York"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "tz.duckdb")], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["['UTC']", "2026-01-01T00:00:00+00:00"]


def test_row_group_size_is_applied_and_checked(tmp_path):
    with pytest.raises(ConfigError, match="row_group_size must be an integer >= 2048.*got 100"):
        DatabaseNode("small", tmp_path / "small.duckdb", row_group_size=100)
    node = DatabaseNode("db", tmp_path / "it's.duckdb", row_group_size=4096)  # a quote in the path, too
    try:
        node.execute("CREATE TABLE t (id BIGINT)")
        node.bulk_load("t", {"id": range(20_000)})
        node.execute("CHECKPOINT")
        groups = node.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('t')")[0][0]
        assert groups == 5  # 20,000 rows in groups of 4,096
    finally:
        node.close()
