"""Stage 5's experiments: each claim the notebook makes, measured here with the same functions."""

import pytest

from minicluster.stages import cache_cdn as stage


def test_a_bigger_cache_hits_more_and_lfu_beats_fifo_on_zipf_keys():
    ratio = stage.hit_ratio_by_size((20, 100, 500), requests=1500)["ratio"]
    for policy in ("LRU", "LFU", "FIFO"):
        assert ratio[policy][20] < ratio[policy][100] < ratio[policy][500]
    assert ratio["LFU"][20] > ratio["LRU"][20] > ratio["FIFO"][20], "small caches: popularity wins"
    again = stage.hit_ratio_by_size((20, 100, 500), requests=1500)["ratio"]
    assert again == ratio, "a replay of a seeded sequence is exact"


def test_a_warm_cache_takes_load_off_the_database():
    rows = {row["cache keys"]: row for row in stage.load_by_size((0, 500), duration=0.5).rows}
    assert rows[500]["hit %"] > 0.5
    assert rows[500]["DB queries/s"] < 0.6 * rows[0]["DB queries/s"]
    assert rows[500]["p50_ms"] < rows[0]["p50_ms"]


def test_a_longer_ttl_hits_more_and_serves_more_stale_names_unless_writes_invalidate():
    short, long_, invalidated = stage.ttl_tradeoff((0.05, 1.0), duration=0.8).rows
    assert long_["hit %"] > short["hit %"] and long_["stale %"] > short["stale %"]
    assert (long_["invalidation"], invalidated["invalidation"]) == (False, True)
    assert invalidated["stale %"] < 0.5 * long_["stale %"]


def test_only_writing_the_database_then_deleting_leaves_no_stale_entry():
    stale = {row["strategy"]: row["stale"] for row in stage.invalidation_race().rows}
    assert stale == {
        "no invalidation": True,
        "delete, then write the database": True,
        "write the database, then delete": False,
        "write-through: the database, then the cache": False,
    }


def test_single_flight_turns_a_herd_of_misses_into_one_query():
    run = stage.stampede(clients=30)
    assert run["cache-aside"] >= 20 and run["single flight"] <= 2
    assert all(row["errors"] == 0 for row in run.rows)


def test_the_database_takes_the_load_while_the_cache_is_down_and_nothing_fails():
    run = stage.cache_crash(duration=1.6, crash_at=0.5, recover_at=1.0)
    assert run["failed"] == 0
    before = [r["DB queries/s"] for r in run.rows if r["t s"] < 0.5]
    during = [r["DB queries/s"] for r in run.rows if 0.7 <= r["t s"] <= 1.0]
    assert max(before) < 50 < min(during), "a warm cache answers; a dead one sends everything to the database"
    assert [e.action for e in run.timeline] == ["crash", "recover"]


def test_data_written_only_to_the_cache_dies_with_it():
    kept = {row["strategy"]: row["survive a cache crash"] for row in stage.volatile(updates=20).rows}
    assert kept == {"cache only": 0, "database, then cache": 20}


def test_more_cache_nodes_hold_more_and_share_the_requests():
    rows = stage.cache_tier((1, 2, 4), requests=1500).rows
    assert rows[0]["hit %"] < rows[1]["hit %"] < rows[2]["hit %"]
    assert rows[2]["busiest node %"] < 0.5


def test_the_cdn_answers_far_users_at_local_latency():
    rows = {row["region"]: row for row in stage.cdn_latency(requests=10).rows}
    assert rows["ap"]["origin only ms"] == pytest.approx(160) and rows["ap"]["via CDN ms"] == pytest.approx(10)
    assert all(row["to origin"] == 1 and row["CDN hits"] == 9 for row in rows.values())


def test_edges_down_fall_back_to_the_nearest_edge_then_the_origin():
    served = {(r["phase"], r["user region"]): r["served by"] for r in stage.cdn_outage().rows}
    assert served[("edge-eu down", "eu")] == "edge-us"
    assert {served[("every edge down", r)] for r in stage.REGIONS} == {"static"}


def test_versioned_urls_serve_no_stale_file_and_a_purge_fewer_than_the_ttl():
    stale = {row["strategy"]: row["stale (v1)"] for row in stage.deploy().rows}
    assert stale["versioned URL"] == 0 < stale["invalidation API"] < stale["TTL only"]
