"""Wrong pools for ``10.connection_pool``: the reference pool with one part replaced."""

import collections
from contextlib import contextmanager

from minicluster.proxy import PoolTimeout
from minicluster.workbook import load

#: The reference pool (one Condition, FIFO tickets): each mutant below replaces one of its parts.
_Pool = load("10.connection_pool", tree="solutions")


class Unbounded(_Pool):
    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        return self.connect()


class LeaksOnException(_Pool):
    @contextmanager
    def connection(self):
        conn = self.acquire()
        yield conn
        self.release(conn)


class _CutsInLine(collections.deque):
    """A line where every newcomer goes to the front."""

    def append(self, ticket):
        self.appendleft(ticket)


class LastComeFirstServed(_Pool):
    def __init__(self, connect, size, timeout=2.0):
        super().__init__(connect, size, timeout)
        self.line = _CutsInLine()


class WaitsForever(_Pool):
    def acquire(self):
        with self.changed:
            while not (self.idle or self.opened < self.size):
                self.changed.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        return self.connect()


class GivesUpAtOnce(_Pool):
    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle.pop()
            if self.opened < self.size:
                self.opened += 1
                return self.connect()
        raise PoolTimeout("busy")


class WrongTimeoutError(_Pool):
    def acquire(self):
        try:
            return super().acquire()
        except PoolTimeout:
            raise RuntimeError("pool exhausted") from None


class ReleaseWakesNobody(_Pool):
    def release(self, conn):
        with self.changed:
            self.idle.append(conn)


class LendsWithoutRemoving(_Pool):
    """Hands out an idle connection but leaves it in the idle list: two borrowers get the same one."""

    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle[-1]
        return super().acquire()

    def release(self, conn):
        with self.changed:
            if conn not in self.idle:
                self.idle.append(conn)
            self.changed.notify_all()


class OpensBeforeReusing(_Pool):
    """Opens a new connection while under size even when an idle one is waiting."""

    def acquire(self):
        with self.changed:
            if self.opened < self.size:
                self.opened += 1
                new = True
            else:
                new = False
        return self.connect() if new else super().acquire()


class IgnoresItsTimeout(_Pool):
    """Always waits its own default of 2 s, whatever timeout the pool was made with."""

    def __init__(self, connect, size, timeout=2.0):
        super().__init__(connect, size, 2.0)


MUTANTS = {
    cls.__name__: cls
    for cls in (
        Unbounded,
        LeaksOnException,
        LastComeFirstServed,
        WaitsForever,
        GivesUpAtOnce,
        WrongTimeoutError,
        ReleaseWakesNobody,
        LendsWithoutRemoving,
        OpensBeforeReusing,
        IgnoresItsTimeout,
    )
}
