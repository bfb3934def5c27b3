"""Stage 8's experiments: each claim the notebook makes, measured here with the same functions."""

from minicluster.stages import message_queue as stage


def test_a_pool_scaled_by_depth_drains_bursts_sooner_than_a_fixed_one():
    run = stage.bursts()
    fixed, scaled = run["fixed"], run["scaled by depth"]
    assert scaled["drained after s"] < fixed["drained after s"]
    assert scaled["longest wait s"] < fixed["longest wait s"]


def test_only_the_idempotent_consumer_counts_each_photo_once_when_workers_die():
    rows = {row["consumer"]: row for row in stage.crash_mid_job().rows}
    assert rows["naive"]["double-counted"] > 0
    assert rows["idempotent"]["double-counted"] == 0
    assert rows["naive"]["redelivered"] == rows["idempotent"]["redelivered"] == 3


def test_a_poison_message_is_dead_lettered_and_the_rest_are_done():
    (row,) = stage.poison().rows
    assert row["done"] == 19 and row["dead letters"] == 1 and row["left in the queue"] == 0
    assert row["failed attempts"] == 3


def test_a_bound_keeps_the_queue_short_and_refuses_the_excess():
    unbounded, bounded = stage.backpressure().rows
    assert unbounded["refused"] == 0 and bounded["refused"] > 0
    assert bounded["deepest"] <= 50 < unbounded["deepest"]
    assert bounded["longest wait s"] < unbounded["longest wait s"]


def test_more_workers_drain_the_queue_faster():
    rates = stage.tiers((1, 4), jobs=60).column("jobs/s")
    assert rates[1] > 2.5 * rates[0]
