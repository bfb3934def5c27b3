import pytest

from minicluster import Cluster
from minicluster.stages import single_server


def test_stage_serves_users_with_cache_aside():
    with Cluster(seed=3) as c:
        stage = single_server.build(c, users=50, workers=2, service_time=0.0)
        first = stage.client.get("http://api.mysite.com/users/7")
        assert first.status == 200 and first.data()["id"] == 7
        queries = stage.db.metrics.counter("queries").value
        assert stage.client.get("http://api.mysite.com/users/7").body == first.body
        assert stage.db.metrics.counter("queries").value == queries, "the second read is a cache hit"
        assert stage.client.get("http://api.mysite.com/users/51").status == 404
        assert stage.client.get("http://api.mysite.com/users/x").status == 400


def test_users_are_deterministic_from_the_seed():
    def names(seed):
        with Cluster(seed=seed) as c:
            stage = single_server.build(c, users=20, workers=1)
            return stage.db.execute("SELECT name FROM users ORDER BY id")

    assert names(1) == names(1) != names(2)


def test_sweep_shows_concurrency_then_a_ceiling():
    sweep = single_server.sweep(users=(1, 4, 32), workers=4, service_time=0.01, duration=0.4)
    one, four, many = sweep.column("throughput")
    # Generous bounds: 4 users on 4 workers run in parallel (ideal 4x); no load beats the ceiling.
    assert four > 2.5 * one
    assert sweep["ceiling"] == 400
    assert many <= 1.05 * sweep["ceiling"]
    assert sweep["knee"] in (4, 32)
    assert sweep.column("errors") == [0, 0, 0]
    assert list(sweep.loads) == ["users=1", "users=4", "users=32"]
    text = sweep.table().splitlines()
    assert text[0].split() == [
        "users",
        "req/s",
        "p50",
        "ms",
        "p99",
        "ms",
        "L",
        "λ·W",
        "L@server",
        "λ·W@server",
        "errors",
    ]
    assert [line.split()[0] for line in text[1:]] == ["1", "4", "32"]


def test_playground_runs_the_chosen_configuration(capsys):
    box = single_server.playground(seed=1)
    workers, service, users, run, _ = box.children
    workers.value, service.value, users.value = 2, 5, 2
    run.click()
    printed = capsys.readouterr().out
    assert "ceiling 400 req/s" in printed and "measured" in printed


def test_littles_law_holds_at_the_server_where_l_is_not_the_number_of_users():
    run = single_server.sweep((2, 16), duration=0.4)
    for row in run.rows:
        assert row["L_server"] == pytest.approx(row["lambda_W_server"], rel=0.1)
        assert row["L_server"] < row["users"], "part of each round trip is spent outside the server"
        assert row["L_server"] > 0.5 * row["users"]
    assert run.table().splitlines()[0].split()[-1] == "errors", "errors stays the last column"
