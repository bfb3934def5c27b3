"""Are the verdicts stable on a busy machine? ``python -m minicluster.workbook.soak``

Some checks bound time (a concurrent page, a pool's timeout, first come first served). Their bounds
must hold on a learner's laptop that is also compiling something: this runs every exercise's solution
``--runs`` times (default 20) and every mutant of the catalogues in ``tests/mutants/`` ``--mutant-runs``
times (default 1) while one process per core spins (``--no-hog`` to leave the machine idle), and
reports how many times each passed. It exits 1 unless every solution passed every time and every
mutant failed every time. It is a maintainer's tool, outside the default test run (it takes minutes);
the README records its last result.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from . import catalog, check, load, trees


@contextmanager
def cpu_hog(processes: int) -> Iterator[None]:
    """``processes`` Python processes spinning at 100% CPU until the block ends."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def mutant_catalogues() -> dict[str, dict[str, object]]:
    """``{exercise id: {mutant name: implementation}}`` from the checkout's ``tests/mutants/``."""
    root = str(trees.project_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests import mutants  # the workbook's own catalogue, found from the checkout

    return mutants.catalogue()


def soak(exercises: list[str], runs: int, mutant_runs: int, out=sys.stdout, catalogues=None) -> bool:
    """Check solutions and mutants (``catalogues``, default the workbook's); print what happened; True
    when every verdict was the expected one."""
    ok = True
    catalogues = mutant_catalogues() if catalogues is None else catalogues
    for exercise_id in exercises:
        solution = load(exercise_id, tree="solutions")
        passed, slowest, first_failure = 0, 0.0, ""
        for _ in range(runs):
            started = time.perf_counter()
            result = check(exercise_id, solution)
            slowest = max(slowest, time.perf_counter() - started)
            if result.status == "passed":
                passed += 1
            elif not first_failure:
                first_failure = result.messages[0] if result.messages else result.status
        ok &= passed == runs
        print(f"{exercise_id:22} solution passed {passed:2}/{runs} (slowest {slowest:5.1f} s)", file=out)
        if first_failure:
            print(f"    first failure: {first_failure[:300]}", file=out)
        survivors = []
        for name, mutant in catalogues.get(exercise_id, {}).items():
            for _ in range(mutant_runs):
                if check(exercise_id, mutant).status != "failed":
                    survivors.append(name)
                    break
        ok &= not survivors
        total = len(catalogues.get(exercise_id, {}))
        print(f"{'':22} mutants failed   {total - len(survivors):2}/{total}"
              + (f"  survived: {', '.join(survivors)}" if survivors else ""), file=out)  # fmt: skip
        out.flush()
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20, help="checks of each solution (default 20)")
    p.add_argument("--mutant-runs", type=int, default=1, help="checks of each mutant (default 1)")
    p.add_argument("--only", nargs="*", default=None, help="exercise ids (default: all)")
    p.add_argument("--no-hog", action="store_true", help="leave the machine idle")
    args = p.parse_args(argv)
    exercises = [e.id for e in catalog.exercises()]
    if args.only:
        unknown = sorted(set(args.only) - set(exercises))
        if unknown:
            p.error(f"unknown exercise ids {unknown}; known: {', '.join(exercises)}")
        exercises = [e for e in exercises if e in args.only]
    hogs = 0 if args.no_hog else os.cpu_count() or 1
    print(f"{len(exercises)} exercises, {args.runs} runs of each solution, {args.mutant_runs} of each mutant, "
          f"beside {hogs} CPU hog process(es)")  # fmt: skip
    started = time.perf_counter()
    with cpu_hog(hogs):
        ok = soak(exercises, args.runs, args.mutant_runs)
    print(f"{'stable' if ok else 'UNSTABLE'} ({time.perf_counter() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
