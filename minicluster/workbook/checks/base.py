"""What every checker shares: calling learner code safely and turning outcomes into a result.

A checker subclasses :class:`Checker` and writes :meth:`Checker.verify`, which calls the learner's
code through :meth:`Checker.call` and raises :class:`Failure` with a teacher-like message at the
first thing that is wrong. :meth:`Checker.check` turns that into a :class:`CheckResult`:

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

    def call(self, fn: Callable[..., Any], *args: Any, on: str, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with a timeout; ``on`` describes the input for messages."""
        try:
            return call_with_timeout(fn, *args, timeout=self.call_timeout, **kwargs)
        except NotImplementedError:
            raise NotAttempted() from None
        except LearnerTimeout as exc:
            raise Failure(f"{on}: your code {exc} — is there a loop that never ends, or a wait on a lock?") from None
        except Exception as exc:
            raise Failure(f"{on}: your code raised {type(exc).__name__}: {exc}") from None

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
