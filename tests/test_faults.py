import threading

import pytest

from minicluster import Cluster
from minicluster.clock import ManualClock, RealClock
from minicluster.errors import ConfigError, NetworkPartition
from minicluster.faults import Crash, Nemesis, Partition, Slow
from minicluster.network import Network
from minicluster.nodes import Node
from minicluster.timeline import Timeline


def test_injected_faults_heal_on_the_way_out():
    nemesis = Nemesis(ManualClock())
    node = Node("db")
    with nemesis.injected(Crash(node)):
        assert not node.is_up
    assert node.is_up
    with nemesis.injected(Slow(node, 3)):
        assert node.slowdown == 3
    assert node.slowdown == 1
    assert [(e.kind, e.action) for e in nemesis.events] == [
        ("fault", "crash"),
        ("heal", "recover"),
        ("fault", "slow"),
        ("heal", "restore"),
    ]


def test_heal_puts_back_what_was_there_before():
    node = Node("db")
    nemesis = Nemesis()
    node.slow(2)
    with nemesis.injected(Slow(node, 10)):
        assert node.slowdown == 10
    assert node.slowdown == 2, "healing a slowdown restores the speed the node had, not 'normal'"


def test_a_plain_function_is_a_fault():
    flushed, healed = [], []

    def flush_cache():
        flushed.append(True)
        return lambda: healed.append(True)

    nemesis = Nemesis()
    injected = nemesis.inject(flush_cache)
    injected.heal()
    injected.heal()  # twice does nothing more
    assert flushed == [True] and healed == [True]
    assert [(e.action, e.kind) for e in nemesis.events] == [("flush_cache", "fault"), ("heal", "heal")]


def test_a_fault_must_hand_back_its_heal():
    with pytest.raises(ConfigError, match="heal"):
        Nemesis().inject(lambda: None)
    with pytest.raises(ConfigError, match="'web'"):
        Nemesis().crash("web")
    with pytest.raises(ConfigError, match="no crash in force on 'db'"):
        Nemesis().recover(Node("db"))


def test_partition_cuts_both_ways_and_heals():
    network = Network()
    nemesis = Nemesis(network=network)
    nemesis.partition("web1", "db1")
    for a, b in (("web1", "db1"), ("db1", "web1")):
        with pytest.raises(NetworkPartition):
            network.hop(a, b)
    network.hop("web1", "web2")
    nemesis.reconnect("db1", "web1")
    network.hop("web1", "db1")
    assert [(e.action, e.target) for e in nemesis.events] == [("partition", "web1<->db1"), ("heal", "web1<->db1")]
    with pytest.raises(ConfigError, match="twice"):
        Partition(network, "a", "a")


def test_a_partition_scheduled_through_the_nemesis_shows_in_the_cluster_timeline():
    clock = ManualClock()
    with Cluster(clock=clock) as cluster:
        web = cluster.add_web_server("web", lambda request, ctx: None, host="web1")
        plan = cluster.nemesis.schedule([(1.0, 2.0, Partition(cluster.network, "web1", "db1")), (0.5, Crash(web))])
        plan.join()
        events = [(e.at, e.kind, e.action, e.target) for e in cluster.timeline]
    assert events == [
        (0.5, "fault", "crash", "web"),
        (1.0, "fault", "partition", "web1<->db1"),
        (3.0, "heal", "heal", "web1<->db1"),
    ]
    assert not cluster.network.is_partitioned("web1", "db1")


def test_schedule_applies_steps_in_time_order():
    clock = ManualClock()
    nemesis = Nemesis(clock)
    node = Node("web1", clock=clock)
    schedule = nemesis.schedule([(2.0, lambda: nemesis.recover(node)), (1.0, lambda: nemesis.crash(node))])
    schedule.join()
    assert [(e.action, e.at) for e in nemesis.events] == [("crash", 1.0), ("recover", 2.0)]
    assert node.is_up


def test_a_step_that_raises_stops_the_plan_and_join_raises_it():
    clock = ManualClock()
    nemesis = Nemesis(clock)
    node = Node("web1", clock=clock)

    def broken():
        raise KeyError("no such replica")

    schedule = nemesis.schedule([(1.0, broken), (2.0, lambda: nemesis.crash(node))])
    with pytest.raises(KeyError, match="no such replica"):
        schedule.join()
    assert node.is_up, "the steps after the failed one do not run"


def test_cancelled_schedule_applies_nothing_more():
    nemesis = Nemesis(RealClock())
    fired = threading.Event()
    schedule = nemesis.schedule([(3600, fired.set)])
    schedule.cancel()
    assert not fired.is_set()


def test_bad_plan_steps_are_named():
    nemesis = Nemesis()
    with pytest.raises(ConfigError, match="'soon'"):
        nemesis.schedule([("soon", lambda: None)])
    with pytest.raises(ConfigError, match="42"):
        nemesis.schedule([(1.0, 42)])
    with pytest.raises(ConfigError, match="-2"):
        nemesis.schedule([(1.0, -2, Crash(Node("x")))])


def test_timeline_waits_for_an_event_without_sleeping():
    timeline = Timeline()
    seen = []
    waiter = threading.Thread(target=lambda: seen.append(timeline.wait_for("eject", "web1", timeout=30)))
    waiter.start()
    timeline.record("reaction", "eject", "web1", source="lb")
    waiter.join()
    assert seen[0].source == "lb"
    with pytest.raises(ConfigError, match="'oops'"):
        timeline.record("oops", "x", "y", source="z")
