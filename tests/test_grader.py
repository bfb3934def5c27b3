"""The grader cannot be hung, crashed or bypassed by the code it grades.

Each learner file below is a reproducer from the issue "The grader can't be hung, crashed or
bypassed": through ``minicluster check`` (one child process per check) and through ``check()`` in this
process (what a notebook does).
"""

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from minicluster.workbook import check, runner
from minicluster.workbook.checks.stage01.capacity import CapacityCheck

ROOT = Path(__file__).resolve().parents[1]

CORRECT = """
def capacity(workers, service_time_s, think_time_s=0.0, db_qps=None):
    top = workers / service_time_s if db_qps is None else min(workers / service_time_s, db_qps)
    return top, top * (service_time_s + think_time_s)
"""

LEARNER_FILES = {
    "loops forever": "def capacity(workers, service_time_s, think_time_s=0.0):\n    while True:\n        pass\n",
    "exits with 0 from the function": "import sys\n\ndef capacity(*args):\n    sys.exit(0)\n",
    "exits with 0 at import": "import sys\nsys.exit(0)\n" + CORRECT,
    "ends the process": "import os\n\ndef capacity(*args):\n    os._exit(0)\n",
    "leaves a non-daemon thread": "import threading\n"
    "threading.Thread(target=threading.Event().wait, name='forever').start()\n" + CORRECT,
    "patches the checker": "from minicluster.workbook.checks.stage01.capacity import CapacityCheck\n"
    "CapacityCheck.verify = lambda self, impl: ['all good']\n"
    "def capacity(*args):\n    return 0, 0\n",
    "swallows the stop request": "def capacity(*args):\n    while True:\n        try:\n"
    "            while True:\n                pass\n        except BaseException:\n            pass\n",
}


def _cli_check(workbook, source):
    (workbook / "exercises" / "01_single_server" / "capacity.py").write_text(source)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "minicluster", "check", "01.capacity"],
        capture_output=True,
        text=True,
        timeout=CapacityCheck.time_limit + 30,
        check=False,
    )
    return done, time.perf_counter() - started


@pytest.mark.parametrize("name", LEARNER_FILES)
def test_the_cli_gives_a_failed_verdict_and_a_nonzero_exit(workbook, name):
    done, took = _cli_check(workbook, LEARNER_FILES[name])
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "❌ 01.capacity: failed" in done.stdout, done.stdout
    # The longest legitimate wait is the 5 s call timeout plus the 2 s grace to stop the code.
    assert took < CapacityCheck.call_timeout + 2 + 8, f"{took:.1f} s"


def test_the_cli_says_what_the_process_did(workbook):
    done, _ = _cli_check(workbook, LEARNER_FILES["ends the process"])
    assert "ended the process (exit code 0)" in done.stdout
    done, _ = _cli_check(workbook, LEARNER_FILES["leaves a non-daemon thread"])
    assert "left a thread running after the check (forever)" in done.stdout
    done, _ = _cli_check(workbook, LEARNER_FILES["patches the checker"])
    assert "replaced part of the checker (checks.stage01.capacity.CapacityCheck.verify)" in done.stdout
    done, _ = _cli_check(workbook, CORRECT)
    assert done.returncode == 0 and "✅ 01.capacity: passed" in done.stdout


def test_a_child_that_never_answers_is_killed_at_the_time_limit(workbook, monkeypatch):
    """A process stopped by its own code (SIGSTOP: no timeout inside it can run) is killed, group and
    all, once the check's time limit passes, and the verdict says so; a check that ends is read at once."""
    from minicluster.workbook import catalog, cli

    (workbook / "exercises" / "01_single_server" / "capacity.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n" + CORRECT
    )
    monkeypatch.setattr(CapacityCheck, "time_limit", 2.0)
    exercise = catalog.get("01.capacity")
    started = time.perf_counter()
    result = cli.check_in_child(exercise)
    took = time.perf_counter() - started
    assert result.status == "failed", result
    assert "did not finish within 2 s" in result.messages[0]
    assert 2.0 <= took < 2.0 + 5, f"{took:.1f} s"  # generous bounds: killed at the limit, not later
    (workbook / "exercises" / "01_single_server" / "capacity.py").write_text(CORRECT)
    assert cli.check_in_child(exercise).status == "passed"


def test_system_exit_and_keyboard_interrupt_are_failures_in_process():
    for error in ("SystemExit(0)", "KeyboardInterrupt()"):
        namespace = {}
        exec(f"def capacity(*args):\n    raise {error}\n", namespace)  # noqa: S102
        result = check("01.capacity", namespace["capacity"])
        assert result.status == "failed"
        assert error.split("(")[0] in result.messages[0]


