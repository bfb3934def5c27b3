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

from collections.abc import Callable
from typing import Any

from ..result import CheckResult
from ..runner import LearnerTimeout, call_with_timeout


class Failure(Exception):
    """A check that did not hold; the message is shown to the learner as it is."""


class NotAttempted(Exception):
    """The learner's code still raises ``NotImplementedError``."""


def describe(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Checker:
    exercise_id: str = ""
    #: Seconds one call of learner code may take before it counts as a hang.
    call_timeout: float = 5.0

    def call(self, fn: Callable[..., Any], *args: Any, on: str, within: float | None = None, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with a timeout (``within`` s, else :attr:`call_timeout`); ``on`` describes
        the input for messages."""
        try:
            return call_with_timeout(fn, *args, timeout=within or self.call_timeout, **kwargs)
        except (Failure, NotAttempted):  # a checker's own step run under the timeout: its verdict stands
            raise
        except NotImplementedError:
            raise NotAttempted() from None
        except LearnerTimeout as exc:
            raise Failure(f"{on}: your code {exc} — is there a loop that never ends, or a wait on a lock?") from None
        except Exception as exc:
            raise Failure(f"{on}: your code raised {type(exc).__name__}: {exc}") from None

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
            raise Failure(f"{on}: your code {exc} — is there a loop that never ends, or a wait on a lock?") from None
        except Exception as exc:
            if isinstance(exc, expected):
                return exc
            names = " or ".join(e.__name__ for e in (expected if isinstance(expected, tuple) else (expected,)))
            raise Failure(f"{on}: raised {type(exc).__name__}: {exc}; raise {names} instead") from None
        raise Failure(f"{on}: returned {describe(value)}; {instead}")

    def verify(self, implementation: Any) -> list[str]:
        """Raise :class:`Failure` on the first problem; return what was verified when all hold."""
        raise NotImplementedError

    def check(self, implementation: Any, *, where: str = "") -> CheckResult:
        try:
            verified = self.verify(implementation)
        except NotAttempted:
            hint = f"open {where} and replace the `raise NotImplementedError`" if where else "write the function"
            return CheckResult(self.exercise_id, "not_attempted", (f"{hint}, then check again.",))
        except Failure as failure:
            return CheckResult(self.exercise_id, "failed", (str(failure),))
        return CheckResult(self.exercise_id, "passed", tuple(verified))
