"""Real servers: `minicluster servers up | status | down`, and the Redis-backed parts and their checkers on
a real `redis-server` (marked ``servers``: they skip where the programs are missing, unless
``MINICLUSTER_REQUIRE_SERVERS=1``, which CI sets)."""

import gc
import json
import os
import socket
from pathlib import Path

import pytest

from minicluster import servers
from minicluster.cache import CacheNode
from minicluster.workbook import check, load
from tests.mutants import catalogue

pytestmark = pytest.mark.servers


def test_a_missing_program_is_named_with_the_commands_that_install_it(monkeypatch):
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers, "SBIN", ())
    with pytest.raises(servers.ServersError, match=r"apt-get install postgresql.*brew install postgresql@15"):
        servers.postgres_bindir()
    with pytest.raises(servers.ServersError, match=r"pgbouncer is not installed: .*apt-get install pgbouncer"):
        servers.program("pgbouncer")
    with pytest.raises(servers.ServersError, match="no server named 'mysql'"):
        servers.up(("mysql",))


def test_the_environment_overrides_the_config_file(tmp_path, monkeypatch):
    path = tmp_path / "servers.json"
    monkeypatch.setenv("MINICLUSTER_CONFIG", str(path))
    monkeypatch.delenv("MINICLUSTER_REDIS_URL", raising=False)
    assert servers.settings() == {}
    path.write_text(json.dumps({"redis_url": "redis://a:1/0", "postgres_dsn": "postgresql://b/postgres"}))
    assert servers.redis_url() == "redis://a:1/0"
    monkeypatch.setenv("MINICLUSTER_REDIS_URL", "redis://elsewhere:6379/0")
    assert servers.settings() == {"redis_url": "redis://elsewhere:6379/0", "postgres_dsn": "postgresql://b/postgres"}
    path.write_text("{not json")
    with pytest.raises(servers.ServersError, match="servers.json is not valid JSON"):
        servers.settings()


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_then_down_leaves_no_process_and_no_port(real, tmp_path, monkeypatch):
    monkeypatch.setenv("MINICLUSTER_CONFIG", str(tmp_path / "own.json"))
    try:
        state = servers.up(("redis", "postgres", "pgbouncer"))
        started = state["started"]
        ports = [started[s]["port"] for s in ("redis", "postgres", "pgbouncer")]
        pids = [started["redis"]["pid"], started["pgbouncer"]["pid"]]
        assert all(_listening(p) for p in ports)
        assert all(row["answering"] and row["started here"] for row in servers.status())
        assert servers.up(("redis",))["redis_url"] == state["redis_url"], "up again: what runs is kept"
    finally:
        stopped = servers.down()
    assert stopped == ["pgbouncer", "postgres", "redis"]
    assert not any(_listening(p) for p in ports)
    assert not any(servers._alive(pid) for pid in pids)
    assert not os.path.exists(started["home"]) and not (tmp_path / "own.json").exists()
    assert servers.down() == [], "down twice: nothing left to stop"


def test_cache_nodes_use_the_configured_redis_one_database_each(real, monkeypatch):
    monkeypatch.setenv("MINICLUSTER_REDIS_URL", real["redis_url"])
    a, b = CacheNode("a"), CacheNode("b")
    assert a.url.startswith(real["redis_url"].rsplit("/", 1)[0]) and a.url != b.url
    a.client().set("k", "from a")
    assert b.client().get("k") is None and a.client().get("k") == "from a"
    used = a.url
    del a
    gc.collect()
    again = CacheNode("again")
    assert again.url == used and again.client().get("k") is None, "a database is emptied before it is reused"


def test_eviction_under_a_key_budget_is_the_same_on_redis_and_fakeredis(real, monkeypatch):
    def remaining(node):
        client = node.client()
        for i in range(20):
            client.set(f"k{i}", i)
            client.get("k0")  # k0 stays the most recently used
        return sorted(k for k in (f"k{i}" for i in range(20)) if client.get(k) is not None)

    fake = remaining(CacheNode("fake", max_keys=5))
    monkeypatch.setenv("MINICLUSTER_REDIS_URL", real["redis_url"])
    assert remaining(CacheNode("real", max_keys=5)) == fake == ["k0", "k16", "k17", "k18", "k19"]


