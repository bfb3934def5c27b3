"""The CDN: nearest edge, misses to the origin, TTLs, purges, fallback; exact on a manual clock."""

import pytest

from minicluster.cdn import CDN, LOCAL, Origin, region_latency
from minicluster.clock import ManualClock
from minicluster.cluster import Cluster
from minicluster.errors import ConfigError


@pytest.fixture
def cdn():
    with Cluster(seed=1, clock=ManualClock()) as cluster:
        origin = Origin("static", "us", host="origin-us", clock=cluster.clock)
        cluster._add(origin)
        origin.deploy("/app.js", "v1 body")
        yield CDN(cluster, origin, ("us", "eu", "ap"), ttl=60)


def test_a_miss_crosses_to_the_origin_and_the_next_fetch_is_a_local_hit(cdn):
    first = cdn.get("eu", "/app.js")
    assert (first.served_by, first.hit, first.body) == ("edge-eu", False, "v1 body")
    assert first.seconds == pytest.approx(2 * LOCAL + 2 * region_latency("eu", "us"))
    second = cdn.get("eu", "/app.js")
    assert second.hit and second.seconds == pytest.approx(2 * LOCAL)
    assert cdn.origin.metrics.counter("requests").value == 1


def test_copies_expire_after_the_ttl(cdn):
    cdn.get("ap", "/app.js")
    cdn.origin.deploy("/app.js", "v2 body")
    cdn.cluster.clock.advance(59)
    assert cdn.get("ap", "/app.js").version == 1, "still within the TTL: the old copy"
    cdn.cluster.clock.advance(2)
    assert cdn.get("ap", "/app.js").version == 2


def test_a_purge_reaches_the_edges_one_after_another(cdn):
    for region in ("us", "eu", "ap"):
        cdn.get(region, "/app.js")
    cdn.origin.deploy("/app.js", "v2 body")
    cdn.invalidate("/app.js", propagation=10)
    # edges purge in region order: ap at once, eu after 10 s, us after 20 s
    assert [cdn.get(r, "/app.js").version for r in ("ap", "eu", "us")] == [2, 1, 1]
    cdn.cluster.clock.advance(10)
    assert [cdn.get(r, "/app.js").version for r in ("eu", "us")] == [2, 1]
    cdn.cluster.clock.advance(10)
    assert cdn.get("us", "/app.js").version == 2


def test_a_dead_edge_sends_its_users_to_the_nearest_edge_up_then_to_the_origin(cdn):
    cdn.cluster.nemesis.crash(cdn.edges["eu"])
    assert cdn.get("eu", "/app.js").served_by == "edge-us"
    for edge in cdn.edges.values():
        cdn.cluster.nemesis.crash(edge)
    fetched = cdn.get("ap", "/app.js")
    assert fetched.served_by == "static" and fetched.seconds == pytest.approx(2 * region_latency("ap", "us"))
    text = cdn.cluster.diagram().text
    assert "client -> edge-ap: static files (ap) (stopped)" in text


def test_regions_and_paths_are_checked(cdn):
    with pytest.raises(ConfigError, match="no latency between regions 'us' and 'mars'"):
        region_latency("us", "mars")
    with pytest.raises(ConfigError, match="a path starts with '/', got 'app.js'"):
        cdn.origin.deploy("app.js", "x")
    with pytest.raises(ConfigError, match="the origin has no file '/missing.js'"):
        cdn.get("us", "/missing.js")
