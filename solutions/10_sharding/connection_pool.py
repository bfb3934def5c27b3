"""Exercise 10.connection_pool: the heart of a ProxySQL-style proxy.

Many requests share a few database connections: a request borrows one, runs its query, gives it back.
When all are busy, borrowers wait in line, first come first served, and give up after a timeout
instead of waiting forever. A connection must come back even when the query raises.

Opening a connection is slow (a network round trip, a login): the pool must not make everyone else wait
while one borrower's ``connect()`` runs, and a ``connect()`` that fails must not use up a place.
"""

import collections
import threading
import time
from contextlib import contextmanager

from minicluster.errors import PoolTimeout


class ConnectionPool:
    """At most ``size`` connections, made by calling ``connect()`` when needed."""

    def __init__(self, connect, size, timeout=2.0):
        """A pool that opens connections lazily with ``connect()``, never more than ``size``; a borrower
        waits at most ``timeout`` seconds."""
        self.connect = connect
        self.size = size
        self.timeout = timeout
        self.idle = []
        self.opened = 0
        self.changed = threading.Condition()
        self.line = collections.deque()  # one ticket per waiting borrower, in arrival order

    def acquire(self):
        """Return a connection: an idle one, else a new one while fewer than ``size`` are open, else wait.

        Waiting borrowers are served in the order they arrived; one arriving just as a connection comes
        back joins the end of the line too. Raise ``PoolTimeout`` when none comes within ``timeout``
        seconds of this call (however often the borrower is woken meanwhile). Call ``connect()`` outside
        the lock; if it raises, the error reaches this borrower and its place is free again.
        """
        ticket = object()
        deadline = time.monotonic() + self.timeout
        with self.changed:
            self.line.append(ticket)
            try:
                while not (self.line[0] is ticket and (self.idle or self.opened < self.size)):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise PoolTimeout(f"no connection became free within {self.timeout} s")
                    self.changed.wait(remaining)
                if self.idle:
                    return self.idle.pop()
                self.opened += 1  # reserve the slot; connect outside the lock
            finally:
                self.line.remove(ticket)
                self.changed.notify_all()
        try:
            return self.connect()
        except BaseException:
            with self.changed:
                self.opened -= 1
                self.changed.notify_all()
            raise

    def release(self, conn):
        """Give ``conn`` back for the next borrower."""
        with self.changed:
            self.idle.append(conn)
            self.changed.notify_all()

    @contextmanager
    def connection(self):
        """``with pool.connection() as conn:`` borrows a connection and always gives it back."""
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)
