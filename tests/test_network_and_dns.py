import pytest

from minicluster.clock import ManualClock
from minicluster.dns import DNS, Resolver
from minicluster.errors import ConfigError, NetworkPartition, UnknownHost
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


def test_dns_round_robin_and_unknown_host():
    dns = DNS()
    dns.register("api.mysite.com", "203.0.113.10", "203.0.113.11")
    assert [dns.resolve("API.mysite.com") for _ in range(3)] == ["203.0.113.10", "203.0.113.11", "203.0.113.10"]
    with pytest.raises(UnknownHost, match="'www.mysite.com'.*api.mysite.com"):
        dns.resolve("www.mysite.com")
    with pytest.raises(ConfigError, match="needs at least one address"):
        dns.register("x.com")


def test_resolver_caches_until_the_ttl_runs_out():
    clock = ManualClock()
    dns = DNS(ttl=60, clock=clock)
    dns.register("api.mysite.com", "203.0.113.10")
    resolver = Resolver(dns)
    assert resolver.resolve("api.mysite.com") == "203.0.113.10"
    dns.register("api.mysite.com", "203.0.113.99")
    clock.advance(59)
    assert resolver.resolve("api.mysite.com") == "203.0.113.10", "a cached answer outlives the change"
    clock.advance(2)
    assert resolver.resolve("api.mysite.com") == "203.0.113.99"
    assert dns.lookups == 2
