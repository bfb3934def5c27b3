import pytest

from minicluster.clock import ManualClock
from minicluster.errors import ConfigError, NetworkPartition
from minicluster.network import Network


def test_hop_waits_the_link_latency():
    clock = ManualClock()
    net = Network(clock=clock, default_latency=0.001)
    net.set_latency("client", "server1", 0.040)
    assert net.hop("client", "server1") == pytest.approx(0.040)
    assert net.hop("server1", "db") == pytest.approx(0.001)
    assert net.hop("server1", "server1") == 0.0
    assert clock.now() == pytest.approx(0.041)


def test_jitter_is_seeded():
    a = Network(seed=7, clock=ManualClock(), jitter=0.01)
    b = Network(seed=7, clock=ManualClock(), jitter=0.01)
    c = Network(seed=8, clock=ManualClock(), jitter=0.01)
    sa = [a.latency("x", "y") for _ in range(20)]
    assert sa == [b.latency("x", "y") for _ in range(20)]
    assert sa != [c.latency("x", "y") for _ in range(20)]
    assert all(0.0005 <= v <= 0.0105 for v in sa)


def test_partition_cuts_both_directions_until_healed():
    net = Network(clock=ManualClock())
    net.partition("web", "db")
    with pytest.raises(NetworkPartition, match="'db' cannot reach 'web'"):
        net.hop("db", "web")
    net.heal("web", "db")
    net.hop("web", "db")


def test_bad_latency_is_named():
    with pytest.raises(ConfigError, match="-0.1"):
        Network().set_latency("a", "b", -0.1)
    with pytest.raises(ConfigError, match="'a' twice"):
        Network().set_latency("a", "a", 0.1)
