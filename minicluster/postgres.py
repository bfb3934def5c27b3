"""Database nodes on a real PostgreSQL, behind the same interface as the DuckDB ones.

A :class:`PostgresNode` is one database of the configured server (``minicluster servers up``, or
``MINICLUSTER_POSTGRES_DSN``), created for the node and dropped when its cluster closes. It offers what a
:class:`~minicluster.storage.DatabaseNode` offers: ``connect()`` (one connection per thread; statements
with ``?`` placeholders, as DuckDB writes them), ``execute``, ``bulk_load`` (``COPY``), an injected
``query_time`` and ``cores``, crashes and slowdowns, rows read counted. ``max_connections`` is enforced
by the server itself: the database is created with ``CONNECTION LIMIT``, and the nodes connect as an
ordinary role (superusers are exempt from that limit). The server's refusal ("too many connections for
database") becomes :class:`~minicluster.errors.TooManyConnections`, as on DuckDB.

A cluster uses PostgreSQL when its engine is ``"postgres"``: ``Cluster(engine="postgres")``, the variable
``MINICLUSTER_ENGINE``, or ``"engine"`` in the servers' config file.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Mapping, Sequence

from .clock import Clock
from .errors import ConfigError, TooManyConnections
from .nodes import Node
from .storage import DatabaseConnection, DatabaseNode, _identifier

#: The role the nodes connect as: not a superuser, so a database's CONNECTION LIMIT holds for it.
APP_ROLE = "minicluster_app"
ENGINES = ("duckdb", "postgres")
_databases = itertools.count()
_ROLE_LOCK = threading.Lock()
_roles_made: set[str] = set()


def engine(choice: str | None = None) -> str:
    """The database engine: ``choice``, else ``MINICLUSTER_ENGINE``, else the servers' config, else duckdb."""
    if choice is None:
        from .servers import settings

        choice = os.environ.get("MINICLUSTER_ENGINE") or settings().get("engine") or "duckdb"
    if choice not in ENGINES:
        raise ConfigError(f"the database engine is one of {', '.join(ENGINES)}, got {choice!r}")
    return choice


def admin_dsn() -> str:
    from .servers import postgres_dsn

    dsn = postgres_dsn()
    if not dsn:
        raise ConfigError(
            "the postgres engine needs a PostgreSQL server: run `minicluster servers up`, or set "
            "MINICLUSTER_POSTGRES_DSN to a DSN of a role that may create databases and roles"
        )
    return dsn


def to_pyformat(sql: str, params) -> str:
    """``sql`` with DuckDB's ``?`` placeholders as psycopg's ``%s`` (and, with parameters, a literal ``%``
    doubled); question marks inside string literals and quoted names are left alone."""
    out, quote = [], None
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
            out.append("%%" if ch == "%" and params is not None else ch)
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        else:
            out.append("%%" if ch == "%" and params is not None else ch)
    return "".join(out)


