"""Checker of ``10.connection_pool``: the proxy's bounded, fair pool."""

from __future__ import annotations

import linecache
import sys
import threading
import time
from contextlib import contextmanager

from ..base import Checker, Failure, describe


class _Connect:
    """The checker's connect(): counts connections and which are lent out right now."""

    def __init__(self) -> None:
        self.opened = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.opened += 1
            return f"connection-{self.opened}"


def _blocked(thread: threading.Thread) -> bool:
    """Whether ``thread`` is parked in a wait (its current line calls wait/acquire/get/sleep)."""
    frame = sys._current_frames().get(thread.ident)
    if frame is None or frame.f_code.co_filename == __file__:  # still in the checker's code, not yet waiting
        return False
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    return any(word in line for word in ("wait", "acquire", ".get(", "sleep"))


def _timed_out(text: str) -> bool:
    """Whether a failure or problem message says the pool gave up waiting."""
    return "PoolTimeout" in text or "TimeoutError" in text


@contextmanager
def _on_timeout(message: str):
    """Inside, a Failure caused by the pool timing out becomes ``message``; other failures stand."""
    try:
        yield
    except Failure as failure:
        if _timed_out(str(failure)):
            raise Failure(message) from None
        raise


class ConnectionPoolCheck(Checker):
    """Bounded, reuses, times out, never lends one connection twice, fair, and no leak on exceptions."""

    exercise_id = "10.connection_pool"
    timeout = 0.3

    def verify(self, pool_class) -> list[str]:
        if not callable(pool_class):
            raise Failure(f"expected the class ConnectionPool, got {describe(pool_class)}")
        self._bounded_and_timed_out(pool_class)
        self._no_leak(pool_class)
        self._never_lent_twice(pool_class)
        self._fair(pool_class)
        self._no_cutting_in(pool_class)
        self._deadline_from_arrival(pool_class)
        self._failed_connect(pool_class)
        self._slow_connect(pool_class)
        return [
            "never more than size connections; idle ones are reused",
            "a borrower waits up to the timeout, then gets PoolTimeout",
            "a connection comes back even when the code using it raises",
            "under 16 threads, no connection is ever lent to two borrowers at once",
            "waiting borrowers are served first come, first served; one arriving just after a release waits its turn",
            "the timeout counts from the call to acquire(), however often the borrower is woken",
            "a connect() that raises reaches the borrower and frees its place",
            "a slow connect() holds up no other borrower",
        ]

    def _new(self, pool_class, connect, size, timeout=None):
        return self.call(pool_class, connect, size, timeout or self.timeout, on=f"ConnectionPool(connect, {size})")

    def _bounded_and_timed_out(self, pool_class) -> None:
        connect = _Connect()
        pool = self._new(pool_class, connect, 3)
        first = self.call(pool.acquire, on="acquire() on a new pool of 3")
        self.call(pool.release, first, on="release()")
        reused = self.call(pool.acquire, on="acquire() after giving the only connection back")
        if reused != first or connect.opened != 1:
            raise Failure(
                f"after the only connection came back, acquire() opened another one ({connect.opened} opened); "
                "reuse an idle connection before opening a new one"
            )
        held = [reused] + [self.call(pool.acquire, on=f"acquire() #{i + 2} of a pool of 3") for i in range(2)]
        if len(set(held)) != 3:
            raise Failure(f"three acquire() calls returned {held}; each borrower needs its own connection")
        self._expect_timeout(pool, connect, "acquire() with all 3 connections lent")
        self.call(pool.release, held[0], on="release()")
        again = self.call(pool.acquire, on="acquire() after a release")
        if again != held[0] or connect.opened != 3:
            raise Failure(f"after a release, acquire() opened a new connection instead of reusing {held[0]!r}")
        self._expect_timeout(pool, connect, "acquire() once the released connection was lent again")

    def _expect_timeout(self, pool, connect, on) -> None:
        started = time.perf_counter()
        try:
            got = self.call(pool.acquire, on=on)
        except Failure as failure:
            if "PoolTimeout" not in str(failure) and "TimeoutError" not in str(failure):
                raise
            got = None
        waited = time.perf_counter() - started
        if got is not None:
            raise Failure(
                f"{on} returned {describe(got)}"
                + (f" (connect() was called {connect.opened} times)" if connect.opened > 3 else " (already lent)")
                + "; it must wait, and raise PoolTimeout when the timeout passes"
            )
        if waited < 0.5 * self.timeout:
            raise Failure(
                f"acquire() gave up after {waited * 1000:.0f} ms; wait up to the timeout ({self.timeout} s) first"
            )
        # Bounded from above too, with a second to spare for a busy machine: a timeout that is ignored
        # (a default of seconds instead of the one given) keeps every borrower waiting that much longer.
        if waited > self.timeout + 1.0:
            raise Failure(
                f"acquire() raised only after {waited:.1f} s on a pool made with timeout={self.timeout} s: "
                "use the timeout the pool was given"
            )

    def _no_leak(self, pool_class) -> None:
        pool = self._new(pool_class, _Connect(), 2)

        def failing_uses():
            for _ in range(10):
                try:
                    with pool.connection():
                        raise ZeroDivisionError("the query failed")
                except ZeroDivisionError:
                    pass
            with pool.connection() as a, pool.connection() as b:
                return a, b

        with _on_timeout(
            "after 10 uses of `with pool.connection():` whose code raised, the pool had no connection left: "
            "give it back in a finally"
        ):
            self.call(failing_uses, on="10 uses of pool.connection() whose code raised, then 2 more")

    def _never_lent_twice(self, pool_class) -> None:
        connect = _Connect()
        pool = self._new(pool_class, connect, 4, timeout=5.0)
        out: set = set()
        lock = threading.Lock()
        problems: list[str] = []
        start = threading.Barrier(16)

        def borrower() -> None:
            try:
                start.wait()
                for _ in range(40):
                    with pool.connection() as conn:
                        with lock:
                            if conn in out:
                                problems.append(f"{conn!r} was lent to two borrowers at once")
                            out.add(conn)
                            if len(out) > 4:
                                problems.append(f"{len(out)} connections lent at once from a pool of 4")
                        time.sleep(0.0005)  # the query: hold the connection a moment, as real borrowers do
                        with lock:
                            out.discard(conn)
            except BaseException as exc:  # reported below
                problems.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=borrower, daemon=True) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.call_timeout * 2)
        if any(t.is_alive() for t in threads):
            raise Failure("16 threads borrowing from a pool of 4 never finished: a deadlock, or a lost wake-up?")
        timeouts = [p for p in problems if _timed_out(p)]
        if timeouts and len(timeouts) == len(problems):
            raise Failure(
                f"16 threads borrowing from a pool of 4 (timeout 5 s), each holding a connection a moment: "
                f"{len(timeouts)} gave up ({timeouts[0]}) while connections kept coming back — a waiter was "
                "never woken: when a connection comes back, wake every waiter (notify_all) or hand it to the "
                "first in line"
            )
        if problems:
            raise Failure(f"16 threads borrowing from a pool of 4: {problems[0]}")
        if connect.opened > 4:
            raise Failure(f"a pool of 4 opened {connect.opened} connections")

    def _fair(self, pool_class) -> None:
        pool = self._new(pool_class, _Connect(), 1, timeout=5.0)
        held = self.call(pool.acquire, on="acquire() on a pool of 1")
        served: list[int] = []
        threads = []
        for i in range(4):

            def borrow(i=i):
                conn = pool.acquire()
                served.append(i)
                pool.release(conn)

            t = threading.Thread(target=borrow, daemon=True)
            t.start()
            threads.append(t)
            for _ in range(5000):  # until it is parked in line (read from its live frame)
                if _blocked(t):
                    break
                threading.Event().wait(0.001)
        released = time.perf_counter()
        self.call(pool.release, held, on="release()")
        for t in threads:
            t.join(self.call_timeout)
        if time.perf_counter() - released > 1.0:
            raise Failure(
                "four waiting borrowers took over a second to be served after the connection came back (their "
                "timeout is 5 s): release() must wake the waiters, not leave them to time out"
            )
        if served != [0, 1, 2, 3]:
            raise Failure(
                f"four borrowers arrived in the order 0, 1, 2, 3 while the only connection was lent; they were "
                f"served {served}: keep waiters in line, first come first served"
            )

    def _no_cutting_in(self, pool_class) -> None:
        """A borrower arriving right after a release must queue behind the one already waiting.

        Deterministic: the release and the late acquire() run back to back in one thread, which keeps
        the interpreter the whole time, so the woken waiter cannot run in between.
        """
        pool = self._new(pool_class, _Connect(), 1, timeout=5.0)
        held = self.call(pool.acquire, on="acquire() on a pool of 1")
        served: list[str] = []
        waiter = _Borrower(pool, served, "the waiting borrower")
        waiter.park()

        def release_then_acquire():
            pool.release(held)
            conn = pool.acquire()
            served.append("the late arrival")
            pool.release(conn)

        try:
            self.call(release_then_acquire, on="release(), then at once acquire() by a newcomer, while one waited")
        finally:
            waiter.join(self.call_timeout)
        if served[:1] != ["the waiting borrower"]:
            raise Failure(
                "a borrower was waiting for the only connection; it came back and a newcomer calling acquire() "
                f"right then got it first (served: {', '.join(served)}): an idle connection goes to the first in "
                "line — a newcomer joins the end of it"
            )

    def _deadline_from_arrival(self, pool_class) -> None:
        """Ten borrowers queue for a pool of 1 (timeout 0.3 s) whose borrowers each hold it 0.25 s: each
        release wakes everyone, but a borrower's timeout counts from its call, so the later ones give up
        near 0.3 s. A deadline restarted on every wake-up keeps them all waiting seconds."""
        timeout, hold = 0.3, 0.25
        pool = self._new(pool_class, _Connect(), 1, timeout=timeout)
        held = self.call(pool.acquire, on="acquire() on a pool of 1")
        served: list[str] = []
        line = [_Borrower(pool, served, f"borrower {i}", hold=hold) for i in range(10)]
        for borrower in line:
            borrower.park()
        self.call(pool.release, held, on="release()")
        for borrower in line:
            borrower.join(self.call_timeout)
        if any(b.thread.is_alive() for b in line):
            raise Failure("ten borrowers waiting on a pool with timeout=0.3 s were still waiting 5 s later")
        late = max(line, key=lambda b: b.waited)
        if late.waited > timeout + 1.0:
            raise Failure(
                f"{late.name} of ten queued on a pool with timeout={timeout} s "
                + ("got a connection" if late.outcome == "served" else "gave up")
                + f" after {late.waited:.1f} s: the timeout counts from the call to acquire() — keep one "
                "deadline per call, and wait only for what is left of it after each wake-up"
            )

    def _failed_connect(self, pool_class) -> None:
        calls = []

        def flaky():
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionRefusedError("the database refused the connection")
            return f"connection-{len(calls)}"

        pool = self._new(pool_class, flaky, 1)
        self.expect_raises(
            ConnectionError,
            pool.acquire,
            on="acquire() on a pool of 1 whose connect() raised ConnectionRefusedError",
            instead="connect() raised: let its error reach the borrower",
        )
        with _on_timeout(
            "connect() raised once in a pool of 1; afterwards every acquire() timed out although no "
            "connection was open: when connect() fails, its place in the pool must be free again"
        ):
            conn = self.call(pool.acquire, on="acquire() again, once connect() works", within=self.timeout + 2.0)
        if conn is None or len(calls) != 2:
            raise Failure(f"after a failed connect(), acquire() returned {describe(conn)} ({len(calls)} connect calls)")

    def _slow_connect(self, pool_class) -> None:
        """While one borrower's connect() is still running, another can give back and take connections."""
        entered, gate = threading.Event(), threading.Event()
        calls = []

        def connect():
            calls.append(1)
            if len(calls) == 2:
                entered.set()
                gate.wait(self.call_timeout)  # a connect() that takes as long as the checker allows
            return f"connection-{len(calls)}"

        pool = self._new(pool_class, connect, 2, timeout=5.0)
        first = self.call(pool.acquire, on="acquire() on a pool of 2")
        opening = threading.Thread(target=_quietly(pool.acquire), daemon=True, name="slow connect")
        opening.start()
        try:
            if not entered.wait(self.call_timeout):
                raise Failure("with one of two connections lent, acquire() never called connect() for the second")

            def give_back_and_take():
                pool.release(first)
                return pool.acquire()

            try:
                again = self.call(
                    give_back_and_take,
                    on="release() and acquire() while another borrower's connect() was still running",
                    within=1.0,
                )
            except Failure as failure:
                if "did not return within" in str(failure):
                    raise Failure(
                        "while one borrower's connect() was still running (a slow database), release() and "
                        "acquire() of an idle connection had to wait for it: call connect() outside the lock"
                    ) from None
                raise
            if again != first:
                raise Failure(f"the idle {first!r} was given back, but acquire() returned {describe(again)}")
        finally:
            gate.set()
            opening.join(self.call_timeout)


