import threading

from minicluster.workbook.interleave import Interleaver, is_learner_code


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
