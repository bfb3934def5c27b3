"""Experiments that need real servers (``minicluster servers up``): stage 10's connection proxy, for real.

* :func:`pgbouncer_experiment`: many app-server threads straight at a PostgreSQL database whose
  ``CONNECTION LIMIT`` is low are refused ("too many connections"); through PgBouncer's small pool
  (transaction pooling) none is, and the price is a bounded wait for a pooled connection;
* :func:`session_state_under_pooling`: the caveat every transaction-pooling proxy has (ProxySQL's
  multiplexing too): what one client sets on its session (``SET``, a temporary table) lives on a server
  connection that the next transaction of *another* client may get.
"""

from __future__ import annotations

from .cluster import Cluster
from .errors import ConfigError
from .experiment import Run, load_row
from .load import closed_loop
from .postgres import APP_ROLE


def pgbouncer_dsn(database: str) -> str:
    """A DSN of ``database`` through the configured PgBouncer, as the nodes' role."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from .servers import settings

    dsn = settings().get("pgbouncer_dsn")
    if not dsn:
        raise ConfigError("no PgBouncer configured: run `minicluster servers up` (or set MINICLUSTER_PGBOUNCER_DSN)")
    return make_conninfo(**{**conninfo_to_dict(dsn), "user": APP_ROLE, "dbname": database})


def pgbouncer_experiment(
    *, requests: int = 600, concurrency: int = 60, limit: int = 12, query_ms: float = 20, seed: int = 42
) -> Run:
    """``requests`` queries (each ``query_ms`` long, ``pg_sleep``) from ``concurrency`` app-server threads
    at once, each opening its own connection: straight to a PostgreSQL database created with ``CONNECTION
    LIMIT limit``, then through PgBouncer (transaction pooling, a pool of 10 server connections)."""
    import psycopg

    from .errors import TooManyConnections

    results = {}
    with Cluster(seed=seed, engine="postgres") as cluster:
        db = cluster.add_database("capped", max_connections=limit)
        through = pgbouncer_dsn(db.database)
        sql = f"SELECT pg_sleep({query_ms / 1000})"

        def direct(key: int):
            with db.connect() as conn:
                return conn.execute(sql).fetchall()

        def pooled(key: int):
            try:
                with psycopg.connect(through, autocommit=True) as conn:
                    return conn.execute(sql).fetchall()
            except psycopg.OperationalError as exc:  # PgBouncer passing on the server's refusal
                raise TooManyConnections(str(exc)) from None

        per_thread = max(1, requests // concurrency)
        for name, target in (("straight to PostgreSQL", direct), ("through PgBouncer", pooled)):
            results[name] = closed_loop(target, users=concurrency, requests_per_user=per_thread, seed=seed,
                                        together=True)  # fmt: skip
        refused_by_server = db.metrics.counter("refused_connections").value
    rows = [
        {"way in": name, "served": r.completed - r.errors, "refused": r.errors, "p99_ms": load_row(r)["p99_ms"]}
        for name, r in results.items()
    ]
    title = f"{requests:,} queries from {concurrency} app-server threads, a database with CONNECTION LIMIT {limit}"
    return Run(title, rows, results, figures={"refused by the server": refused_by_server}, chart="percentiles")


def session_state_under_pooling() -> Run:
    """Client A sets its session's ``application_name`` and creates a temporary table, then client B, on a
    connection of its own, asks for both: straight to PostgreSQL, and through PgBouncer's transaction
    pooling (where B's statement runs on the server connection A's statements just left)."""
    import psycopg

    rows = []
    with Cluster(engine="postgres") as cluster:
        db = cluster.add_database("sessions")
        for name, dsn in (("straight to PostgreSQL", db.dsn), ("through PgBouncer", pgbouncer_dsn(db.database))):
            with psycopg.connect(dsn, autocommit=True) as a, psycopg.connect(dsn, autocommit=True) as b:
                a.execute("SET application_name = 'client A'")
                a.execute("CREATE TEMP TABLE cart (item TEXT)")
                seen = b.execute("SHOW application_name").fetchone()[0]
                has_table = b.execute("SELECT to_regclass('pg_temp.cart') IS NOT NULL").fetchone()[0]
                mine = a.execute("SELECT to_regclass('pg_temp.cart') IS NOT NULL").fetchone()[0]
            rows.append({"way in": name, "B sees A's application_name": seen == "client A",
                         "B sees A's temp table": has_table, "A still sees its temp table": mine})  # fmt: skip
    return Run("Session state under transaction pooling", rows)


# -- stage 4 on PostgreSQL streaming replication ----------------------------------------------------------
def read_your_writes_on_postgres(routers: dict, *, users: int = 20, operations: int = 400, delay_ms: int = 30,
                                 seed: int = 42) -> Run:  # fmt: skip
    """Each router of ``routers`` (name -> a stage-4 router: ``wrote(user, lsn)``, ``choose(user, primary,
    replicas)``) serves the same seeded mix on a real primary and two streaming replicas that apply WAL
    ``delay_ms`` late: a user writes their profile (a quarter of the operations), or reads it back. A read
    that returns an older value than the user's last write is stale. Rows: stale reads, reads served by
    replicas."""
    import random

    from .streaming import PostgresGroup

    rows = []
    with PostgresGroup(replicas=2, apply_delay_ms=delay_ms) as group:
        primary = group.primary
        primary.query("INSERT INTO kv SELECT g, 'v0' FROM generate_series(1, %s) g", [users])
        group.caught_up()  # every user exists everywhere before the reads begin
        for name, router in routers.items():
            rng = random.Random(seed)
            written: dict[int, int] = {}
            stale = on_replicas = reads = 0
            for i in range(operations):
                user = rng.randrange(1, users + 1)
                if rng.random() < 0.25:
                    primary.query("UPDATE kv SET value = %s WHERE key = %s", [f"{name}-{i}", user])
                    lsn = int(primary.query("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0][0])
                    router.wrote(user, lsn)
                    written[user] = i
                    continue
                member = router.choose(user, primary, group.replicas)
                value = member.query("SELECT value FROM kv WHERE key = %s", [user])[0][0]
                reads += 1
                on_replicas += member is not primary
                if user in written and value != f"{name}-{written[user]}":
                    stale += 1
            rows.append({"router": name, "reads": reads, "stale reads": stale,
                         "on replicas %": on_replicas / reads})  # fmt: skip
    return Run(f"Reads after writes on PostgreSQL streaming replication ({delay_ms} ms apply delay)", rows)


def failover_on_postgres(choose, *, writes_before: int = 200, writes_after: int = 100) -> Run:
    """A primary and two streaming replicas; replica2 is cut off from the primary (it stops streaming),
    then ``writes_before`` writes are acknowledged; the primary crashes; ``choose(primary, replicas)`` (the
    stage-4 exercise's ``choose_new_primary``) names the replica to promote, which is promoted with
    ``pg_promote()``; ``writes_after`` more writes go to it. Rows: which replica was promoted, the
    acknowledged writes it lacks, the writes taken after the promotion."""
    from .streaming import PostgresGroup

    with PostgresGroup(replicas=2) as group:
        old = group.primary
        group.cut(group.replicas[1])
        acked = []
        for key in range(1, writes_before + 1):
            old.query("INSERT INTO kv VALUES (%s, %s)", [key, f"before {key}"])
            acked.append(key)
        positions = {m.name: m.applied_lsn for m in group.members}
        group.crash(old)
        chosen = choose(old, group.replicas)
        if chosen is None or chosen not in group.replicas:
            raise ConfigError(f"choose_new_primary returned {chosen!r}, not one of the replicas")
        group.promote(chosen)
        have = {k for (k,) in chosen.query("SELECT key FROM kv")}
        for key in range(writes_before + 1, writes_before + writes_after + 1):
            chosen.query("INSERT INTO kv VALUES (%s, %s)", [key, f"after {key}"])
        after = chosen.query("SELECT count(*) FROM kv WHERE value LIKE 'after%'")[0][0]
        rows = [{"promoted": chosen.name, "acknowledged writes lost": len([k for k in acked if k not in have]),
                 "writes after the promotion": after}]  # fmt: skip
    return Run("Failover on PostgreSQL streaming replication", rows, figures={"positions": positions})


def pgpool_routing(*, statements: int = 300, write_share: float = 0.2, keys: int = 10, delay_ms: int = 50,
                   seed: int = 42) -> Run:  # fmt: skip
    """The notes' proxy also routes: Pgpool-II in front of a primary and a replica that applies WAL
    ``delay_ms`` late. One client sends ``statements`` statements (``write_share`` of them updates of a key,
    the rest reads of a key) through it, once per setting of ``disable_load_balance_on_write``:
    ``transaction`` (Pgpool's default: a read after a write, in a new transaction, may go to the replica)
    and ``always`` (after the session's first write every read goes to the primary). Rows: reads, stale
    reads, reads the replica served (Pgpool's own ``select_cnt``)."""
    import random

    import psycopg

    from .streaming import PostgresGroup

    rows = []
    with PostgresGroup(replicas=1, apply_delay_ms=delay_ms) as group:
        group.primary.query("INSERT INTO kv SELECT g, 'v0' FROM generate_series(1, %s) g", [keys])
        group.caught_up()
        for mode in ("transaction", "always"):
            dsn = group.pgpool(disable_load_balance_on_write=f"'{mode}'")
            rng = random.Random(seed)
            last: dict[int, str] = {}
            reads = stale = 0
            with psycopg.connect(dsn, autocommit=True) as conn:
                before = _selects_on(conn, group.replicas[0].port)
                for i in range(statements):
                    key = rng.randrange(1, keys + 1)
                    if rng.random() < write_share:
                        last[key] = f"{mode}-{i}"
                        conn.execute("UPDATE kv SET value = %s WHERE key = %s", [last[key], key])
                        continue
                    value = conn.execute("SELECT value FROM kv WHERE key = %s", [key]).fetchone()[0]
                    reads += 1
                    stale += key in last and value != last[key]
                on_replica = _selects_on(conn, group.replicas[0].port) - before
            rows.append({"disable_load_balance_on_write": mode, "reads": reads, "stale reads": stale,
                         "on the replica %": on_replica / reads})  # fmt: skip
    return Run(f"Read/write routing through Pgpool-II (replica applying {delay_ms} ms late)", rows)


def _selects_on(conn, port: int) -> int:
    """Pgpool's count of SELECTs sent to the backend on ``port`` (``SHOW pool_nodes``)."""
    cursor = conn.execute("SHOW pool_nodes")
    names = [c.name for c in cursor.description]
    for row in cursor.fetchall():
        node = dict(zip(names, row))
        if str(node["port"]) == str(port):
            return int(node["select_cnt"])
    raise ConfigError(f"Pgpool-II has no backend on port {port}")
