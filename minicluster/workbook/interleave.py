"""Make races happen on purpose: run learner calls on two threads that take turns every bytecode.

On CPython a data race in a few lines of Python rarely shows: the interpreter switches threads only
every few milliseconds, so ``counts[name] = counts.get(name, 0) + 1`` almost never gets interrupted
between its read and its write, and a test that just starts many threads passes racy code. This
module removes the luck. It traces the learner's code (``sys.settrace`` with opcode events) and
hands the turn to the other thread after every bytecode, so two unsynchronized read-modify-writes
interleave exactly where they can go wrong, every time.

A thread that waits on a lock held by the other cannot take its turn; after ``patience`` seconds the
holder carries on alone, so correct locking is slowed down, never deadlocked.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_LIBRARY = str(Path(__file__).resolve().parents[1])
_PYTHON = (str(Path(threading.__file__).resolve().parent), sys.prefix, sys.base_prefix)


def is_learner_code(filename: str) -> bool:
    """Code outside the standard library, installed packages and minicluster itself."""
    path = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    if path.startswith("<"):
        return not path.startswith("<frozen")
    if path.startswith(_LIBRARY) or "site-packages" in path:
        return False
    return not any(path.startswith(p) for p in _PYTHON)


def _learner_opcodes(local):
    """A ``sys.settrace`` function that hands every opcode of learner code to ``local``."""

    def on_call(frame, event, arg):
        if event == "call" and is_learner_code(frame.f_code.co_filename):
            frame.f_trace_opcodes = True
            return local
        return None

    return on_call


class Interleaver:
    """Runs two calls at once, switching between their threads at every bytecode of learner code."""

    def __init__(self, patience: float = 0.002, timeout: float = 10.0) -> None:
        self.patience = patience
        self.timeout = timeout
        self._cond = threading.Condition()
        self._turn = 0
        self._done = [False, False]

    def _hand_over(self, me: int) -> None:
        other = 1 - me
        with self._cond:
            if self._done[other]:
                return
            self._turn = other
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._turn == me or self._done[other], timeout=self.patience):
                self._turn = me  # the other thread is blocked (on a lock we hold, say): carry on

    def _tracer(self, me: int):
        def local(frame, event, arg):
            if event == "opcode":
                self._hand_over(me)
            return local

        return _learner_opcodes(local)

    def run(self, first: Callable[[], Any], second: Callable[[], Any], delay: int = 0) -> list[Any]:
        """Both calls' results (or the exceptions they raised), in order.

        ``delay``: the second call starts after the first has run that many bytecodes (each of its turns
        passed without doing anything), so the two can be lined up at any point of the first.
        """
        results: list[Any] = [None, None]

        def body(me: int, fn: Callable[[], Any]) -> None:
            with self._cond:
                self._cond.wait_for(lambda: self._turn == me, timeout=self.timeout)
            for _ in range(delay if me == 1 else 0):
                self._hand_over(me)
            sys.settrace(self._tracer(me))
            try:
                results[me] = fn()
            except BaseException as exc:  # returned to the caller as data
                results[me] = exc
            finally:
                sys.settrace(None)
                with self._cond:
                    self._done[me] = True
                    self._turn = 1 - me
                    self._cond.notify_all()

        threads = [threading.Thread(target=body, args=(i, fn), daemon=True) for i, fn in enumerate((first, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.timeout)
        if any(t.is_alive() for t in threads):
            raise TimeoutError(f"two interleaved calls did not finish within {self.timeout:g} s")
        return results


def steps(fn: Callable[[], Any]) -> int:
    """How many bytecodes of learner code ``fn()`` runs (its result is dropped, its exception too)."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "opcode":
            count += 1
        return local

    sys.settrace(_learner_opcodes(local))
    try:
        fn()
    except BaseException:  # noqa: S110 (only the count matters here)
        pass
    finally:
        sys.settrace(None)
    return count
