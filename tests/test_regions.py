"""The world of regions: GeoDNS, capacity, DNS caches, outages, failover of data, evacuation."""

import pytest

from minicluster.cluster import Cluster
from minicluster.errors import ConfigError
from minicluster.regions import (
    NoHealthyRegion,
    RegionView,
    World,
    availability_after,
    nearest,
    nearest_healthy,
    recovery_time,
)

USERS = {"us": 150.0, "eu": 100.0, "ap": 50.0}


def test_each_user_is_served_by_the_nearest_region_at_its_latency():
    with World({"eu": 50.0}, capacity=1000.0, write_share=0.0) as world:
        world.run(1.0)
        assert {round(x, 3) for s in world.seconds for x in s.latencies} == {0.03}, "2 x 5 ms + 20 ms of service"
    with World({"ap": 50.0}, deployed=("us",), capacity=1000.0, write_share=0.0) as world:
        world.run(1.0)
        assert {round(x, 3) for s in world.seconds for x in s.latencies} == {0.18}, "2 x 80 ms + 20 ms"


def test_a_region_over_its_capacity_sheds_the_rest():
    with World({"eu": 300.0}, capacity=200.0, write_share=0.0, resolver=nearest) as world:
        world.run(2.0)
        assert [s.ok for s in world.seconds] == [200, 200] and [s.shed for s in world.seconds] == [100, 100]


def test_runs_are_exact_and_writes_are_real_rows_copied_to_other_regions():
    def run():
        with World(USERS, capacity=300.0, replication_lag=0.2) as world:
            world.run(3.0)
            copies = {r: m.rows() for r, m in world.data["us"].items()}
            return [(s.sent, s.ok) for s in world.seconds], len(world.acknowledged), copies

    first, second = run(), run()
    assert first == second, "a World on a manual clock repeats exactly"
    _, writes, copies = first
    assert writes > 0 and len(copies["us"]) > len(copies["eu"]) > 0, "the copies trail the primary by the lag"


def test_an_outage_without_replication_leaves_the_regions_users_without_their_data():
    with World(USERS, capacity=300.0, replication_lag=None) as world:
        world.run(6.0, {2.0: lambda: world.fail("us")})
        assert availability_after(world.seconds, 3.0) == pytest.approx(0.5)
        assert sum(s.no_data for s in world.seconds) > 0
        assert recovery_time(world.seconds, 2.0) == float("inf")


def test_with_replication_a_failover_restores_service_and_loses_the_writes_of_the_lag():
    with World(USERS, capacity=300.0, replication_lag=0.5) as world:
        lost = []
        world.run(8.0, {2.0: lambda: world.fail("us"), 2.5: lambda: lost.append(world.fail_over("us"))})
        assert world.primary_of["us"] in ("eu", "ap") and 0 < lost[0] < 30
        assert recovery_time(world.seconds, 2.0) <= 3.0
        events = [e.action for e in world.cluster.timeline.events()]
        assert events == ["region outage", "fail over data"]


def test_clients_keep_sending_to_a_dead_region_until_their_dns_cache_expires():
    sent = {}
    for ttl in (0.0, 3.0):
        with World(USERS, capacity=300.0, dns_ttl=ttl, detect=0.0) as world:
            world.run(6.0, {2.0: lambda w=world: w.fail("us")})
            sent[ttl] = sum(s.to_dead_region for s in world.seconds)
    assert sent[0.0] == 0 < sent[3.0]


def test_evacuating_moves_users_and_added_capacity_arrives_after_its_boot():
    with World(USERS, capacity={"us": 200.0, "eu": 130.0, "ap": 70.0}, dns_ttl=0.0) as world:
        world.run(5.0, {1.0: lambda: world.evacuate("us"), 1.5: lambda: world.add_capacity("eu", 150.0, boot=2.0)})
        shed = [s.shed for s in world.seconds]
        assert shed[0] == 0 and shed[1] > 0 and shed[-1] == 0, "overloaded until the new capacity booted"
        assert world.regions["eu"].capacity == 280.0 and world.regions["us"].up


def test_the_shipped_resolvers_and_bad_input():
    regions = [RegionView("us", False, 0, 100), RegionView("eu", True, 0, 100)]
    from minicluster.cdn import region_latency

    assert nearest("us", regions, region_latency).name == "us"
    assert nearest_healthy("us", regions, region_latency).name == "eu"
    with pytest.raises(NoHealthyRegion):
        nearest_healthy("us", [regions[0]], region_latency)
    with pytest.raises(ConfigError, match="no region 'mars'"):
        World({"mars": 1.0})
    with pytest.raises(ConfigError, match="a resolver has choose"):
        World(USERS, resolver=42)
    with Cluster(seed=1) as cluster, World(USERS, cluster=cluster) as world:
        with pytest.raises(ConfigError, match="a World runs on a ManualClock"):
            world.run(1.0)


def test_the_diagram_shows_regions_and_the_copies_that_stopped():
    with World(USERS, capacity=300.0) as world:
        world.fail("eu")
        text = world.diagram().text
        assert "client -> web-eu: GeoDNS: users near eu (stopped)" in text
        assert "us-data-in-us -> us-data-in-eu: async copy (stopped)" in text
        assert "us-data-in-us -> us-data-in-ap: async copy" in text
