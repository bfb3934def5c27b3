"""Checker of ``10.connection_pool``: the proxy's bounded, fair pool."""

from __future__ import annotations

import linecache
import sys
import threading
import time

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
    if frame is None:
        return False
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    return any(word in line for word in ("wait", "acquire", ".get(", "sleep"))


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
        return [
            "never more than size connections; idle ones are reused",
            "a borrower waits up to the timeout, then gets PoolTimeout",
            "a connection comes back even when the code using it raises",
            "under 16 threads, no connection is ever lent to two borrowers at once",
            "waiting borrowers are served first come, first served",
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

        try:
            self.call(failing_uses, on="10 uses of pool.connection() whose code raised, then 2 more")
        except Failure as failure:
            if "PoolTimeout" in str(failure) or "TimeoutError" in str(failure):
                raise Failure(
                    "after 10 uses of `with pool.connection():` whose code raised, the pool had no connection left: "
                    "give it back in a finally"
                ) from None
            raise

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
