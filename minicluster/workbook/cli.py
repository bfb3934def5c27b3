"""The ``minicluster`` command: check, hint, status, reset, solution, tour (rustlings-style)."""

from __future__ import annotations

import argparse
import shutil
import sys

from ..errors import MiniclusterError
from . import catalog, check, trees
from .progress import Progress

_STATUS_WORDS = {"passed": "passed", "failed": "failed", "not_attempted": "not attempted"}


def _cmd_check(args) -> int:
    selected = [catalog.get(args.exercise)] if args.exercise else list(catalog.exercises())
    progress_before = Progress()
    all_passed = True
    for exercise in selected:
        result = check(exercise.id)
        print(result)
        if result.passed and not progress_before.ever_passed(exercise.id) and Progress().ever_passed(exercise.id):
            print(f"   solution unlocked: minicluster solution {exercise.id}")
        all_passed &= result.passed
    return 0 if all_passed else 1


def _cmd_hint(args) -> int:
    exercise = catalog.get(args.exercise)
    progress = Progress()
    seen = progress.hints_seen(exercise.id)
    total = len(exercise.hints)
    if seen < total:
        seen = progress.see_hint(exercise.id)
    for i, text in enumerate(exercise.hints[:seen], 1):
        print(f"hint {i}/{total}: {text}")
    if seen >= total:
        print("that was the last hint.")
    else:
        print(f"(run it again for hint {seen + 1}/{total})")
    return 0


def _cmd_status(args) -> int:
    progress = Progress()
    rows = [
        (e.id, _STATUS_WORDS[progress.status(e.id)], f"hints {progress.hints_seen(e.id)}/{len(e.hints)}")
        for e in catalog.exercises()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for stage in catalog.stages():
        print(f"Stage {stage.number} — {stage.title}" + ("" if stage.ready else " (planned)"))
        for row in rows:
            if row[0].startswith(f"{stage.number:02d}."):
                print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    done = sum(progress.status(e.id) == "passed" for e in catalog.exercises())
    print(f"{done}/{len(rows)} exercises passed")
    return 0


def _cmd_reset(args) -> int:
    exercise = catalog.get(args.exercise)
    target = trees.tree("exercises") / exercise.path
    source = (trees.tree("solutions") / exercise.path).read_text(encoding="utf-8")
    stub = trees.stub_source(source, exercise.id)
    if target.exists() and target.read_text(encoding="utf-8") != stub:
        backups = Progress().path.parent / "backups"
        backups.mkdir(parents=True, exist_ok=True)
        n = 1 + sum(1 for _ in backups.glob(f"{exercise.id}-*.py"))
        saved = backups / f"{exercise.id}-{n}.py"
        shutil.copyfile(target, saved)
        print(f"your version is saved as {trees.display_path(saved)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(stub, encoding="utf-8")
    Progress().record(exercise.id, "not_attempted")
    print(f"{trees.display_path(target)} is back to its starting point")
    return 0


def _cmd_solution(args) -> int:
    exercise = catalog.get(args.exercise)
    if not Progress().ever_passed(exercise.id):
        print(f"the solution of {exercise.id} opens once you pass it: minicluster check {exercise.id}")
        print(f"(stuck? minicluster hint {exercise.id})")
        return 1
    print((trees.tree("solutions") / exercise.path).read_text(encoding="utf-8"), end="")
    return 0


def _cmd_tour(args) -> int:
    from ..tour import run

    return run(stages=args.stage)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minicluster", description="The scale-from-zero workbook, from the terminal.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check one exercise, or all of them in order")
    c.add_argument("exercise", nargs="?")
    c.set_defaults(run=_cmd_check)
    for name, fn, text in (
        ("hint", _cmd_hint, "show one more hint for an exercise"),
        ("reset", _cmd_reset, "restore an exercise file to its starting point (your version is backed up)"),
        ("solution", _cmd_solution, "show the reference solution of an exercise you have passed"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("exercise")
        s.set_defaults(run=fn)
    sub.add_parser("status", help="progress of every exercise").set_defaults(run=_cmd_status)
    t = sub.add_parser("tour", help="run each finished stage's headline experiment and print the results")
    t.add_argument("--stage", type=int, action="append", help="only this stage (repeatable)")
    t.set_defaults(run=_cmd_tour)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except MiniclusterError as exc:
        print(f"minicluster: {exc}", file=sys.stderr)
        return 2
