import threading

from minicluster.workbook.interleave import Interleaver, is_learner_code, steps


class RacyCounter:
    def __init__(self):
        self.value = 0

    def add(self):
        self.value = self.value + 1


class LockedCounter(RacyCounter):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def add(self):
        with self.lock:
            self.value = self.value + 1


def test_a_one_line_read_modify_write_loses_an_update_every_time():
    for _ in range(5):
        counter = RacyCounter()
        Interleaver().run(counter.add, counter.add)
        assert counter.value == 1


def test_a_lock_makes_it_exact_without_deadlock():
    counter = LockedCounter()
    Interleaver(patience=0.001).run(counter.add, counter.add)
    assert counter.value == 2


def test_results_and_exceptions_come_back_in_order():
    def boom():
        raise KeyError("x")

    first, second = Interleaver().run(lambda: 1, boom)
    assert first == 1 and isinstance(second, KeyError)


def test_only_learner_code_is_traced():
    assert is_learner_code(__file__)
    assert not is_learner_code(threading.__file__)
    import minicluster.balancers

    assert not is_learner_code(minicluster.balancers.__file__)


def _ticker():
    namespace = {}
    source = "def tick(log, who, n):\n    for i in range(n):\n        log.append((who, i))\n"
    exec(compile(source, "<learner>", "exec"), namespace)  # "<...>" code counts as the learner's
    return namespace["tick"]


def test_steps_counts_the_bytecodes_a_call_runs():
    tick = _ticker()
    few, more = steps(lambda: tick([], "a", 5)), steps(lambda: tick([], "a", 10))
    assert 5 < few < more, (few, more)


def test_delay_starts_the_second_call_that_many_bytecodes_into_the_first():
    tick = _ticker()
    whole = steps(lambda: tick([], "a", 10))
    for delay, interleaved in ((0, True), (whole // 2, True), (whole, False)):
        log = []
        Interleaver().run(lambda log=log: tick(log, "a", 10), lambda log=log: tick(log, "b", 10), delay=delay)
        last_a = max(i for i, (who, _) in enumerate(log) if who == "a")
        first_b = min(i for i, (who, _) in enumerate(log) if who == "b")
        assert (first_b < last_a) is interleaved, (delay, log)
    # with half the first call run alone, the second starts about half-way through it
    log = []
    Interleaver().run(lambda: tick(log, "a", 10), lambda: tick(log, "b", 10), delay=whole // 2)
    assert 3 <= sum(1 for who, _ in log[: log.index(("b", 0))] if who == "a") <= 7, log
