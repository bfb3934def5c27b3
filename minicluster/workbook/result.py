"""The result of checking one exercise: what the notebook, the CLI and external graders all read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["passed", "failed", "not_attempted"]

_MARK = {"passed": "✅", "failed": "❌", "not_attempted": "⏳"}
_WORDS = {"passed": "passed", "failed": "failed", "not_attempted": "not attempted yet"}


@dataclass(frozen=True)
class CheckResult:
    """``status`` is ``"passed"``, ``"failed"`` or ``"not_attempted"``; ``messages`` say why."""

    exercise: str
    status: Status
    messages: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __str__(self) -> str:
        head = f"{_MARK[self.status]} {self.exercise}: {_WORDS[self.status]}"
        return "\n".join([head, *(f"   {m}" for m in self.messages)])

    def _repr_markdown_(self) -> str:
        head = f"**{_MARK[self.status]} `{self.exercise}`: {_WORDS[self.status]}**"
        return "\n".join([head, "", *(f"- {m}" for m in self.messages)])

    def __repr__(self) -> str:
        return str(self)
