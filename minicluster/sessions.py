"""Sessions: who a user is between two requests, and where that is kept.

Think of a cloakroom. The user hands in a coat (logs in) and gets a ticket (the session id, sent back
as a cookie); every later request shows the ticket. If each web server runs its own cloakroom, a
user must always come back to the same server (sticky sessions), and when that server goes, so do the
coats. A **stateless** web tier keeps one shared cloakroom (a session store) that every server can
reach: any server can serve any request, servers can die and be added freely.

The stores, side by side (each has ``get(sid)``, ``put(sid, data)`` and ``delete(sid)``):

=====================  ==============================================  ==========================================
store                  how it keeps and expires sessions              use it when / beware
=====================  ==============================================  ==========================================
:class:`LocalSessions` a dict inside one web server                    never in a fleet: lost with its server,
                                                                       and it forces sticky sessions
:class:`RedisSessions` a key per session with a TTL that Redis         the usual choice: fast reads and writes,
                       enforces; each read slides it                   expiry for free, shards by key
:class:`SQLSessions`   a row per session with ``expires_at``; reads    sessions must join other tables or need
                       skip expired rows, a cleanup job deletes them   transactions, and traffic is modest: each
                                                                       request is a row written
=====================  ==============================================  ==========================================
"""

from __future__ import annotations

import json
import threading

from .clock import Clock, RealClock
from .errors import check_positive


def _check_ttl(ttl: float) -> float:
    check_positive("session ttl", ttl)
    return float(ttl)


class LocalSessions:
    """Sessions in this process's memory, with no expiry (one per web server: stateful). Kept as JSON
    text like the other stores, so a caller never shares a dict with the store."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, sid: str) -> dict | None:
        with self._lock:
            data = self._data.get(sid)
        return None if data is None else json.loads(data)

    def put(self, sid: str, data: dict) -> None:
        text = json.dumps(data)
        with self._lock:
            self._data[sid] = text

    def delete(self, sid: str) -> None:
        with self._lock:
            self._data.pop(sid, None)

    def __len__(self) -> int:
        return len(self._data)


class RedisSessions:
    """Sessions in Redis (any redis-py client: a cache node's, or a web server's ``ctx.cache``), under
    ``session:<sid>`` with a TTL of ``ttl`` seconds that every read and write renews (sliding expiry)."""

    def __init__(self, client, ttl: float = 1800) -> None:
        self.client = client
        self.ttl = _check_ttl(ttl)

    def _key(self, sid: str) -> str:
        return f"session:{sid}"

    def get(self, sid: str) -> dict | None:
        raw = self.client.get(self._key(sid))
        if raw is None:
            return None
        self.client.pexpire(self._key(sid), round(self.ttl * 1000))
        return json.loads(raw)

    def put(self, sid: str, data: dict) -> None:
        self.client.set(self._key(sid), json.dumps(data), px=round(self.ttl * 1000))

    def delete(self, sid: str) -> None:
        self.client.delete(self._key(sid))


SESSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS sessions (sid VARCHAR PRIMARY KEY, data VARCHAR NOT NULL, expires_at DOUBLE NOT NULL)"
)


class SQLSessions:
    """Sessions in a ``sessions`` table of a relational database (any DB-API connection: a web server's
    ``ctx.db``). A read ignores an expired row, but the row stays until :meth:`cleanup` (a job that
    someone must schedule) deletes it. Times come from ``clock``."""

    def __init__(self, conn, ttl: float = 1800, clock: Clock | None = None) -> None:
        self.conn = conn
        self.ttl = _check_ttl(ttl)
        self.clock: Clock = clock or RealClock()

    def get(self, sid: str) -> dict | None:
        now = self.clock.now()
        row = self.conn.execute("SELECT data FROM sessions WHERE sid = ? AND expires_at > ?", [sid, now]).fetchone()
        if row is None:
            return None
        self.conn.execute("UPDATE sessions SET expires_at = ? WHERE sid = ?", [now + self.ttl, sid])
        return json.loads(row[0])

    def put(self, sid: str, data: dict) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", [sid, json.dumps(data), self.clock.now() + self.ttl]
        )

    def delete(self, sid: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE sid = ?", [sid])

    def cleanup(self) -> int:
        """Delete the expired rows; returns how many."""
        now = self.clock.now()
        (count,) = self.conn.execute("SELECT count(*) FROM sessions WHERE expires_at <= ?", [now]).fetchone()
        self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
        return count
