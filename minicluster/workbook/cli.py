"""The ``minicluster`` command: check, hint, status, reset, solution, tour (rustlings-style)."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..errors import MiniclusterError
from . import catalog, trees
from .progress import Progress, ProgressError
from .result import CheckResult

_STATUS_WORDS = {"passed": "passed", "failed": "failed", "not_attempted": "not attempted"}


def _cmd_check(args) -> int:
    if args.engine:
        from ..postgres import engine

        os.environ["MINICLUSTER_ENGINE"] = engine(args.engine)  # the check's process inherits it
    selected = [catalog.get(args.exercise)] if args.exercise else list(catalog.exercises())
    all_passed = True
    for exercise in selected:
        try:
            unlocked_before = _progress().ever_passed(exercise.id)
        except ProgressError as exc:
            print(f"minicluster: {exc} (checking anyway, without saving progress)", file=sys.stderr)
            unlocked_before = True
        result = check_in_child(exercise)
        try:
            Progress().record(exercise.id, result.status)
        except ProgressError:
            pass  # a read-only checkout still gets its verdict
        print(result)
        if result.passed and not unlocked_before:
            print(f"   solution unlocked: minicluster solution {exercise.id}")
        all_passed &= result.passed
    return 0 if all_passed else 1


def check_in_child(exercise: catalog.Exercise) -> CheckResult:
    """Check the learner's file for ``exercise`` in a fresh interpreter, which ends with the check.

    A learner's ``sys.exit`` or ``os._exit``, a thread that never ends, a hang the in-process timeout
    cannot stop, or a patched checker cannot reach this process: the verdict is what the child wrote,
    or *failed* when it wrote none in time.
    """
    limit = exercise.make_checker().time_limit
    folder = Path(tempfile.mkdtemp(prefix="minicluster-check-"))
    verdict = folder / "result.json"
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "minicluster.workbook.child", exercise.id, str(verdict)],
            start_new_session=True,  # its own process group: killed whole, threads and children with it
        )
        # Waited for by a thread blocked in waitpid, joined with the time limit: the verdict is read the
        # moment the child ends (``wait(timeout=...)`` polls, sleeping up to 50 ms between looks).
        waiter = threading.Thread(target=child.wait, name=f"wait for {exercise.id}", daemon=True)
        waiter.start()
        waiter.join(limit)
        if waiter.is_alive():  # not reaped yet, so its process group is still its own
            os.killpg(child.pid, signal.SIGKILL)
            waiter.join()
            return _failed(exercise, f"the check did not finish within {limit:g} s: does your code hang?")
        code = child.returncode
        try:
            data = json.loads(verdict.read_text(encoding="utf-8"))
            return CheckResult(exercise.id, data["status"], tuple(data["messages"]))
        except (OSError, ValueError, KeyError, TypeError):
            return _failed(
                exercise,
                f"your code ended the process (exit code {code}) before the check could finish: "
                "do not call sys.exit() or os._exit() in an exercise",
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _failed(exercise: catalog.Exercise, message: str) -> CheckResult:
    return CheckResult(exercise.id, "failed", (message,))


def _progress() -> Progress:
    """The learner's progress; says so on stderr when an unreadable file had to be set aside."""
    progress = Progress()
    if progress.notice:
        print(f"minicluster: {progress.notice}", file=sys.stderr)
    return progress


def _cmd_hint(args) -> int:
    exercise = catalog.get(args.exercise)
    progress = _progress()
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
    progress = _progress()
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
        saved = _backup(target, Progress().path.parent / "backups", exercise.id)
        print(f"your version is saved as {trees.display_path(saved)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(stub, encoding="utf-8")
    Progress().record(exercise.id, "not_attempted")
    print(f"{trees.display_path(target)} is back to its starting point")
    return 0


def _backup(target: Path, folder: Path, exercise_id: str) -> Path:
    """Copy ``target`` to the first free ``<id>-<n>.py`` in ``folder``: an earlier backup is never overwritten."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for n in itertools.count(1):
            saved = folder / f"{exercise_id}-{n}.py"
            try:
                with open(saved, "xb") as out:  # "x": fails if it exists, so no copy is ever replaced
                    out.write(target.read_bytes())
                return saved
            except FileExistsError:
                continue
    except OSError as exc:
        raise ProgressError(f"cannot back up {trees.display_path(target)} in {folder}: {exc.strerror or exc}") from None
    raise AssertionError("unreachable")


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


def _cmd_servers(args) -> int:
    from .. import servers

    if args.action == "up":
        state = servers.up(tuple(args.only or ("redis", "postgres", "pgbouncer")))
        for key in ("redis_url", "postgres_dsn", "pgbouncer_dsn"):
            if key in state:
                print(f"{key:<14} {state[key]}")
        print(
            f"written to {servers.config_path()} (the environment variables {', '.join(servers.ENV.values())} "
            "override it); stop them with: minicluster servers down"
        )
    elif args.action == "status":
        rows = servers.status()
        for row in rows:
            state = "answering" if row["answering"] else "not answering"
            where = "started here" if row["started here"] else "configured" if row["url"] != "-" else "not configured"
            print(f"{row['server']:<10} {state:<14} {where:<15} {row['url']}")
    else:
        stopped = servers.down()
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minicluster", description="The scale-from-zero workbook, from the terminal.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check one exercise, or all of them in order")
    c.add_argument("exercise", nargs="?")
    c.add_argument("--engine", choices=("duckdb", "postgres"),
                   help="where the check's database nodes live (default: MINICLUSTER_ENGINE, the servers' config, "
                   "else duckdb)")  # fmt: skip
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
    v = sub.add_parser("servers", help="start, show or stop real Redis, PostgreSQL and PgBouncer servers")
    v.add_argument("action", choices=("up", "status", "down"))
    v.add_argument("--only", action="append", choices=("redis", "postgres", "pgbouncer"),
                   help="with up: only this server (repeatable)")  # fmt: skip
    v.set_defaults(run=_cmd_servers)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except MiniclusterError as exc:
        print(f"minicluster: {exc}", file=sys.stderr)
        return 2
