"""One check in a fresh interpreter: ``python -m minicluster.workbook.child EXERCISE RESULT_FILE``.

``minicluster check`` runs each exercise here, so that whatever the learner's code does — starts a
thread that never ends, calls ``sys.exit`` or ``os._exit``, loops forever in C, patches the checker —
ends with this process and cannot touch the next check or the verdict the parent prints. The verdict
goes to RESULT_FILE as JSON; the parent records progress from it, and treats a missing file (the
process ended early) or a process that outlives its time as a failed check.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path


def left_running() -> list[threading.Thread]:
    """Non-daemon threads still alive besides this one: they would keep a normal program from exiting.

    Idle workers of a ``ThreadPoolExecutor`` are not counted: a pool kept between calls is a fair design,
    and its threads end when the interpreter does.
    """
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread()
        and not t.daemon
        # Thread keeps its target in _target while it runs: a pool's worker loop lives in this module.
        and getattr(getattr(t, "_target", None), "__module__", "") != "concurrent.futures.thread"
    ]


def main(argv: list[str]) -> None:
    exercise_id, result_file = argv
    # Progress is the parent's to record: a check in here must not write it.
    os.environ["MINICLUSTER_STATE"] = str(Path(tempfile.mkdtemp(prefix="minicluster-child-")) / "progress.json")
    from . import check

    result = check(exercise_id, tree="exercises")
    status, messages = result.status, list(result.messages)
    threads = left_running()
    if threads and status != "not_attempted":
        note = (
            f"your code left a thread running after the check ({threads[0].name}): join the threads you start, "
            "or make them daemon threads"
        )
        messages = [note] if status == "passed" else [*messages[:1], note]
        status = "failed"
    Path(result_file).write_text(json.dumps({"status": status, "messages": messages}), encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave now: a thread the learner's code left running must not keep the process (and the grader) alive.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
