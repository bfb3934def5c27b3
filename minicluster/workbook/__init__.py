"""The workbook: exercises, their checkers, hints and progress.

One entry point serves the notebooks, the ``minicluster`` command and external graders::

    from minicluster.workbook import check
    result = check("01.handler", my_get_user)   # or check("01.handler") for the file in exercises/
    result.status      # "passed", "failed" or "not_attempted"
    result.messages    # what was verified, or what went wrong and on which input
"""

from __future__ import annotations

from pathlib import Path

from . import catalog, trees
from .catalog import Exercise, Stage, UnknownExercise, UnknownStage, exercises, stages
from .progress import Progress, ProgressError
from .result import CheckResult
from .trees import LearnerFileError

__all__ = [
    "CheckResult",
    "Exercise",
    "LearnerFileError",
    "Stage",
    "UnknownExercise",
    "UnknownStage",
    "check",
    "exercises",
    "load",
    "stages",
]


def load(exercise_id: str, tree: str | None = None) -> object:
    """The learner's function or class for ``exercise_id`` (from ``exercises/`` unless told otherwise)."""
    return trees.load(catalog.get(exercise_id), trees.tree(tree))


def check(exercise_id: str, implementation: object = None, *, tree: str | None = None) -> CheckResult:
    """Check ``implementation`` (default: the file in the learner's tree) against exercise ``exercise_id``.

    Progress is recorded when the learner's own file in ``exercises/`` was checked.
    """
    exercise = catalog.get(exercise_id)
    folder = trees.tree(tree)
    where = trees.display_path(folder / exercise.path)
    from_learner_file = implementation is None
    if from_learner_file:
        try:
            implementation = trees.load(exercise, folder)
        except LearnerFileError as exc:
            return _recorded(CheckResult(exercise.id, "failed", (str(exc),)), folder)
    result = exercise.make_checker().check(implementation, where=where)
    return _recorded(result, folder) if from_learner_file else result


def _recorded(result: CheckResult, folder: Path) -> CheckResult:
    if trees.is_learner_tree(folder):
        try:
            Progress().record(result.exercise, result.status)
        except ProgressError:
            pass  # a read-only checkout still gets its result, just no saved progress
    return result
