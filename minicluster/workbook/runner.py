"""Running learner code so that it cannot hang the notebook or the grader.

The learner's function runs on a daemon thread; the caller waits at most ``timeout`` seconds. If it
has not returned by then, the caller gets :class:`LearnerTimeout` and the runaway thread is asked to
stop by raising an exception inside it (``PyThreadState_SetAsyncExc``: it takes effect at the next
Python instruction, so a pure-Python infinite loop stops). Code blocked in C for good (a lock that is
never released) cannot be stopped; it is abandoned as a sleeping daemon thread.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class LearnerTimeout(Exception):
    """The learner's code did not return in time."""

    def __init__(self, timeout: float, stopped: bool = True) -> None:
        super().__init__(f"did not return within {timeout:g} s")
        self.timeout = timeout
        #: False when the learner's thread would not stop: it is still running (see :func:`runaways`).
        self.stopped = stopped


class LearnerExit(Exception):
    """The learner's code raised ``SystemExit``, ``KeyboardInterrupt`` or another ``BaseException``.

    Handed to the checker as an ordinary exception, so it fails the check instead of ending the
    notebook's kernel or the grader.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}({', '.join(map(repr, error.args))})")
        self.error = error
        self.__traceback__ = error.__traceback__


#: Threads running learner code that were asked to stop and did not (a bare ``except:`` in a loop).
_RUNAWAYS: list[threading.Thread] = []
_RUNAWAYS_LOCK = threading.Lock()


def runaways() -> list[threading.Thread]:
    """Learner threads left running by earlier timeouts that are still alive."""
    with _RUNAWAYS_LOCK:
        _RUNAWAYS[:] = [t for t in _RUNAWAYS if t.is_alive()]
        return list(_RUNAWAYS)


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


def _cpu_seconds(thread: threading.Thread) -> float | None:
    """CPU time ``thread`` has used so far (Linux: /proc), or None where it cannot be read."""
    try:
        fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, in ticks
    except (OSError, ValueError, IndexError, TypeError):
        return None


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
        except Exception as exc:  # handed back to the caller as it is
            outcome["error"] = exc
        except BaseException as exc:  # SystemExit and friends: a failure of the learner's code, not the caller's
            outcome["error"] = LearnerExit(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, name="learner-code", daemon=True)
    thread.start()
    if not done.wait(timeout):
        _set_async_exc(thread, _Stop)
        cpu_before = _cpu_seconds(thread)
        # Give the interrupted code a moment to unwind, so the checker can close what it lent it
        # (a DuckDB connection refuses to close while a query of the runaway thread is running).
        if not done.wait(grace):
            _give_up_on(thread)
            cpu_after = _cpu_seconds(thread)
            # Blocked for good on a lock, it costs nothing and is abandoned; still burning CPU after the
            # stop request (a bare `except:` swallowed it), it would slow every later check: a runaway.
            spinning = cpu_before is None or cpu_after is None or cpu_after - cpu_before > grace / 4
            if thread.is_alive() and spinning:
                with _RUNAWAYS_LOCK:
                    _RUNAWAYS.append(thread)
                raise LearnerTimeout(timeout, stopped=False)
        raise LearnerTimeout(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