@pytest.mark.parametrize("exercise", ["05.cache_aside", "06.session_store", "08.idempotent_consumer"])
def test_the_redis_backed_checkers_judge_the_same_on_a_real_redis(real, monkeypatch, exercise):
    monkeypatch.setenv("MINICLUSTER_REDIS_URL", real["redis_url"])
    result = check(exercise, load(exercise, "solutions"))
    assert result.status == "passed", result.messages
    mutants = catalogue()[exercise]
    for name in list(mutants)[:3]:
        assert check(exercise, mutants[name]).status == "failed", name


# -- database nodes on PostgreSQL ------------------------------------------------------------------------
@pytest.fixture
def pg(real, monkeypatch):
    monkeypatch.setenv("MINICLUSTER_POSTGRES_DSN", real["postgres_dsn"])
    monkeypatch.setenv("MINICLUSTER_ENGINE", "postgres")
    return real


def test_a_postgres_node_speaks_like_a_duckdb_one_and_the_server_caps_its_connections(pg):
    import psycopg

    from minicluster.cluster import Cluster
    from minicluster.errors import TooManyConnections
    from minicluster.postgres import PostgresNode

    with Cluster(seed=1) as cluster:
        db = cluster.add_database("db", max_connections=2)
        assert isinstance(db, PostgresNode) and cluster.engine == "postgres"
        db.execute("CREATE TABLE t (a INTEGER, b VARCHAR)")
        assert db.bulk_load("t", {"a": [1, 2, 3], "b": ["x", "y?", "100%"]}) == 3
        assert db.execute("SELECT a, b FROM t WHERE a > ? ORDER BY a", [1]) == [(2, "y?"), (3, "100%")]
        assert db.execute("SELECT count(*) FROM t WHERE b LIKE '%?%'") == [(1,)], "a ? in a literal stays"
        first, second = db.connect(), db.connect()
        retries = db.metrics.counter("connect_retries").value
        with pytest.raises(TooManyConnections, match="CONNECTION LIMIT 2 reached$"):
            db.connect()
        assert db.metrics.counter("connect_retries").value == retries, "with its own at the limit, refused at once"
        first.close()
        db.connect().close()
        second.close()
        assert db.metrics.counter("refused_connections").value == 1
        name = db.database
    with psycopg.connect(pg["postgres_dsn"]) as admin:
        assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name]).fetchone() == (0,), (
            "the cluster's close drops the node's database"
        )


def _refused_once(monkeypatch, message: str) -> list:
    """``psycopg.connect`` refuses the next connection with ``message``, then connects; the list fills
    with the refusal made."""
    import psycopg

    connect, refusals = psycopg.connect, []

    def refusing(*args, **kwargs):
        if not refusals:
            refusals.append(message)
            raise psycopg.OperationalError(message)
        return connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", refusing)
    return refusals


def test_a_postgres_connection_refused_while_one_of_the_nodes_own_is_still_ending_is_tried_again(pg, monkeypatch):
    """The server counts a closed connection until its backend has exited: a connection opened right after
    one closed can be refused though the node has a slot free. The node tries again (seen under load)."""
    from minicluster.cluster import Cluster

    with Cluster(seed=1) as cluster:
        db = cluster.add_database("db", max_connections=2)
        refusals = _refused_once(monkeypatch, 'FATAL:  too many connections for database "db"')
        with db.connect() as conn:
            assert conn.execute("SELECT 1").fetchall() == [(1,)]
        assert len(refusals) == 1 and db.metrics.counter("connect_retries").value == 1
        assert db.metrics.counter("refused_connections").value == 0


