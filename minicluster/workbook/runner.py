"""Running learner code so that it cannot hang the notebook or the grader.

The learner's function runs on a daemon thread; the caller waits at most ``timeout`` seconds. If it
has not returned by then, the caller gets :class:`LearnerTimeout` and the runaway thread is asked to
stop by raising an exception inside it (``PyThreadState_SetAsyncExc``: it takes effect at the next
Python instruction, so a pure-Python infinite loop stops). Code blocked in C for good (a lock that is
never released) cannot be stopped; it is abandoned as a sleeping daemon thread.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from typing import Any


class LearnerTimeout(Exception):
    """The learner's code did not return in time."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"did not return within {timeout:g} s")
        self.timeout = timeout


class _Stop(BaseException):
    """Raised inside a runaway learner thread to end it (BaseException: learner code rarely catches it)."""


def _set_async_exc(thread: threading.Thread, exc: type[BaseException] | None) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc.argtypes = (ctypes.c_ulong, ctypes.py_object)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(thread.ident, exc)


def _give_up_on(thread: threading.Thread) -> None:
    """Withdraw the exception aimed at a thread that never came back to Python (blocked on a lock).

    Left pending, it would slow every other thread: CPython 3.11 raises an interpreter-wide flag for a
    pending async exception, and only the thread that receives one lowers it. So: withdraw it, then
    let a helper thread receive a harmless one, which lowers the flag.
    """
    _set_async_exc(thread, None)
    ready = threading.Event()

    def receive() -> None:
        ready.set()
        deadline = time.monotonic() + 1.0
        try:
            while time.monotonic() < deadline:  # Python bytecode, so the exception is delivered here
                pass
        except _Stop:
            pass

    helper = threading.Thread(target=receive, name="async-exc-drain", daemon=True)
    helper.start()
    ready.wait()
    _set_async_exc(helper, _Stop)
    helper.join()


def call_with_timeout(
    fn: Callable[..., Any], *args: Any, timeout: float = 5.0, grace: float = 2.0, **kwargs: Any
) -> Any:
    """``fn(*args, **kwargs)``, re-raising what it raises, or :class:`LearnerTimeout` after ``timeout`` s.

    After a timeout, waits up to ``grace`` more seconds for the interrupted code to stop.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except _Stop:
            pass
        except BaseException as exc:  # handed back to the caller as it is
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=run, name="learner-code", daemon=True)
    thread.start()
    if not done.wait(timeout):
        _set_async_exc(thread, _Stop)
        # Give the interrupted code a moment to unwind, so the checker can close what it lent it
        # (a DuckDB connection refuses to close while a query of the runaway thread is running).
        if not done.wait(grace):
            _give_up_on(thread)
        raise LearnerTimeout(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
