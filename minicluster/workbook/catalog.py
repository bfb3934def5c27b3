"""The catalogue of exercises, read from ``info.toml`` (the one file that owns order, stages and hints)."""

from __future__ import annotations

import difflib
import functools
import importlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import MiniclusterError


class UnknownExercise(MiniclusterError, LookupError):
    """No exercise has that id."""


@dataclass(frozen=True)
class Exercise:
    id: str
    stage: int
    notebook: str
    path: str  #: relative to exercises/ and solutions/
    attribute: str  #: the function or class the checker exercises
    checker: str  #: "module:Class" under minicluster.workbook.checks
    hints: tuple[str, ...]

    def make_checker(self):
        module, cls = self.checker.split(":")
        return getattr(importlib.import_module(f"{__package__}.checks.{module}"), cls)()


@functools.cache
def exercises() -> tuple[Exercise, ...]:
    """Every exercise, in workbook order."""
    data = tomllib.loads((Path(__file__).parent / "info.toml").read_text(encoding="utf-8"))
    return tuple(
        Exercise(
            id=e["id"],
            stage=e["stage"],
            notebook=e["notebook"],
            path=e["path"],
            attribute=e["attribute"],
            checker=e["checker"],
            hints=tuple(e["hints"]),
        )
        for e in data["exercise"]
    )


def get(exercise_id: object) -> Exercise:
    """The exercise with this id, or :class:`UnknownExercise` naming the closest ids."""
    for e in exercises():
        if e.id == exercise_id:
            return e
    ids = [e.id for e in exercises()]
    close = difflib.get_close_matches(str(exercise_id), ids, n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(ids)}"
    raise UnknownExercise(f"no exercise {exercise_id!r}{suggestion}")