def test_a_postgres_node_refuses_when_another_clients_connections_fill_the_limit(pg):
    """Another client's connections count against the database's CONNECTION LIMIT too: the node tries
    again for a while (a slot may be a backend still ending), then says whose they are."""
    import psycopg

    from minicluster.cluster import Cluster
    from minicluster.errors import TooManyConnections

    with Cluster(seed=1) as cluster:
        db = cluster.add_database("db", max_connections=2)
        db.refusal_patience = 0.2
        with psycopg.connect(db.dsn), db.connect():  # one of another client's, one of the node's
            with pytest.raises(TooManyConnections, match="1 of them this node's: the others are another client's"):
                db.connect()
        assert db.metrics.counter("connect_retries").value >= 1
        assert db.metrics.counter("refused_connections").value == 1
        db.connect().close()  # and once the other client is gone, there is room


def test_a_postgres_node_drops_its_database_when_the_server_was_full_for_a_moment(pg, monkeypatch):
    import psycopg

    from minicluster.cluster import Cluster

    cluster = Cluster(seed=1)
    db = cluster.add_database("db")
    refusals = _refused_once(monkeypatch, "FATAL:  sorry, too many clients already")
    cluster.close()
    assert len(refusals) == 1
    with psycopg.connect(pg["postgres_dsn"]) as admin:
        gone = admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [db.database]).fetchone()
    assert gone == (0,), "the database is dropped once the server has room again"


def test_sharded_posts_on_postgres_page_by_a_btree_and_walk_like_the_truth(pg):
    from minicluster.cluster import Cluster
    from minicluster.posts import PostsSpec, ShardedPosts, generate
    from minicluster.stages.sharding import adaptive_fetch

    posts = generate(PostsSpec(posts=3000, users=200, seed=5))
    with Cluster(seed=5) as cluster:
        store = ShardedPosts(cluster, 4)
        store.load(posts)
        plan = store.shards[0].node.execute(
            "EXPLAIN SELECT post_id FROM posts WHERE (created_at, post_id) < (now(), 0) "
            "ORDER BY created_at DESC, post_id DESC LIMIT 21"
        )
        assert "posts_feed" in " ".join(row[0] for row in plan), "the keyset page scans the B-tree"
        walked, after = [], None
        while True:
            page = adaptive_fetch(store.shards, after, 50, "newest")
            walked += page
            if len(page) < 50:
                break
            after = page[-1].key
        assert walked == store.all_posts("newest")


@pytest.mark.parametrize("exercise", ["10.keyset", "10.paginate"])
def test_the_capstone_checkers_judge_the_same_on_postgres_shards(pg, exercise):
    result = check(exercise, load(exercise, "solutions"))
    assert result.status == "passed", result.messages
    mutants = catalogue()[exercise]
    for name in list(mutants)[:2]:
        assert check(exercise, mutants[name]).status == "failed", name


# -- stage 10's proxy, for real: PgBouncer in front of a capped PostgreSQL ----------------------------------
def test_pgbouncer_turns_too_many_clients_into_a_bounded_wait(pg, monkeypatch):
    from minicluster import real as experiments

    monkeypatch.setenv("MINICLUSTER_PGBOUNCER_DSN", pg["pgbouncer_dsn"])
    run = experiments.pgbouncer_experiment(requests=320, concurrency=40, limit=12)
    rows = {row["way in"]: row for row in run.rows}
    straight, pooled = rows["straight to PostgreSQL"], rows["through PgBouncer"]
    assert straight["refused"] > 0 and run["refused by the server"] == straight["refused"]
    assert pooled["refused"] == 0 and pooled["served"] == 320
    assert pooled["p99_ms"] < 2000, "waiting for one of 10 pooled connections, not for ever"


def test_transaction_pooling_hands_one_clients_session_state_to_another(pg, monkeypatch):
    from minicluster import real as experiments

    monkeypatch.setenv("MINICLUSTER_PGBOUNCER_DSN", pg["pgbouncer_dsn"])
    rows = {row["way in"]: row for row in experiments.session_state_under_pooling().rows}
    direct, pooled = rows["straight to PostgreSQL"], rows["through PgBouncer"]
    assert not direct["B sees A's application_name"] and not direct["B sees A's temp table"]
    assert pooled["B sees A's application_name"] and pooled["B sees A's temp table"]