class _Borrower:
    """A thread that calls ``pool.acquire()``, notes when it was served (or gave up), holds the
    connection ``hold`` seconds (its query) and gives it back."""

    def __init__(self, pool, served: list[str], name: str, hold: float = 0.0) -> None:
        self.pool, self.served, self.name, self.hold = pool, served, name, hold
        self.outcome, self.waited = "", 0.0
        self.thread = threading.Thread(target=self._run, daemon=True, name=name)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            conn = self.pool.acquire()
        except BaseException as exc:  # a timeout, or the learner's error: both end the borrower
            self.outcome, self.waited = type(exc).__name__, time.perf_counter() - started
            return
        self.outcome, self.waited = "served", time.perf_counter() - started
        self.served.append(self.name)
        if self.hold:
            threading.Event().wait(self.hold)  # the borrower's query takes this long
        self.pool.release(conn)

    def park(self) -> None:
        """Start, and return once the thread waits inside acquire() (read from its live frame)."""
        self.thread.start()
        for _ in range(5000):
            if _blocked(self.thread) or not self.thread.is_alive():
                return
            threading.Event().wait(0.001)

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)


def _quietly(fn):
    def run():
        try:
            fn()
        except BaseException:  # noqa: S110 (the check reports what matters; this thread only opens a connection)
            pass

    return run
