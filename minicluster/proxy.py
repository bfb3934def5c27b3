"""A ProxySQL-style proxy: many app servers' queries over a few database connections.

The notes' picture: 1,000 requests arrive across many web/app servers at once, each wanting a
database connection, but the database accepts only so many (``max_connections``) and slows down long
before that. A proxy in between keeps a small **pool** of connections per database and makes the
requests take turns: a request borrows a connection for one query and gives it back. Requests beyond
the pool **wait in line** (fairly, first come first served, up to a timeout) instead of knocking the
database over. The proxy also **routes**: writes to the primary, reads spread over replicas.
"""

from __future__ import annotations

import collections
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from .clock import Clock, RealClock
from .errors import ConfigError, PoolTimeout, check_positive
from .metrics import Histogram
from .nodes import Node
from .storage import DatabaseNode

#: Handed to a waiter instead of a connection: "a slot is free, open a connection yourself".
_OPEN_ONE = object()


class _Waiter:
    __slots__ = ("event", "conn")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.conn = None


class ConnectionPool:
    """At most ``size`` connections made by ``connect``; borrowers queue first come, first served.

    Use :meth:`connection` (a context manager) so a connection goes back even when the query raises.
    """

    def __init__(self, connect: Callable[[], object], size: int, timeout: float = 2.0, clock: Clock | None = None):
        check_positive("pool size", size, integer=True)
        check_positive("pool timeout", timeout)
        self._connect = connect
        self.size = size
        self.timeout = timeout
        self.clock: Clock = clock or RealClock()
        self._idle: list = []
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._opened = 0
        self._in_use = 0
        self._lock = threading.Lock()
        self._line_changed = threading.Condition(self._lock)
        #: Seconds each borrower waited for a connection.
        self.waits = Histogram()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def opened(self) -> int:
        return self._opened

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def wait_until_waiting(self, n: int, timeout: float) -> bool:
        """Block until ``n`` borrowers are in line (for tests and demos: no guessing with sleeps)."""
        with self._line_changed:
            return self._line_changed.wait_for(lambda: len(self._waiters) >= n, timeout)

    def acquire(self, timeout: float | None = None):
        """A connection, waiting in line up to ``timeout`` seconds (the pool's own by default)."""
        wait_for = self.timeout if timeout is None else timeout
        started = self.clock.now()
        conn, waiter = None, None
        with self._lock:
            if not self._waiters and self._idle:
                conn = self._idle.pop()
                self._in_use += 1
            elif not self._waiters and self._opened < self.size:
                self._opened += 1  # a slot for a new connection, opened outside the lock
                self._in_use += 1
            else:
                waiter = _Waiter()
                self._waiters.append(waiter)
                self._line_changed.notify_all()
        if waiter is not None:
            waiter.event.wait(wait_for)
            with self._lock:
                if waiter.conn is None:  # nobody handed us one in time: leave the line
                    self._waiters.remove(waiter)
                    raise PoolTimeout(
                        f"no database connection became free within {wait_for:g} s "
                        f"(pool of {self.size}, {len(self._waiters)} others still waiting)"
                    )
            conn = waiter.conn
        if conn is None or conn is _OPEN_ONE:
            conn = self._open()
        self.waits.record(max(0.0, self.clock.now() - started))
        return conn

    def _open(self):
        """Open a connection in a slot this borrower holds; if that fails, the slot goes to the next in line."""
        try:
            return self._connect()
        except BaseException:
            with self._lock:
                if self._waiters:  # never lose a wake-up: the first waiter may now open one itself
                    waiter = self._waiters.popleft()
                    waiter.conn = _OPEN_ONE
                    waiter.event.set()
                else:
                    self._opened -= 1
                    self._in_use -= 1
            raise

    def release(self, conn) -> None:
        """Give a connection back: to the longest waiter if there is one, else to the idle list."""
        with self._lock:
            if self._waiters:
                waiter = self._waiters.popleft()
                waiter.conn = conn  # in_use stays the same: the connection changes hands
                waiter.event.set()
            else:
                self._in_use -= 1
                self._idle.append(conn)

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[object]:
        conn = self.acquire(timeout)
        try:
            yield conn
        finally:
            self.release(conn)


_WRITE = re.compile(r"^\s*(insert|update|delete|create|drop|alter|begin|commit|rollback)\b", re.IGNORECASE)


class SQLProxy(Node):
    """Routes statements: writes to ``primary``, reads round-robin over ``replicas`` (or the primary).

    Each database gets a :class:`ConnectionPool` of ``pool_size`` connections.
    """

    kind = "proxy"

    def __init__(
        self,
        name: str,
        primary: DatabaseNode,
        replicas: Sequence[DatabaseNode] = (),
        *,
        pool_size: int = 10,
        timeout: float = 2.0,
        host: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, host=host, clock=clock)
        for db in [primary, *replicas]:
            if pool_size > db.max_connections:
                raise ConfigError(
                    f"{name}: pool_size {pool_size} exceeds {db.name}'s max_connections {db.max_connections}: "
                    "the pool would open connections the database refuses"
                )
        self.primary = primary
        self.replicas = list(replicas)
        self.pools = {
            db.name: ConnectionPool(db.connect, pool_size, timeout, self.clock) for db in [primary, *replicas]
        }
        self._next_reader = itertools.cycle(self.replicas or [primary])
        self._lock = threading.Lock()

    def links(self) -> list[tuple[str, str, str, bool]]:
        """The live links for the diagram: writes to the primary, reads to each replica, each over its pool."""
        size = next(iter(self.pools.values())).size
        links = [(self.name, self.primary.name, f"writes · pool of {size}", self.primary.is_up)]
        reads = self.replicas or []
        links += [(self.name, db.name, f"reads · pool of {size}", db.is_up) for db in reads]
        return links

    def route(self, sql: str) -> DatabaseNode:
        """The database a statement goes to."""
        if _WRITE.match(sql):
            return self.primary
        with self._lock:
            return next(self._next_reader)

    def execute(self, sql: str, params=None) -> list[tuple]:
        """Run one statement on a pooled connection of the database its rule picks; return all rows."""
        self.ensure_up()
        db = self.route(sql)
        self.metrics.counter(f"to_{db.name}").inc()
        with self.pools[db.name].connection() as conn:
            return conn.execute(sql, params).fetchall()
