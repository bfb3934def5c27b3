"""Database nodes: one DuckDB file each, with a connection cap like a real server's.

DuckDB runs inside this process, but it behaves like a database server in the ways that matter
here: the data lives in a real file (committed rows survive a crash), queries release the GIL (two
files answer in parallel), and each open connection costs a slot under ``max_connections``, the
limit that Stage 10's connection proxy exists to protect.

One rule that DuckDB enforces the hard way: a connection object must not be shared by threads
(measured on DuckDB 2.0: a shared connection returns wrong rows). :meth:`DatabaseNode.connect`
therefore hands out a cursor per connection, never one in use by another; give every thread its own.
A closed connection's cursor is kept for the same thread's next connection to the node (a new cursor
and its ``USE`` cost ~0.1 ms, a fifth of a small query).

All nodes of a process share one DuckDB engine, each node's file attached under a name of its own
(``USE``-d by each of its connections): a node starts in ~2 ms instead of ~30 ms.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from .clock import Clock
from .errors import ConfigError, TooManyConnections, check_positive
from .nodes import Node

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# One DuckDB engine serves every database node of the process, each node's file attached to it under a
# name of its own: starting an engine takes ~30 ms, attaching a file ~2 ms, and the workbook's checks
# build hundreds of nodes. Queries on different files still run side by side (each connection is a
# cursor of its own, and DuckDB releases the GIL).
_engine_instance: duckdb.DuckDBPyConnection | None = None
_ENGINE_LOCK = threading.Lock()
_catalogs = itertools.count()


def _shared_engine() -> duckdb.DuckDBPyConnection:
    global _engine_instance
    with _ENGINE_LOCK:
        if _engine_instance is None:
            engine = duckdb.connect(":memory:")
            # Every node speaks UTC, whatever the machine's zone: TIMESTAMPTZ values come back as UTC.
            engine.execute("SET GLOBAL TimeZone = 'UTC'")
            # A page of a few rows: DuckDB would find the rows' ids first and re-read them by a join
            # ("late materialization"), which costs more than it saves for so few: 1.7 -> 1.0 ms a page
            # on 1M posts.
            engine.execute("SET GLOBAL late_materialization_max_rows = 0")
            # One DuckDB thread per query: the cluster's queries are small and many at once, from threads of
            # their own. Measured on 2 cores, a shard's 21-row page query: 0.35 ms with 1 thread against
            # 0.45 with 2, and two client threads answer x1.9 the queries of one (x1.66 with 2). A single
            # large scan (count(*) over 125,000 rows) alone is slower (1.1 -> 1.8 ms), two at once alike.
            engine.execute("SET GLOBAL threads = 1")
            _engine_instance = engine
        return _engine_instance


def _quoted(path: Path) -> str:
    """``path`` inside a single-quoted SQL string literal."""
    return str(path).replace("'", "''")


def _identifier(name: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ConfigError(f"not a plain SQL identifier: {name!r} (letters, digits and _ only)")
    return f'"{name}"'


class Result:
    """The rows of one statement, counted as they are read (the node's ``rows_read`` counter).

    Rows are counted where they leave the database, whoever reads them: a shard's keyset fetch, a
    handler's query, or a paginator that opens a connection of its own. Only the DB-API reads are
    offered (``fetchone``, ``fetchmany``, ``fetchall``, iteration, ``description``): a bulk export
    (Arrow, a data frame) would read rows the count never saw.
    """

    def __init__(self, connection: DatabaseConnection, cursor: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        self._node = connection.node
        self._cursor = cursor

    def _open(self):
        """The cursor, while the connection is open (a closed one's cursor may serve another already)."""
        if self._connection._closed:
            raise ConfigError(
                f"this result's connection to {self._node.name!r} is closed: read the rows before closing it"
            )
        return self._cursor

    def _counted(self, n: int) -> None:
        if n:
            self._node.metrics.counter("rows_read").inc(n)

    def fetchone(self) -> tuple | None:
        row = self._open().fetchone()
        self._counted(row is not None)
        return row

    def fetchmany(self, size: int = 1) -> list[tuple]:
        rows = self._open().fetchmany(size)
        self._counted(len(rows))
        return rows

    def fetchall(self) -> list[tuple]:
        rows = self._open().fetchall()
        self._counted(len(rows))
        return rows

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row

    @property
    def description(self):
        return self._cursor.description

    def __getattr__(self, name: str):
        raise AttributeError(
            f"a query result offers fetchone(), fetchmany(), fetchall(), iteration and description, not {name!r}"
        )


class _Idle:
    """One thread's idle cursor on one node (a DuckDB cursor cannot be weakly referenced; this can)."""

    __slots__ = ("cursor", "__weakref__")

    def __init__(self) -> None:
        self.cursor: duckdb.DuckDBPyConnection | None = None


class DatabaseConnection:
    """One client's connection: a DuckDB cursor of its own, counted against the node's cap.

    ``execute`` has the DB-API shape: pass values as ``params`` for the ``?`` placeholders, never
    by formatting them into the SQL text.
    """

    def __init__(self, node: DatabaseNode, cursor: duckdb.DuckDBPyConnection) -> None:
        self.node = node
        self._cursor = cursor
        self._closed = False
        #: Whether a statement may have opened a transaction (rolled back before the cursor serves again).
        self._transaction = False

    def execute(self, sql: str, params: Sequence | Mapping | None = None) -> Result:
        """Run one statement; the :class:`Result` supports ``fetchone()``, ``fetchall()`` and ``description``."""
        if self._closed:
            raise ConfigError(f"this connection to {self.node.name!r} is closed")
        node = self.node
        node.ensure_up()
        started = node.clock.now()
        # Only the injected CPU time holds one of the server's cores: DuckDB's own execution runs
        # beside it, so the ceiling stays ``cores / query_time`` whatever this machine's speed.
        with node._core():
            node.metrics.histogram("core_wait").record(node.clock.now() - started)
            node.work(node.query_time)
        if not self._transaction:
            statement = sql.upper()
            self._transaction = "BEGIN" in statement or "TRANSACTION" in statement
        try:
            cursor = self._cursor.execute(sql, params) if params is not None else self._cursor.execute(sql)
            return Result(self, cursor)
        finally:
            node.metrics.counter("queries").inc()
            node.metrics.histogram("query_latency").record(node.clock.now() - started)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.node._give_back(self._cursor, self._transaction)
            finally:
                self.node._release()

    def __enter__(self) -> DatabaseConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DatabaseNode(Node):
    """A database server: a DuckDB file, a connection cap, and an injectable per-query service time.

    ``query_time`` is CPU the server spends per query and ``cores`` how many queries it can spend it
    on at once; together they set the database's ceiling, ``cores / query_time`` queries per second,
    which is what eventually stops vertical scaling of the web tier in Stage 2.

    ``row_group_size`` is how many rows DuckDB stores together with one min/max summary per column.
    DuckDB's default, 122,880, suits analytics; a feed page (``ORDER BY created_at DESC LIMIT 21``)
    can skip every row group whose newest row is older than the page, so smaller groups let it read
    far less: measured on 100k posts, 2.7 ms a page with groups of 16,384 against 16 ms with the default.
    Groups of 4,096 also keep a keyset page's cost flat with its depth: on 1M posts (1% deleted), a page
    500,000 deep costs 1.01x a page just below the top, against 1.28x with groups of 16,384 (1.6x at
    100,000 deep); ``python -m benchmarks --only pages`` measures pages on this setting.
    """

    kind = "database"
    #: Which engine stores the data (see :mod:`minicluster.postgres` for the other one).
    engine = "duckdb"

    def __init__(
        self,
        name: str,
        path: str | Path,
        *,
        max_connections: int = 100,
        query_time: float = 0.0,
        cores: int | None = None,
        row_group_size: int = 4_096,
        host: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, host=host, clock=clock)
        if not isinstance(row_group_size, int) or isinstance(row_group_size, bool) or row_group_size < 2048:
            raise ConfigError(
                f"{name}: row_group_size must be an integer >= 2048 (DuckDB's vector size), got {row_group_size!r}"
            )
        self._limits(max_connections, query_time, cores)
        self.path = Path(path)
        self.row_group_size = row_group_size
        self._engine = _shared_engine()
        self._catalog = f"node{next(_catalogs)}"
        #: Each thread's idle cursor on this node (in an :class:`_Idle`, gone with the thread): a connection
        #: reuses it instead of opening a new one. All of them, to close with the node.
        self._idle = threading.local()
        self._idle_all: weakref.WeakSet[_Idle] = weakref.WeakSet()
        self._idle_lock = threading.Lock()
        with _ENGINE_LOCK:
            self._engine.execute(f"ATTACH '{_quoted(self.path)}' AS {self._catalog} (ROW_GROUP_SIZE {row_group_size})")

    def _limits(self, max_connections: int, query_time: float, cores: int | None) -> None:
        """Check and keep what every engine's node has: the connection cap, the injected query time, cores,
        and the count of connections open."""
        check_positive(f"{self.name}: max_connections", max_connections, integer=True)
        check_positive(f"{self.name}: query_time", query_time, allow_zero=True)
        if cores is not None:
            check_positive(f"{self.name}: cores", cores, integer=True)
        self.max_connections = max_connections
        self.query_time = float(query_time)
        #: How many queries run at once; the rest wait for a core (None: no limit).
        self.cores = cores
        self._cores = threading.BoundedSemaphore(cores) if cores else None
        self._closed = False
        self._open = 0  # connections open now, under _conn_lock
        self._conn_lock = threading.Condition()  # notified as connections close (wait_idle)

    @staticmethod
    def _lengths(table: str, columns: Mapping[str, Sequence]) -> int:
        """How many rows ``columns`` (name -> values) hold, all columns alike; ConfigError otherwise."""
        if not columns:
            raise ConfigError(f"bulk_load into {table!r} needs at least one column")
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError(f"bulk_load into {table!r}: columns have different lengths {lengths}")
        return next(iter(lengths.values()))

    def _core(self):
        """Hold one of the database's cores for a query (no limit when ``cores`` is None)."""
        return self._cores if self._cores is not None else contextlib.nullcontext()

    @property
    def open_connections(self) -> int:
        return self._open

    def connect(self) -> DatabaseConnection:
        """A new connection, or :class:`TooManyConnections` when ``max_connections`` are open."""
        if self._closed:
            raise ConfigError(f"database {self.name!r} is closed (its cluster was closed)")
        self.ensure_up()
        with self._conn_lock:
            if self._open >= self.max_connections:
                self.metrics.counter("refused_connections").inc()
                raise TooManyConnections(
                    f"database {self.name!r} refused a connection: max_connections={self.max_connections} already open"
                )
            self._open += 1
            self.metrics.gauge("connections").add(1)
        try:
            idle, cursor = getattr(self._idle, "slot", None), None
            if idle is not None:
                cursor, idle.cursor = idle.cursor, None
            if cursor is None:  # none kept, or in use by another connection of this thread
                with _ENGINE_LOCK:
                    cursor = self._engine.cursor()
                cursor.execute(f"USE {self._catalog}")
        except BaseException:
            self._release()  # a connection that failed to open must not keep its slot
            raise
        return DatabaseConnection(self, cursor)

    def _give_back(self, cursor, transaction: bool) -> None:
        """A closed connection's cursor: kept for this thread's next connection (a new DuckDB cursor and
        its ``USE`` cost ~0.1 ms, a fifth of a small query), closed when the thread keeps one already
        or the node is closed. A transaction left open is rolled back first, as closing would."""
        if transaction:
            with contextlib.suppress(duckdb.Error):
                cursor.execute("ROLLBACK")
        with self._idle_lock:
            idle = getattr(self._idle, "slot", None)
            if idle is None:
                idle = self._idle.slot = _Idle()
                self._idle_all.add(idle)
            if self._closed or idle.cursor is not None:
                cursor.close()
            else:
                idle.cursor = cursor

    def _close_idle(self) -> None:
        """Close every thread's idle cursor (one left open would keep the file attached)."""
        with self._idle_lock:
            for idle in list(self._idle_all):
                if idle.cursor is not None:
                    idle.cursor.close()
                    idle.cursor = None

    def _release(self) -> None:
        with self._conn_lock:
            self._open -= 1
            self.metrics.gauge("connections").add(-1)
            self._conn_lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no connection is open (at most ``timeout`` s); whether none is."""
        with self._conn_lock:
            return self._conn_lock.wait_for(lambda: self._open == 0, timeout)

    def execute(self, sql: str, params: Sequence | Mapping | None = None) -> list[tuple]:
        """Run one statement on a short-lived connection and return all rows (for set-up and scripts)."""
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def bulk_load(self, table: str, columns: Mapping[str, Sequence]) -> int:
        """Insert many rows at once, column by column, and return how many.

        Row-at-a-time autocommit inserts run at about 1,400 rows/s on DuckDB; passing each column
        as one list parameter and ``UNNEST``-ing them loads hundreds of thousands per second.
        """
        rows = self._lengths(table, columns)
        names = ", ".join(_identifier(c) for c in columns)
        unnests = ", ".join(f"UNNEST(${i + 1})" for i in range(len(columns)))
        sql = f"INSERT INTO {_identifier(table)} ({names}) SELECT {unnests}"
        with self.connect() as conn:
            conn.execute(sql, [list(v) for v in columns.values()])
        return rows

    def close(self) -> None:
        """Detach the file: it is closed (and may be opened again) once every connection is closed."""
        if not self._closed:
            with self._idle_lock:
                self._closed = True
            self._close_idle()
            with _ENGINE_LOCK:
                self._engine.execute(f"DETACH {self._catalog}")