def test_an_exception_names_the_learners_file_and_line(tmp_path):
    source = tmp_path / "mine.py"
    source.write_text("def capacity(*args):\n    table = {}\n    return table['missing']\n")
    namespace = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # noqa: S102
    result = check("01.capacity", namespace["capacity"])
    assert "KeyError: 'missing'" in result.messages[0]
    assert f"{source} line 3" in result.messages[0]


def test_a_thread_that_will_not_stop_poisons_later_checks_until_it_ends():
    stop = threading.Event()

    def stubborn(*args):
        while not stop.is_set():
            try:
                while not stop.is_set():
                    pass
            except BaseException:  # a bare except: the stop request is swallowed
                pass

    result = check("01.capacity", stubborn)
    assert result.status == "failed" and "would not stop" in result.messages[0]
    assert "left a thread running" in result.messages[0]
    later = check("01.capacity", namespace_capacity())
    assert later.status == "failed" and "still running" in later.messages[0]
    stop.set()
    for thread in runner.runaways():
        thread.join(10)
    assert check("01.capacity", namespace_capacity()).status == "passed"


def test_a_checker_patched_in_an_earlier_cell_is_caught(monkeypatch):
    namespace = {}
    exec(compile("def verify(self, impl):\n    return ['ok']\n", "<ipython-input-7-abc>", "exec"), namespace)  # noqa: S102
    monkeypatch.setattr(CapacityCheck, "verify", namespace["verify"])
    result = check("01.capacity", lambda *a: (0, 0))
    assert result.status == "failed" and "CapacityCheck.verify" in result.messages[0]


@pytest.mark.parametrize(
    ("returned", "what"),
    [([1, 2], "a list of ints"), (None, "None"), ((x for x in range(2)), "a generator")],
)
def test_wrong_return_types_are_failures_not_crashes(returned, what):
    result = check("10.paginate", lambda *args, **kwargs: returned)
    assert result.status == "failed", what
    assert len(result.messages) == 1


def namespace_capacity():
    namespace = {}
    exec(textwrap.dedent(CORRECT), namespace)  # noqa: S102
    return namespace["capacity"]


def test_a_ring_on_salted_hash_fails_even_from_the_learners_file(workbook):
    """The fresh-process property used to skip itself for files loaded by the workbook: it runs now.

    It is called directly: a salted ring's balance is a matter of luck (it may fail the balance check
    first, whatever PYTHONHASHSEED this process drew), its owners in another process never are.
    """
    from minicluster.workbook import catalog, trees
    from minicluster.workbook.checks.base import Failure
    from minicluster.workbook.checks.stage10.hash_ring import HashRingCheck

    solution = (workbook / "solutions" / "10_sharding" / "hash_ring.py").read_text()
    salted = solution.replace(
        'return int.from_bytes(hashlib.sha256(str(value).encode()).digest()[:8], "big")',
        "return hash(str(value)) % 2**64",
    )
    assert salted != solution
    (workbook / "exercises" / "10_sharding" / "hash_ring.py").write_text(salted)
    ring_class = trees.load(catalog.get("10.hash_ring"), trees.tree("exercises"))
    ring = ring_class(["shard-a", "shard-b", "shard-c", "shard-d"], 100)
    before = {k: ring.lookup(k) for k in range(20_000)}
    with pytest.raises(Failure, match="fresh Python process"):
        HashRingCheck()._same_in_another_process(ring_class, before)


def test_a_ring_defined_outside_a_file_fails_loudly():
    namespace = {}
    source = (ROOT / "solutions" / "10_sharding" / "hash_ring.py").read_text()
    exec(compile(source, "<ipython-input-3-ring>", "exec"), namespace)  # noqa: S102
    result = check("10.hash_ring", namespace["HashRing"])
    assert result.status == "failed" and "can only be checked for a class in a file" in result.messages[0]


def test_a_paginator_that_retries_forever_gets_a_verdict():
    from minicluster.cursor import InvalidCursor
    from minicluster.workbook import load

    correct = load("10.paginate", tree="solutions")

    def retries_bad_cursors(shards, cursor=None, page_size=20, direction="newest"):
        while True:
            try:
                return correct(shards, cursor, page_size, direction)
            except InvalidCursor:
                continue  # "maybe it works next time"

    def retries_while_a_shard_is_down(shards, cursor=None, page_size=20, direction="newest"):
        while True:
            try:
                return correct(shards, cursor, page_size, direction)
            except InvalidCursor:
                raise
            except Exception:
                continue  # "the shard will be back": retry at once, for ever

    for paginate, words in ((retries_bad_cursors, "garbage cursor"), (retries_while_a_shard_is_down, "down")):
        started = time.perf_counter()
        result = check("10.paginate", paginate)
        assert result.status == "failed" and "did not return within 5 s" in result.messages[0], result
        assert words in result.messages[0]
        assert time.perf_counter() - started < 60


