"""Logs: one structured record per thing a node did, from every node, in one place, asked with SQL.

Think of every clerk of a big office writing each step of each case on a card with the case number,
and all the cards going into one drawer: to follow a case you pull every card with its number; to
find the slow clerk you sort the cards by time taken. The case number is the **request id**: the
balancer gives every request one (``X-Request-Id``), passes it on, and every node logs it with what
it did, so that one request can be followed across the tiers.

Logging is off until :meth:`LogSink.enable` (a cluster has one sink, ``cluster.logs``): it then costs
one append per record. :meth:`LogSink.to_duckdb` loads the records into a table ``logs`` of a database
node, where SQL answers the questions an operator asks (errors per node, the slowest requests, one
request's path).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

from .clock import Clock, RealClock

COLUMNS = ("time", "node", "event", "request_id", "status", "latency_ms", "detail")
LOGS_DDL = (
    "CREATE TABLE logs (time DOUBLE, node VARCHAR, event VARCHAR, request_id VARCHAR, status INTEGER, "
    "latency_ms DOUBLE, detail VARCHAR)"
)


@dataclass(frozen=True)
class Record:
    time: float
    node: str
    event: str
    request_id: str | None
    status: int | None
    latency_ms: float | None
    detail: str


class LogSink:
    """Where every node of a cluster writes its structured log records."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self.enabled = False
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def enable(self) -> LogSink:
        self.enabled = True
        return self

    def new_request_id(self) -> str:
        return f"req-{next(self._ids):06d}"

    def emit(
        self,
        node: str,
        event: str,
        request_id: str | None = None,
        *,
        status: int | None = None,
        latency: float | None = None,
        detail: str = "",
    ) -> None:
        """One record (nothing while logging is off). ``latency`` in seconds."""
        if not self.enabled:
            return
        record = Record(
            self.clock.now(), node, event, request_id, status, None if latency is None else latency * 1000, detail
        )
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def to_duckdb(self, database) -> int:
        """Load every record into a new table ``logs`` of ``database`` (a DatabaseNode); returns how many."""
        records = self.records
        database.execute(LOGS_DDL)
        if records:
            database.bulk_load("logs", {name: [getattr(r, name) for r in records] for name in COLUMNS})
        return len(records)
