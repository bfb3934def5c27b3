"""Running learner code so that it cannot hang the notebook or the grader.

The learner's function runs on a daemon thread; the caller waits at most ``timeout`` seconds. If it
has not returned by then, the caller gets :class:`LearnerTimeout` and the runaway thread is asked to
stop by raising an exception inside it (``PyThreadState_SetAsyncExc``: it takes effect at the next
Python instruction, so a pure-Python infinite loop stops; code blocked in C returns first).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any


class LearnerTimeout(Exception):
    """The learner's code did not return in time."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"did not return within {timeout:g} s")
        self.timeout = timeout


class _Stop(BaseException):
    """Raised inside a runaway learner thread to end it (BaseException: learner code rarely catches it)."""


def _interrupt(thread: threading.Thread) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Stop))


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
        _interrupt(thread)
        # Give the interrupted code a moment to unwind, so the checker can close what it lent it
        # (a DuckDB connection refuses to close while a query of the runaway thread is running).
        done.wait(grace)
        raise LearnerTimeout(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
