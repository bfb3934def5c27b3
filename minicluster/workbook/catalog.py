"""The stage grid and the exercises, read from ``info.toml`` (the one file that owns stages, order and hints)."""

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


class UnknownStage(MiniclusterError, LookupError):
    """No stage has that number, or the stage is planned and not built yet."""


@dataclass(frozen=True)
class Stage:
    """One stage of the workbook (one row of the stage grid in ``info.toml``)."""

    number: int
    title: str
    heading: str  #: the notes' Korean heading
    module: str  #: minicluster.stages.<module>
    notebook: str  #: notebooks/<notebook>
    ready: bool

    @property
    def exercises(self) -> tuple[Exercise, ...]:
        return tuple(e for e in exercises() if e.stage == self.number)

    @property
    def header(self) -> str:
        """The first cell of the stage's notebook: its title and the notes' heading."""
        return f"# Stage {self.number} — {self.title}\n### {self.heading}"

    def import_module(self):
        """``minicluster.stages.<module>`` (only a ready stage has one)."""
        if not self.ready:
            raise UnknownStage(f"stage {self.number} ({self.title}) is planned, not built yet")
        return importlib.import_module(f"minicluster.stages.{self.module}")


@dataclass(frozen=True)
class Exercise:
    id: str
    stage: int
    path: str  #: relative to exercises/ and solutions/
    attribute: str  #: the function or class the checker exercises
    checker: str  #: "stageNN.name:Class" under minicluster.workbook.checks
    hints: tuple[str, ...]

    @property
    def name(self) -> str:
        """The part of the id after the stage: ``paginate`` for ``10.paginate``."""
        return self.id.split(".", 1)[1]

    @property
    def notebook(self) -> str:
        return stage(self.stage).notebook

    def make_checker(self):
        module, cls = self.checker.split(":")
        return getattr(importlib.import_module(f"{__package__}.checks.{module}"), cls)()


@functools.cache
def _info() -> dict:
    return tomllib.loads((Path(__file__).parent / "info.toml").read_text(encoding="utf-8"))


@functools.cache
def stages() -> tuple[Stage, ...]:
    """Every stage, 1 to 10, ready or planned."""
    return tuple(
        Stage(s["number"], s["title"], s["heading"], s["module"], s["notebook"], s["ready"]) for s in _info()["stage"]
    )


def stage(number: object) -> Stage:
    """The stage with this number, or :class:`UnknownStage` saying which exist."""
    for s in stages():
        if s.number == number:
            return s
    raise UnknownStage(f"no stage {number!r} (stages: 1 to {len(stages())})")


@functools.cache
def exercises() -> tuple[Exercise, ...]:
    """Every exercise, in workbook order."""
    return tuple(
        Exercise(
            id=e["id"],
            stage=e["stage"],
            path=e["path"],
            attribute=e["attribute"],
            checker=e["checker"],
            hints=tuple(e["hints"]),
        )
        for e in _info()["exercise"]
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
