"""Stage 6's experiments: each claim the notebook makes, measured here with the same functions."""

from minicluster.stages import stateless_web as stage


def test_servers_dying_and_joining_log_out_users_of_a_stateful_tier_only():
    run = stage.churn(duration=1.6, kill_at=0.5, add_at=1.0)
    assert run["stateful, sticky"]["logged_out"] > 0
    assert run["stateless, Redis"]["logged_out"] == 0
    assert [e.action for e in run.timeline].count("crash") == 2


def test_redis_serves_session_reads_and_writes_faster_than_a_table():
    rates = {row["store"]: row["requests/s"] for row in stage.store_speed(duration=0.4).rows}
    assert rates["Redis"] > 2 * rates["DuckDB table"]


def test_redis_expires_sessions_itself_and_a_table_keeps_them_until_cleanup():
    rows = {row["store"]: row for row in stage.expiry(sessions=50, ttl=0.1).rows}
    assert rows["Redis"]["readable after the TTL"] == rows["DuckDB table"]["readable after the TTL"] == 0
    assert rows["Redis"]["still stored"] == 0 and rows["DuckDB table"]["still stored"] == 50
    assert rows["DuckDB table"]["after a cleanup job"] == 0


def test_sessions_shard_over_store_nodes_and_one_node_loses_only_its_share():
    rows = {row["store nodes"]: row for row in stage.scale_out((1, 2, 4), sessions=400).rows}
    assert rows[1]["lost with one node"] == 400
    assert rows[4]["lost with one node"] < rows[2]["lost with one node"] < 400
    assert rows[4]["busiest node"] < 0.5 * 400


def test_the_autoscaler_follows_a_load_step_fails_nothing_and_flaps_without_a_cooldown():
    run = stage.autoscaling((0.3, 0.0))
    steady, flappy = run["cooldown 0.3 s"], run["cooldown 0 s"]
    assert steady["peak"] > 1 and steady["failed"] == flappy["failed"] == 0
    assert flappy["actions"] > steady["actions"]
