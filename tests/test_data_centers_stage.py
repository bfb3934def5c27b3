"""Stage 7's experiments: each claim the notebook makes, computed here with the same functions."""

import pytest

from minicluster.stages import data_centers as stage


def test_a_region_near_the_users_cuts_their_latency_to_the_local_one():
    rows = {row["deployed"]: row for row in stage.latency_by_regions().rows}
    assert rows["us"]["ap users ms"] == pytest.approx(180)
    assert rows["us+eu+ap"]["ap users ms"] == pytest.approx(30) == rows["us+eu+ap"]["eu users ms"]


def test_replication_turns_a_region_outage_into_a_short_one_with_a_few_writes_lost():
    rows = {row["setting"]: row for row in stage.region_outage().rows}
    assert rows["no replication"]["RTO s"] == float("inf") and rows["no replication"]["availability after %"] < 0.6
    assert rows["async replication"]["RTO s"] <= 3 and 0 < rows["async replication"]["writes lost"] < 30


def test_longer_dns_caches_send_more_requests_to_a_dead_region():
    sent = [row["sent to the dead region"] for row in stage.dns_caching().rows]
    assert sent == sorted(sent) and sent[0] < sent[-1]


def test_only_a_pre_scaled_evacuation_meets_four_nines():
    rows = {row["setting"]: row for row in stage.evacuation().rows}
    assert rows["pre-scaled"]["meets 99.99%"] and rows["pre-scaled"]["shed"] == 0
    assert not rows["no pre-scaling"]["meets 99.99%"] and rows["no pre-scaling"]["shed"] > 0


def test_a_canary_region_limits_a_bad_release():
    rows = {row["deploy"]: row for row in stage.deploy_by_region().rows}
    assert rows["one region first"]["failed requests"] < rows["all regions at once"]["failed requests"]


def test_availability_arithmetic():
    run = stage.nines()
    assert [row["per year"] for row in run.rows] == ["3.7 d", "8.8 h", "52.6 min", "5.3 min"]
    assert run["serial"] == pytest.approx(0.998001) and run["parallel"] == pytest.approx(0.999999)


def test_health_checks_in_geodns_keep_users_away_from_the_dead_region():
    rows = {row["resolver"]: row["availability after %"] for row in stage.resolvers().rows}
    assert rows["nearest healthy"] > rows["nearest"]


def test_replicated_invalidations_close_the_stale_window_a_ttl_leaves_open():
    rows = {(row["strategy"], row["region"]): row for row in stage.cross_region_caches().rows}
    for region in ("eu", "ap"):
        assert rows[("invalidations replicated", region)]["last stale read s"] < 0.5
        assert (
            rows[("TTL only", region)]["stale reads"] > 10 * rows[("invalidations replicated", region)]["stale reads"]
        )