class _Cursor:
    """A psycopg connection dressed as the DuckDB cursor :class:`DatabaseConnection` drives."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self._cursor = conn.cursor()

    def execute(self, sql: str, params=None):
        self._cursor.execute(to_pyformat(sql, params), params)
        return self

    # A statement that returns no rows (DDL, an INSERT) reads as no rows, as on DuckDB, not as an error.
    @property
    def description(self):
        return self._cursor.description

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchmany(self, size: int = 1):
        return self._cursor.fetchmany(size) if self._cursor.description is not None else []

    def fetchall(self):
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def close(self) -> None:
        self._conn.close()


class PostgresNode(DatabaseNode):
    """A database of the configured PostgreSQL server, as a database node (see the module's docstring)."""

    engine = "postgres"

    def __init__(
        self,
        name: str,
        *,
        dsn: str | None = None,
        max_connections: int = 100,
        query_time: float = 0.0,
        cores: int | None = None,
        host: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        Node.__init__(self, name, host=host, clock=clock)
        self._limits(max_connections, query_time, cores)
        self.row_group_size = None
        self.path = None
        self._admin = dsn or admin_dsn()
        self.database = f"mc_{os.getpid()}_{next(_databases)}_{name.lower().replace('-', '_')}"[:63]
        with psycopg.connect(self._admin, autocommit=True) as admin:
            _ensure_role(admin, self._admin)
            admin.execute(f'CREATE DATABASE "{self.database}" OWNER {APP_ROLE} CONNECTION LIMIT {max_connections}')
        parts = conninfo_to_dict(self._admin)
        self.dsn = make_conninfo(**{**parts, "user": APP_ROLE, "dbname": self.database})

    #: Seconds a refused connection is tried again while fewer than ``max_connections`` of this node's are
    #: open: the server counts a connection until its backend process has exited, a moment after the client
    #: closed it, so a connection opened right after another closed can be refused (seen under load).
    refusal_patience = 2.0

    def connect(self) -> DatabaseConnection:
        """A new connection; :class:`TooManyConnections` when the server refuses one over the limit."""
        import psycopg

        if self._closed:
            raise ConfigError(f"database {self.name!r} is closed (its cluster was closed)")
        self.ensure_up()
        deadline = time.monotonic() + self.refusal_patience
        while True:
            try:
                conn = psycopg.connect(self.dsn, autocommit=True, options="-c TimeZone=UTC")
                break
            except psycopg.OperationalError as exc:
                if "too many connections" not in str(exc):
                    raise
                with self._conn_lock:
                    mine = self._open
                    if mine < self.max_connections and time.monotonic() < deadline:
                        # A backend still ending (or another client's connection): look again when one of
                        # ours closes, or in 10 ms.
                        self.metrics.counter("connect_retries").inc()
                        self._conn_lock.wait(0.01)
                        continue
                self.metrics.counter("refused_connections").inc()
                others = (
                    ""
                    if mine >= self.max_connections
                    else f" ({mine} of them this node's: the others are another client's)"
                )
                raise TooManyConnections(
                    f"database {self.name!r} refused a connection: PostgreSQL's CONNECTION LIMIT "
                    f"{self.max_connections} reached{others}"
                ) from None
        with self._conn_lock:
            self._open += 1
            self.metrics.gauge("connections").add(1)
        return DatabaseConnection(self, _Cursor(conn))

    def _give_back(self, cursor, transaction: bool) -> None:
        """Each connection is the server's own (counted by its CONNECTION LIMIT): closed, never kept."""
        cursor.close()

    def bulk_load(self, table: str, columns: Mapping[str, Sequence]) -> int:
        """Insert many rows at once with ``COPY``; returns how many."""
        rows = self._lengths(table, columns)
        names = ", ".join(_identifier(c) for c in columns)
        connection = self.connect()
        try:
            cursor = connection._cursor._cursor
            with cursor.copy(f"COPY {_identifier(table)} ({names}) FROM STDIN") as copy:
                for row in zip(*columns.values()):
                    copy.write_row(row)
        finally:
            connection.close()
        return rows

    def close(self) -> None:
        """Drop the node's database (its connections are ended with it)."""
        import psycopg

        if not self._closed:
            self._closed = True
            deadline = time.monotonic() + self.refusal_patience
            while True:
                try:
                    with psycopg.connect(self._admin, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                    return
                except psycopg.OperationalError as exc:
                    # The server full for a moment ("too many clients"): try again, or the database is left
                    # behind. Any other failure to connect: the server is gone already, nothing to drop.
                    if "too many" not in str(exc) or time.monotonic() >= deadline:
                        return
                    threading.Event().wait(0.01)


def _ensure_role(admin, dsn: str) -> None:
    with _ROLE_LOCK:
        if dsn in _roles_made:
            return
        admin.execute(f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        _roles_made.add(dsn)
