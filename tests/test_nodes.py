import pytest

from minicluster.clock import ManualClock
from minicluster.errors import ConfigError, NodeDown
from minicluster.faults import Nemesis
from minicluster.nodes import Health, Node


def test_health_follows_faults():
    clock = ManualClock()
    node = Node("web1", clock=clock)
    nemesis = Nemesis(clock)
    assert node.health is Health.UP
    nemesis.slow(node, 10)
    assert node.health is Health.SLOW
    node.work(0.01)
    assert clock.now() == pytest.approx(0.1), "a node slowed 10x takes 10x the service time"
    nemesis.restore(node)
    nemesis.crash(node)
    assert node.health is Health.DOWN
    with pytest.raises(NodeDown, match="'web1' is down"):
        node.ensure_up()
    nemesis.recover(node)
    node.ensure_up()
    assert [(e.action, e.target) for e in nemesis.events] == [
        ("slow", "web1"),
        ("restore", "web1"),
        ("crash", "web1"),
        ("recover", "web1"),
    ]


def test_bad_fault_parameters_are_named():
    node = Node("db")
    with pytest.raises(ConfigError, match="0.5"):
        node.slow(0.5)
    with pytest.raises(ConfigError, match="name"):
        Node("")
    with pytest.raises(ConfigError, match="-1"):
        Nemesis().schedule([(-1, lambda: None)])