def test_a_policy_that_hangs_only_under_load_gets_a_verdict():
    from minicluster.workbook import load

    release = threading.Event()

    class HangsUnderLoad(load("03.least_connections", tree="solutions")):
        def choose(self, backends, request):
            if threading.current_thread().name.startswith("arrival"):  # the load test's threads only
                release.wait()
            return super().choose(backends, request)

    started = time.perf_counter()
    try:
        result = check("03.least_connections", HangsUnderLoad)
    finally:
        release.set()  # the load test's threads are not daemons: let them end, or pytest cannot exit
    assert result.status == "failed" and "a load test through a balancer" in result.messages[0], result
    assert time.perf_counter() - started < 60


def test_a_page_whose_len_lies_is_a_failure_not_a_memory_error():
    class Liar(list):
        def __len__(self):
            return 2**62

    started = time.perf_counter()
    result = check("10.paginate", lambda shards, cursor=None, page_size=20, direction="newest": (Liar(), None, False))
    assert result.status == "failed" and "list of the shards' Post objects" in result.messages[0]
    assert time.perf_counter() - started < 10


def test_a_validator_that_lets_the_paginators_exception_through_is_told_so():
    from tests.mutants.stage10.validate import raises_instead_of_reporting

    result = check("10.validate", raises_instead_of_reporting)
    assert result.status == "failed"
    assert "the paginator raised InvalidCursor" in result.messages[0], result.messages
    assert "your code raised" not in result.messages[0]
    assert "paginate.py" not in result.messages[0], "no path into the reference or mutant paginators"


def test_grading_a_validator_prints_no_thread_tracebacks_over_the_verdict(capfd):
    from minicluster.workbook import load

    reference = load("10.validate", tree="solutions")

    def validate(paginate, store):
        # a thread of the paginator's side that dies, as a broken paginator's fetch threads do
        dying = threading.Thread(target=lambda: 1 / 0)
        dying.start()
        dying.join()
        return reference(paginate, store)

    result = check("10.validate", validate)
    assert result.status == "passed", result.messages
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ZeroDivisionError" not in err, err[-2000:]


def _on_the_slow_store(reports):
    """The model validator, plus ``reports(calls)``'s report on the correct paginator on the store with
    latency (``calls``: how many times it was graded there so far)."""
    from minicluster.workbook import load

    reference = load("10.validate", tree="solutions")
    calls = []

    def validate(paginate, store):
        slow = any(shard.node.query_time for shard in store.shards)
        if slow and paginate.__name__ == "paginate" and paginate.__module__ != "tests.mutants.stage10.paginate":
            calls.append(1)
            if reports(len(calls)):
                return ["a page took 0.050 s at best: not concurrent"]
        return reference(paginate, store)

    return validate, calls


def test_a_report_on_the_slow_store_counts_once_made_again_alone():
    # graded beside the other stores, a validator's timing can mislead it once; alone, it is believed
    once, calls = _on_the_slow_store(lambda n: n == 1)
    result = check("10.validate", once)
    assert result.status == "passed", result.messages
    assert len(calls) == 2
    always, calls = _on_the_slow_store(lambda n: True)
    result = check("10.validate", always)
    assert result.status == "failed" and len(calls) == 2
    assert "for a correct paginator on 3 posts on 4 shards of 20 ms each" in result.messages[0], result.messages


def test_the_soak_reports_a_stable_exercise_and_fails_on_a_surviving_mutant(capsys):
    import io

    from minicluster.workbook import load, soak

    assert soak.main(["--runs", "2", "--only", "01.handler", "--no-hog"]) == 0
    assert "solution passed  2/2" in capsys.readouterr().out
    # the solution itself posing as a mutant survives its check: the soak must say so and fail
    out = io.StringIO()
    posing = {"01.handler": {"the solution": load("01.handler", "solutions")}}
    assert soak.soak(["01.handler"], 1, 1, out=out, catalogues=posing) is False
    assert "survived: the solution" in out.getvalue()


def test_the_cpu_hog_stops_with_its_block(monkeypatch):
    """Its own processes, followed by their pids: other tests (and other programs) may run hogs of their own."""
    import os

    from minicluster.workbook import soak

    started = []
    popen = soak.subprocess.Popen

    def recorded(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(soak.subprocess, "Popen", recorded)
    with soak.cpu_hog(2):
        assert len(started) == 2 and all(hog.poll() is None for hog in started), "spinning inside the block"
    for hog in started:
        assert hog.returncode is not None, "ended and reaped"
        with pytest.raises(ProcessLookupError):
            os.kill(hog.pid, 0)
