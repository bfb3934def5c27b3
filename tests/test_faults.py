import threading

from minicluster.clock import ManualClock, RealClock
from minicluster.faults import Nemesis
from minicluster.nodes import Node


def test_context_managers_undo_the_fault():
    nemesis = Nemesis(ManualClock())
    node = Node("db")
    with nemesis.crashed(node):
        assert not node.is_up
    assert node.is_up
    with nemesis.slowed(node, 3):
        assert node.slowdown == 3
    assert node.slowdown == 1


def test_schedule_applies_steps_in_time_order():
    clock = ManualClock()
    nemesis = Nemesis(clock)
    node = Node("web1", clock=clock)
    schedule = nemesis.schedule([(2.0, lambda: nemesis.recover(node)), (1.0, lambda: nemesis.crash(node))])
    schedule.join()
    assert [(e.action, e.at) for e in nemesis.events] == [("crash", 1.0), ("recover", 2.0)]
    assert node.is_up


def test_cancelled_schedule_applies_nothing_more():
    nemesis = Nemesis(RealClock())
    fired = threading.Event()
    schedule = nemesis.schedule([(3600, fired.set)])
    schedule.cancel()
    assert not fired.is_set()
