import threading

import pytest

from minicluster.workbook import CheckResult, LearnerFileError, UnknownExercise, check, exercises, load, trees
from minicluster.workbook.checks.base import Checker, Failure
from minicluster.workbook.runner import LearnerTimeout, call_with_timeout


def test_unknown_exercise_is_one_clear_line():
    with pytest.raises(UnknownExercise) as info:
        check("01.handlr", lambda r, db: None)
    assert str(info.value) == "no exercise '01.handlr'; did you mean '01.handler'?"
    assert info.value._render_traceback_() == ["UnknownExercise: no exercise '01.handlr'; did you mean '01.handler'?"]
    with pytest.raises(UnknownExercise, match="known: 01.handler, 01.capacity"):
        check("zzz")


def test_learner_exception_names_the_input():
    def broken(request, db):
        raise RuntimeError("oops")

    result = check("01.handler", broken)
    assert result.status == "failed"
    assert result.messages == ("GET /users/1: your code raised RuntimeError: oops (at tests/test_workbook.py line 21)",)


def test_runaway_learner_code_is_stopped():
    spinning = threading.Event()
    finished = threading.Event()

    def spin():
        spinning.set()
        try:
            while True:
                pass
        finally:
            finished.set()

    with pytest.raises(LearnerTimeout, match="within 0.2 s"):
        call_with_timeout(spin, timeout=0.2)
    assert spinning.is_set()
    assert finished.wait(5), "the runaway thread is interrupted, not left spinning"


def test_call_with_timeout_returns_and_reraises():
    assert call_with_timeout(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(KeyError):
        call_with_timeout(lambda: {}["x"])


def test_timeout_becomes_a_failure_message():
    class Quick(Checker):
        exercise_id = "demo"
        call_timeout = 0.2

        def verify(self, fn):
            self.call(fn, on="demo(1)")
            return ["ok"]

    def forever():
        while True:
            pass

    result = Quick().check(forever)
    assert result.status == "failed"
    assert result.messages[0].startswith("demo(1): your code did not return within 0.2 s")


def test_result_renders_for_terminal_and_notebook():
    r = CheckResult("01.handler", "failed", ("GET /users/1: status 500",))
    assert str(r) == "❌ 01.handler: failed\n   GET /users/1: status 500"
    assert r._repr_markdown_().startswith("**❌ `01.handler`: failed**")
    assert not r.passed


def test_broken_learner_file_is_a_failure_with_the_line(tmp_path, monkeypatch):
    exercise = exercises()[0]
    folder = tmp_path / "exercises"
    (folder / exercise.path).parent.mkdir(parents=True)
    (folder / exercise.path).write_text("def get_user(request, db)\n    return 1\n")
    result = check(exercise.id, tree=str(folder))
    assert result.status == "failed"
    assert "line 1" in result.messages[0] and "handler.py" in result.messages[0]
    (folder / exercise.path).write_text("def renamed(request, db):\n    return 1\n")
    with pytest.raises(LearnerFileError, match="has no 'get_user'"):
        load(exercise.id, tree=str(folder))
    (folder / exercise.path).unlink()
    assert "is missing" in check(exercise.id, tree=str(folder)).messages[0]


def test_checker_failure_stops_at_the_first_problem():
    class Two(Checker):
        exercise_id = "demo"

        def verify(self, fn):
            raise Failure("first")

    assert Two().check(None).messages == ("first",)


def test_stub_source_replaces_bodies_and_drops_private_helpers():
    source = '''"""Module doc."""

import json

LIMIT = 3


def _helper(x):
    return x * 2


class Policy:
    """A policy."""

    def __init__(self, n):
        self.n = n

    def _secret(self):
        return 1

    def choose(self, items):
        """Pick one."""
        # a comment that gives the answer away
        return items[0]


def solve(a):
    """Solve it."""
    return _helper(a)
'''
    stub = trees.stub_source(source, "99.demo")
    assert "_helper" not in stub and "_secret" not in stub and "gives the answer" not in stub
    assert "return" not in stub
    assert stub.count("raise NotImplementedError") == 3
    assert '"""Pick one."""\n        # TODO: write this' in stub
    assert "LIMIT = 3" in stub and "import json" in stub
    assert "minicluster check 99.demo" in stub
    compile(stub, "stub", "exec")


def test_an_abandoned_learner_thread_does_not_slow_the_others():
    from minicluster.workbook.interleave import Interleaver

    from .test_interleave import RacyCounter

    never = threading.Lock()
    never.acquire()
    with pytest.raises(LearnerTimeout):
        call_with_timeout(never.acquire, timeout=0.1, grace=0.1)  # blocked in C: cannot be interrupted
    # A withdrawn-but-pending async exception would leave CPython's eval breaker raised for every
    # thread, and bytecode-by-bytecode interleaving would crawl past its timeout.
    counter = RacyCounter()
    Interleaver(timeout=5).run(counter.add, counter.add)
    assert counter.value == 1


def test_stub_source_leaves_a_value_marked_yours_to_choose_to_the_learner():
    source = 'LIMIT = 3  # yours to choose\nOTHER = 4\n\n\ndef f(x=LIMIT):\n    """Doc."""\n    return x\n'
    stub = trees.stub_source(source, "01.demo")
    assert "LIMIT = None  # TODO: yours to choose" in stub and "OTHER = 4" in stub and "3" not in stub
