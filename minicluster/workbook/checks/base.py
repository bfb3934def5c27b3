"""What every checker shares: calling learner code safely and turning outcomes into a result.

A checker subclasses :class:`Checker` and writes :meth:`Checker.verify`, which touches the learner's
code only through three helpers — :meth:`Checker.call` (what it returns), :meth:`Checker.returns`
(that it returns a value of the right type) and :meth:`Checker.expect_raises` (that it refuses an
input with the right exception) — so every call runs under the timeout and every exception or wrong
type becomes a failure naming the input. It raises :class:`Failure` with a teacher-like message at
the first thing that is wrong. :meth:`Checker.check` turns that into a :class:`CheckResult`:

* the learner's stub still raises ``NotImplementedError`` → *not attempted*;
* learner code raises, loops, or returns something wrong → *failed*, naming the input;
* everything verified → *passed*, with what was verified.
"""

from __future__ import annotations

import sys
import sysconfig
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import trees
from ..interleave import Interleaver
from ..result import CheckResult
from ..runner import LearnerTimeout, call_with_timeout, runaways

_PACKAGE = Path(__file__).resolve().parents[2]  # minicluster/
_LIBRARIES = {Path(p).resolve() for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"])}


class Failure(Exception):
    """A check that did not hold; the message is shown to the learner as it is."""


class NotAttempted(Exception):
    """The learner's code still raises ``NotImplementedError``."""


def describe(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a learner's __repr__ can raise too
        text = f"<{type(value).__name__} whose repr() raised {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_learners(filename: str) -> bool:
    """Whether code from ``filename`` is the learner's: a notebook cell, or a file outside minicluster and
    the Python installation (generated code, ``<string>``, is not)."""
    if filename.startswith("<ipython-input") or "ipykernel_" in filename:
        return True  # a notebook cell
    if filename.startswith("<"):
        return False
    path = Path(filename).resolve()
    return not (path.is_relative_to(_PACKAGE) or any(path.is_relative_to(lib) for lib in _LIBRARIES))


def where(error: BaseException) -> str:
    """`` (at exercises/…/file.py line N)``: the innermost line of the learner's code in ``error``'s traceback."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _is_learners(f.filename)]
    if not frames:
        return ""
    frame = frames[-1]
    shown = trees.display_path(Path(frame.filename)) if Path(frame.filename).is_file() else "a notebook cell"
    return f" (at {shown} line {frame.lineno})"


def raised(error: BaseException) -> str:
    """What the learner's code raised, for a message: ``KeyError: 'missing' (at … line 12)``."""
    inner = error.error if hasattr(error, "error") and isinstance(error.error, BaseException) else error
    text = str(inner)
    return f"{type(inner).__name__}{': ' + text if text else ''}{where(error)}"


def _functions(value: Any):
    """The functions inside ``value``: itself, a property's accessors, a class's members (one level)."""
    if isinstance(value, property):
        yield from (f for f in (value.fget, value.fset, value.fdel) if f is not None)
    elif isinstance(value, (staticmethod, classmethod)):
        yield value.__func__
    elif callable(value) and hasattr(value, "__code__"):
        yield value


def patched() -> list[str]:
    """Members of the workbook's modules and classes whose code lives outside the minicluster package.

    The checker, the runner and the result are plain Python in this process, so learner code could
    replace ``Checker.verify`` or ``CheckResult.passed`` with its own function, at import or in an
    earlier notebook cell. Whatever replaced them was written somewhere else: that is what this finds.
    """
    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("minicluster.workbook") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            members = [(attr, value)]
            if isinstance(value, type) and value.__module__.startswith("minicluster"):
                members += [(f"{attr}.{m}", v) for m, v in list(vars(value).items())]
            for label, member in members:
                for function in _functions(member):
                    filename = function.__code__.co_filename
                    if _is_learners(filename):
                        found.append(f"{name.removeprefix('minicluster.workbook.')}.{label}")
    return found


class Checker:
    exercise_id: str = ""
    #: Seconds one call of learner code may take before it counts as a hang.
    call_timeout: float = 5.0
    #: Seconds the whole check may take in ``minicluster check`` before its process is ended.
    time_limit: float = 90.0

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on: str,
        within: float | None = None,
        too_slow: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """``fn(*args, **kwargs)`` with a timeout (``within`` s, else :attr:`call_timeout`); ``on`` describes
        the input for messages; ``too_slow`` is the message when the timeout means slowness, not a hang."""
        try:
            return call_with_timeout(fn, *args, timeout=within or self.call_timeout, **kwargs)
        except (Failure, NotAttempted):  # a checker's own step run under the timeout: its verdict stands
            raise
        except NotImplementedError:
            raise NotAttempted() from None
        except LearnerTimeout as exc:
            raise Failure(f"{on}: {too_slow}" if too_slow else _hang(on, exc)) from None
        except Exception as exc:
            raise Failure(f"{on}: your code raised {raised(exc)}") from None

    def returns(
        self, kind: type | tuple[type, ...], fn: Callable[..., Any], *args: Any, on: str, what: str, **kwargs: Any
    ) -> Any:
        """``fn(*args, **kwargs)`` under the timeout, which must return an instance of ``kind``.

        ``what`` says what to return instead, e.g. "return a Page(posts, next_cursor, has_next)".
        """
        value = self.call(fn, *args, on=on, **kwargs)
        if value is None and kind is not type(None):
            raise Failure(f"{on}: returned None — did you forget a `return`? {what}")
        if not isinstance(value, kind):
            raise Failure(f"{on}: returned {describe(value)}; {what}")
        return value

    def expect_raises(
        self,
        expected: type[BaseException] | tuple[type[BaseException], ...],
        fn: Callable[..., Any],
        *args: Any,
        on: str,
        instead: str,
        **kwargs: Any,
    ) -> BaseException:
        """``fn(*args, **kwargs)`` under the timeout, which must raise ``expected``; returns what it raised.

        ``instead`` says what a returned value means, e.g. "refuse it with InvalidCursor".
        """
        try:
            value = call_with_timeout(fn, *args, timeout=self.call_timeout, **kwargs)
        except NotImplementedError:
            raise NotAttempted() from None
        except LearnerTimeout as exc:
            raise Failure(_hang(on, exc)) from None
        except Exception as exc:
            if isinstance(exc, expected) and not hasattr(exc, "error"):
                return exc
            names = " or ".join(e.__name__ for e in (expected if isinstance(expected, tuple) else (expected,)))
            raise Failure(f"{on}: raised {raised(exc)}; raise {names} instead") from None
        raise Failure(f"{on}: returned {describe(value)}; {instead}")

    def instance(self, cls: Callable[..., Any], *args: Any, on: str, methods: tuple[str, ...] = ()) -> Any:
        """``cls(*args)`` under the timeout, which must have each of ``methods``."""
        obj = self.call(cls, *args, on=on)
        for method in methods:
            if not callable(getattr(obj, method, None)):
                raise Failure(f"{getattr(cls, '__name__', 'your class')} has no {method}() method")
        return obj

    def interleaved(self, first: Callable[[], Any], second: Callable[[], Any], on: str, delay: int = 0) -> list[Any]:
        """Run two calls with their threads taking turns at every bytecode (see ``interleave.py``); the
        second starts ``delay`` bytecodes after the first. Returns what each returned."""
        try:
            results = Interleaver(timeout=self.call_timeout).run(first, second, delay=delay)
        except TimeoutError:
            raise Failure(f"{on}: the two calls never finished: a deadlock?") from None
        for result in results:
            if isinstance(result, NotImplementedError):
                raise NotAttempted()
            if isinstance(result, BaseException):
                raise Failure(f"{on}: your code raised {type(result).__name__}: {result}")
        return results

    def side_by_side(self, *scenarios: Callable[[], Any]) -> list[Any]:
        """Run independent scenarios at the same time, each on a thread of its own, and wait for all.

        For scenarios that mostly wait (a slow shard, a watch for work left running): a check then takes
        about as long as its longest scenario instead of their sum. Each touches learner code only
        through :meth:`call` and its kin, so each is bounded by the call timeout. Once all have ended,
        the first problem *in the order given* is raised (the same verdict whichever finished first);
        otherwise returns what each returned.
        """
        running = [Background(s, f"{self.exercise_id} scenario {i + 1}") for i, s in enumerate(scenarios)]
        for scenario in running:  # every one waited for, before any verdict
            scenario.wait(self.time_limit)
        return [scenario.result(0) for scenario in running]

    def verify(self, implementation: Any) -> list[str]:
        """Raise :class:`Failure` on the first problem; return what was verified when all hold."""
        raise NotImplementedError

    def check(self, implementation: Any, *, where: str = "") -> CheckResult:
        left = runaways()
        if left:
            return self._result(
                "failed",
                f"code from an earlier check is still running ({left[0].name}): restart the kernel (or the "
                "process) before trusting the next check",
            )
        try:
            verified = self.verify(implementation)
        except NotAttempted:
            hint = f"open {where} and replace the `raise NotImplementedError`" if where else "write the function"
            result = self._result("not_attempted", f"{hint}, then check again.")
        except Failure as failure:
            result = self._result("failed", str(failure))
        except Exception as exc:  # what the learner's code handed back broke the checker: still a verdict
            result = self._result(
                "failed", f"your code returned something the check could not use ({type(exc).__name__}: {exc})"
            )
        else:
            result = CheckResult(self.exercise_id, "passed", tuple(verified))
        changed = patched()
        if changed:
            result = self._result(
                "failed", f"your code replaced part of the checker ({changed[0]}); restart the kernel and check again"
            )
        elif runaways():
            message = "your code left a thread running — restart the kernel before trusting the next check"
            first = f"{result.messages[0]} " if result.status == "failed" and result.messages else ""
            result = self._result("failed", first + message)
        return result

    def _result(self, status: str, message: str) -> CheckResult:
        return CheckResult(self.exercise_id, status, (message,))


class Background:
    """``fn()`` on a thread of its own, started at once; :meth:`result` waits for what it returns or raises."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        self.name = name
        self._outcome: tuple[bool, Any] | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True, name=name)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._outcome = (True, fn())
        except BaseException as exc:  # handed to whoever asks for the result
            self._outcome = (False, exc)

    def wait(self, timeout: float) -> None:
        self._thread.join(timeout)

    def result(self, timeout: float) -> Any:
        """What ``fn`` returned (waiting up to ``timeout`` s); what it raised is raised here, and
        :class:`Failure` if it has not finished."""
        self.wait(timeout)
        if self._outcome is None:
            raise Failure(f"{self.name} never finished" + (f" within {timeout:g} s" if timeout else ""))
        ok, value = self._outcome
        if not ok:
            raise value
        return value


def _hang(on: str, exc: LearnerTimeout) -> str:
    text = f"{on}: your code {exc} — is there a loop that never ends, or a wait on a lock?"
    if not exc.stopped:
        text += " It would not stop when asked (a bare `except:` catches the stop request too)."
    return text