def test_the_benchmarks_measure_the_same_items_on_the_real_servers(pg, monkeypatch):
    from benchmarks import suite
    from tests.test_benchmarks import TINY

    results = suite.on_real_servers(TINY, {"postgres_dsn": pg["postgres_dsn"], "redis_url": pg["redis_url"]})
    assert set(results) == {"page_latency_postgres", "keyset_vs_offset_postgres", "request_path_redis"}
    assert [row["shards"] for row in results["page_latency_postgres"]["rows"]] == list(TINY.shard_counts)
    assert "real redis-server" in results["request_path_redis"]["title"]
    assert all("goal" in r for r in results.values())
    assert suite.on_real_servers(TINY, {}) == {}, "nothing configured: nothing measured"


# -- stage 4 on PostgreSQL streaming replication -------------------------------------------------------------
def test_a_streaming_group_reports_positions_and_lag_from_the_server(real):
    from minicluster.streaming import PostgresGroup

    with PostgresGroup(replicas=1, apply_delay_ms=300) as group:
        replica = group.replicas[0]
        group.primary.query("INSERT INTO kv VALUES (1, 'x')")
        written = group.primary.applied_lsn
        assert replica.applied_lsn < written, "the replica applies the WAL 300 ms late"
        assert replica.query("SELECT count(*) FROM kv") == [(0,)]
        home = group.home
    assert not home.exists()


def test_the_read_your_writes_router_reads_no_stale_value_on_postgres(real):
    from minicluster import real as experiments
    from minicluster.replication import AnyReplica

    router = load("04.read_your_writes", "solutions")()
    run = experiments.read_your_writes_on_postgres({"any replica": AnyReplica(), "read your writes": router},
                                                   operations=200, delay_ms=30)  # fmt: skip
    rows = {row["router"]: row for row in run.rows}
    assert rows["any replica"]["stale reads"] > 0 and rows["any replica"]["on replicas %"] == 1
    assert rows["read your writes"]["stale reads"] == 0 and rows["read your writes"]["on replicas %"] > 0.2


def test_the_promotion_exercise_picks_the_replica_that_loses_nothing_on_postgres(real):
    from minicluster import real as experiments

    choose = load("04.promote", "solutions")
    (row,) = experiments.failover_on_postgres(choose, writes_before=100, writes_after=20).rows
    assert row == {"promoted": "replica1", "acknowledged writes lost": 0, "writes after the promotion": 20}
    (careless,) = experiments.failover_on_postgres(lambda primary, replicas: replicas[1], writes_before=100,
                                                   writes_after=20).rows  # fmt: skip
    assert careless["promoted"] == "replica2" and careless["acknowledged writes lost"] == 100


def test_pgpool_routes_writes_to_the_primary_and_reads_to_the_replica_stale_or_not(real):
    import shutil

    from minicluster import real as experiments

    if not (shutil.which("pgpool") or os.path.exists("/usr/sbin/pgpool")):
        message = "pgpool (Pgpool-II) is not installed: on Debian/Ubuntu `sudo apt-get install pgpool2`"
        if os.environ.get("MINICLUSTER_REQUIRE_SERVERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    rows = {row["disable_load_balance_on_write"]: row for row in experiments.pgpool_routing(statements=200).rows}
    default, always = rows["transaction"], rows["always"]
    assert default["on the replica %"] == 1 and default["stale reads"] > 0, "reads spread, some stale"
    assert always["stale reads"] == 0 and always["on the replica %"] < default["on the replica %"]


def test_minicluster_check_runs_the_capstone_on_postgres_from_the_command_line(pg, workbook, capsys, monkeypatch):
    import shutil as sh

    from minicluster.workbook.cli import main

    monkeypatch.delenv("MINICLUSTER_ENGINE")
    path = Path("10_sharding") / "keyset.py"
    sh.copyfile(workbook / "solutions" / path, workbook / "exercises" / path)
    assert main(["check", "10.keyset", "--engine", "postgres"]) == 0
    assert "10.keyset: passed" in capsys.readouterr().out
    assert os.environ["MINICLUSTER_ENGINE"] == "postgres", "the check's own process got the engine from here"
