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
