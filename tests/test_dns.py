import pytest

from minicluster.clock import ManualClock
from minicluster.dns import DNS, Resolver
from minicluster.errors import ConfigError, UnknownHost


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
