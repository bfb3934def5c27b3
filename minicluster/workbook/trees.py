"""The two mirror trees: ``exercises/`` (the learner's) and ``solutions/`` (the reference).

An exercise file *is* its solution file with every function body replaced by a ``TODO`` and
``raise NotImplementedError`` (:func:`stub_source` makes it, the test suite proves the committed
exercises match, and ``minicluster reset`` uses it to restore a file).

Which tree the notebooks and ``check`` load from: ``exercises/`` unless the environment variable
``MINICLUSTER_TREE`` says otherwise. ``stubs`` names the exercises *as shipped*, generated afresh from
the solutions into a temporary folder and shown as ``exercises/…``: the test suite and the stored
notebook outputs use it, so they show what a learner sees before solving anything, and a learner
who has solved some exercises still gets a green ``pytest``.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import itertools
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from ..errors import MiniclusterError
from .catalog import Exercise

_counter = itertools.count()


class LearnerFileError(MiniclusterError):
    """The learner's file is missing or does not import (syntax error, bad import, missing name)."""


def project_root() -> Path:
    """The folder holding ``exercises/`` and ``solutions/``: ``$MINICLUSTER_ROOT``, else the checkout."""
    if os.environ.get("MINICLUSTER_ROOT"):
        return Path(os.environ["MINICLUSTER_ROOT"]).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "solutions").is_dir():
        return checkout
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "solutions").is_dir():
            return folder
    raise MiniclusterError(
        "cannot find the workbook folder (the one with exercises/ and solutions/): "
        "run from inside it or set MINICLUSTER_ROOT"
    )


def tree(name: str | None = None) -> Path:
    """``exercises/``, ``solutions/``, the shipped ``stubs`` (or an absolute folder), by argument, then
    ``$MINICLUSTER_TREE``."""
    name = name or os.environ.get("MINICLUSTER_TREE") or "exercises"
    if name == "stubs":
        return stubs_tree()
    path = Path(name)
    return path if path.is_absolute() else project_root() / path


@functools.cache
def stubs_tree() -> Path:
    """The exercises as shipped: every solution turned into its stub, in a fresh folder of this process."""
    from .catalog import exercises  # the catalog imports this module

    folder = Path(tempfile.mkdtemp(prefix="minicluster-stubs-"))
    for exercise in exercises():
        source = (project_root() / "solutions" / exercise.path).read_text(encoding="utf-8")
        target = folder / exercise.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(stub_source(source, exercise.id), encoding="utf-8")
    return folder


def is_learner_tree(folder: Path) -> bool:
    return folder.resolve() == (project_root() / "exercises").resolve()


def display_path(path: Path) -> str:
    """``path`` as a learner would type it: relative to the workbook (the shipped stubs as exercises/)."""
    resolved = path.resolve()
    if stubs_tree.cache_info().currsize and resolved.is_relative_to(stubs_tree().resolve()):
        return str(Path("exercises") / resolved.relative_to(stubs_tree().resolve()))
    try:
        return str(resolved.relative_to(project_root()))
    except (ValueError, MiniclusterError):
        return str(path)


def load_module(path: Path) -> ModuleType:
    """Import ``path`` afresh (edits since the last load are picked up)."""
    if not path.is_file():
        raise LearnerFileError(f"{display_path(path)} is missing")
    name = f"_minicluster_learner_{next(_counter)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise LearnerFileError(f"{display_path(path)} line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        raise LearnerFileError(f"{display_path(path)} failed to import: {type(exc).__name__}: {exc}") from None
    finally:
        sys.modules.pop(name, None)
    return module


def load(exercise: Exercise, folder: Path) -> object:
    """The function or class an exercise asks for, from ``folder`` (a tree)."""
    path = folder / exercise.path
    module = load_module(path)
    try:
        return getattr(module, exercise.attribute)
    except AttributeError:
        raise LearnerFileError(f"{display_path(path)} has no {exercise.attribute!r}: was it renamed?") from None


#: Ends a line ``NAME = value  # yours to choose`` of a solution: the stub leaves the value to the learner.
CHOOSE = "# yours to choose"


def _replace_bodies(node: ast.AST, lines: list[str], todo: str, edits: list[tuple[int, int, list[str]]]) -> None:
    for child in ast.iter_child_nodes(node):
        if (
            isinstance(child, ast.Assign)
            and child.lineno == child.end_lineno
            and lines[child.lineno - 1].endswith(CHOOSE)
        ):
            names = " = ".join(ast.get_source_segment("\n".join(lines), t) for t in child.targets)
            indent = " " * child.col_offset
            edits.append((child.lineno - 1, child.lineno, [f"{indent}{names} = None  # TODO: yours to choose"]))
        elif isinstance(child, ast.ClassDef):
            _replace_bodies(child, lines, todo, edits)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            private = child.name.startswith("_") and not child.name.startswith("__")
            start = (child.decorator_list[0].lineno if child.decorator_list else child.lineno) - 1
            if private:
                while start > 0 and not lines[start - 1].strip():  # and the blank lines that set it apart
                    start -= 1
                edits.append((start, child.end_lineno, []))
                continue
            body = child.body
            has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
            has_doc = has_doc and isinstance(body[0].value.value, str)
            first = body[0].end_lineno if has_doc else body[0].lineno - 1
            indent = " " * body[0].col_offset
            edits.append((first, child.end_lineno, [f"{indent}# TODO: {todo}", f"{indent}raise NotImplementedError"]))


def stub_source(source: str, exercise_id: str) -> str:
    """The exercise file for a solution file: public bodies become a TODO, private helpers go."""
    lines = source.splitlines()
    edits: list[tuple[int, int, list[str]]] = []
    todo = f"write this (the docstring says what it must do), then run: minicluster check {exercise_id}"
    _replace_bodies(ast.parse(source), lines, todo, edits)
    for start, end, replacement in sorted(edits, reverse=True):
        lines[start:end] = replacement
    text = "\n".join(lines) + "\n"
    while "\n\n\n\n" in text:  # removed helpers leave blank runs behind
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text.rstrip("\n") + "\n"  # and so does a helper at the end of the file
