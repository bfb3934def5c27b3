"""Wrong pools for ``10.connection_pool``: the reference pool with one part replaced."""

import collections
import threading
import time
from contextlib import contextmanager

from minicluster.errors import PoolTimeout
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


class _Steps(_Pool):
    """The reference acquire(), cut into the steps the mutants below replace one at a time."""

    def acquire(self):
        ticket, deadline = object(), time.monotonic() + self.timeout
        with self.changed:
            self.line.append(ticket)
            try:
                while not (self._my_turn(ticket) and (self.idle or self.opened < self.size)):
                    self._wait(deadline)
                if self.idle:
                    return self.idle.pop()
                opened = self._reserve()
                if opened is not None:
                    return opened
            finally:
                self.line.remove(ticket)
                self.changed.notify_all()
        return self._open()

    def _my_turn(self, ticket):
        return self.line[0] is ticket

    def _wait(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PoolTimeout("busy")
        self.changed.wait(remaining)

    def _reserve(self):
        """Count a place for a connection about to be opened outside the lock (None: not opened yet)."""
        self.opened += 1

    def _open(self):
        try:
            return self.connect()
        except BaseException:
            with self.changed:
                self.opened -= 1
                self.changed.notify_all()
            raise


class RestartsItsDeadline(_Steps):
    """Waits ``timeout`` again after every wake-up: behind a moving line it waits far past its timeout."""

    def _wait(self, deadline):
        if not self.changed.wait(self.timeout):
            raise PoolTimeout("busy")


class CountsAFailedConnect(_Steps):
    """Keeps counting the place as open when connect() raises."""

    def _open(self):
        return self.connect()


class ConnectsUnderTheLock(_Steps):
    """Calls connect() while holding the pool's lock: one slow connect stalls every borrower and release."""

    def _reserve(self):
        conn = self.connect()
        self.opened += 1
        return conn


class NoLine(_Steps):
    """Every waiter woken at once races for the connection (notify_all, no line): served in any order."""

    def _my_turn(self, ticket):
        return True


class _Condition(threading.Condition):
    """notify_all() that wakes one waiter."""

    def notify_all(self):
        self.notify()


class WakesOneWaiter(_Pool):
    """notify() where notify_all() is needed: a woken waiter that is not first in line goes back to
    sleep, and the first one is never told a connection came back."""

    def __init__(self, connect, size, timeout=2.0):
        super().__init__(connect, size, timeout)
        self.changed = _Condition()


class LateArrivalFirst(_Pool):
    """Takes an idle connection without looking at the line: a borrower arriving just after a release
    gets it ahead of the one who waited."""

    def acquire(self):
        with self.changed:
            if self.idle:
                return self.idle.pop()
        return super().acquire()


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
        RestartsItsDeadline,
        CountsAFailedConnect,
        ConnectsUnderTheLock,
        WakesOneWaiter,
        LateArrivalFirst,
        NoLine,
    )
}
