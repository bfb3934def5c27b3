"""Stage 9's experiments (its notebook is still to come): each claim, measured with the same functions."""

from minicluster.stages import observability as stage


def test_the_logs_find_the_crashed_server_and_the_slow_one():
    run = stage.logs_in_sql()
    assert run.rows and all(row["node"] == "lb" and row["status"] == 502 for row in run.rows)
    assert all(detail == "to web2" for _, detail, _ in run["slowest"]), "web2 is the slowed server"
    nodes = [node for node, _, _ in run["path"]]
    assert nodes[-2:] == ["web2", "lb"] and "db" in nodes


def test_merged_histograms_give_the_tiers_p99_and_averaged_p99s_do_not():
    p50, p99 = stage.tier_percentiles().rows
    assert p99["merged error %"] <= 0.011 and p50["merged error %"] <= 0.011
    assert p99["average error %"] > 0.2


def test_a_rule_with_a_streak_and_hysteresis_detects_every_fault_without_false_alarms():
    rows = {row["rule"]: row for row in stage.alert_rules(runs=20).rows}
    careful, single, slow = rows["3 readings > 5%, clear < 3%"], rows["1 reading > 2%"], rows["10 readings > 5%"]
    assert careful["faults detected"] == 20 and careful["false alarms"] == 0
    assert single["false alarms"] > 20
    assert slow["readings to detect"] > careful["readings to detect"]


def test_a_rolling_deploy_fails_nothing_and_a_broken_one_rolls_back():
    rows = {row["deploy"]: row for row in stage.deploys().rows}
    assert rows["rolling"]["failed requests"] == 0 and rows["rolling"]["serving"] == "v2"
    assert rows["naive"]["failed requests"] > 0
    broken = rows["rolling, broken release"]
    assert broken["rolled back"] and broken["failed requests"] == 0 and broken["serving"] == "v1"


def test_business_metrics_come_from_sql_and_the_incident_shows_only_there():
    run = stage.business_metrics()
    assert [row["day"] for row in run.rows] == list(range(28))
    retention = run["retention"]
    assert 0 < retention["day 7"] < retention["day 1"] < 1, "fewer users come back a week later than a day later"
    incident = run["incident"]
    assert incident["day"] < incident["median"] / 2, "the hidden buy button halves purchases per visit"
    quiet = stage.business_metrics(incident_day=None)
    assert "incident" not in quiet.figures
    assert quiet.rows[21]["purchases per visit"] > run.rows[21]["purchases per visit"]
    assert sum(r["DAU"] for r in quiet.rows) == sum(r["DAU"] for r in run.rows), "visits are the same; buying is not"


def test_the_dashboard_of_the_stage_sees_the_slowdown_and_the_users_errors():
    from minicluster.cluster import Cluster

    with Cluster(seed=42) as cluster:
        built = stage.build(cluster)
        board = stage.dashboard(built)
        run = stage.watched(built, board, duration=1.5)
    rows = run.rows
    first_third = [r for r in rows if r["t"] <= 0.5]
    last = rows[-1]
    assert max(r["tier p99 ms"] for r in first_third) < 60 < last["tier p99 ms"], "web2 slowed 10x: the p99 grows"
    assert all(r["tier errors %"] == 0 for r in rows), "the servers' own metrics count no error"
    assert max(r["users' errors %"] for r in rows) > 10, "while the balancer still sends to the crashed web3"
    assert run.load.errors > 0
