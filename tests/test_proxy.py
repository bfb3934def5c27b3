import threading

import pytest

from minicluster import Cluster
from minicluster.errors import ConfigError, TooManyConnections
from minicluster.proxy import ConnectionPool, PoolTimeout, SQLProxy


class Connections:
    """A connect() that counts what it opened."""

    def __init__(self):
        self.opened = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.opened += 1
            return f"conn{self.opened}"


def test_pool_opens_at_most_size_and_reuses():
    connect = Connections()
    pool = ConnectionPool(connect, size=2, timeout=0.05)
    a, b = pool.acquire(), pool.acquire()
    assert {a, b} == {"conn1", "conn2"} and pool.in_use == 2
    with pytest.raises(PoolTimeout, match="within 0.05 s"):
        pool.acquire()
    pool.release(a)
    assert pool.acquire() == a
    assert connect.opened == 2


def test_waiters_are_served_first_come_first_served():
    pool = ConnectionPool(Connections(), size=1, timeout=10)
    held = pool.acquire()
    order, threads = [], []
    for i in range(4):

        def borrow(i=i):
            conn = pool.acquire()
            order.append(i)
            pool.release(conn)

        t = threading.Thread(target=borrow)
        t.start()
        threads.append(t)
        assert pool.wait_until_waiting(i + 1, timeout=10), "start the next borrower once this one is in line"
    pool.release(held)
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3]


def test_connection_goes_back_even_when_the_query_raises():
    pool = ConnectionPool(Connections(), size=2, timeout=0.05)
    for _ in range(10):
        with pytest.raises(ZeroDivisionError):
            with pool.connection():
                raise ZeroDivisionError
    assert pool.in_use == 0 and pool.opened <= 2
    with pool.connection(), pool.connection():
        assert pool.in_use == 2


def test_a_failed_connect_frees_its_slot():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("refused")
        return "ok"

    pool = ConnectionPool(flaky, size=1, timeout=0.05)
    with pytest.raises(ConnectionError):
        pool.acquire()
    assert pool.acquire() == "ok"


def test_proxy_shields_a_capped_database_from_a_thousand_requests():
    with Cluster() as c:
        db = c.add_database("db", max_connections=20, query_time=0.002)
        db.execute("CREATE TABLE t (x INT)")
        proxy = SQLProxy("proxy", db, pool_size=8, timeout=10)
        errors, start = [], threading.Barrier(50)

        def app_server():
            start.wait()
            for _ in range(20):
                try:
                    proxy.execute("SELECT 1")
                except Exception as exc:  # noqa: BLE001 - collected and asserted
                    errors.append(exc)

        threads = [threading.Thread(target=app_server) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert proxy.pools["db"].opened <= 8
        assert db.metrics.counter("refused_connections").value == 0
        with pytest.raises(TooManyConnections):
            [db.connect() for _ in range(21)]


def test_reads_and_writes_are_routed():
    with Cluster() as c:
        primary, r1, r2 = c.add_database("primary"), c.add_database("r1"), c.add_database("r2")
        proxy = SQLProxy("proxy", primary, [r1, r2], pool_size=2)
        assert proxy.route("INSERT INTO t VALUES (1)") is primary
        assert proxy.route("  update t set x = 1") is primary
        assert [proxy.route("SELECT 1").name for _ in range(4)] == ["r1", "r2", "r1", "r2"]
        with pytest.raises(ConfigError, match="pool_size 200 exceeds primary's max_connections 100"):
            SQLProxy("p2", primary, pool_size=200)
