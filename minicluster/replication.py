"""Replication: every write goes into a numbered log, and other databases copy the log in order.

Think of a teacher writing on a board, numbering each line, and students copying the board into
their own notebooks, line by line, each at its own pace. The number of a line is its **log sequence
number** (LSN); how far a student has copied is its **position**. A student who looks away falls
behind (lag); one who was out of the room copies the lines it missed when it comes back, or, if the
board was wiped meanwhile, photocopies a classmate's notebook (a snapshot) and goes on from there.

Here a :class:`Member` is one database server of a replicated group: a DuckDB file (a
:class:`~minicluster.storage.DatabaseNode`) holding the table ``kv (key, value, origin, origin_lsn,
written_at)``, plus its log. A write accepted by a member is applied to its file and appended to its log, in
one step under the member's write lock (log order is commit order). A member that *follows* another
runs a thread that pulls the other's log across the network (a partition stops it), waits out its
injected lag, applies each change in order (paying the database's query time on one of its cores,
as a real replica does) and appends it to its own log, so that others can follow it in turn.

The shapes the notes name are all built from that one mechanism:

=========================  =========================================  ===========================================
shape                      who follows whom                           what it shows
=========================  =========================================  ===========================================
:class:`ReplicaSet`        replicas follow one primary                 reads spread, writes don't; lag and stale
(master-slave)             (``mode``: async, semi-sync, sync)          reads; failover, lost writes, fencing
:func:`multi_master`       each master follows the others              concurrent writes to one key conflict;
                                                                       last-writer-wins drops updates
:func:`ring`               each member follows the one before it       one member down and propagation stops
                           (circular replication)                      behind it
=========================  =========================================  ===========================================

A change remembers where it was first written (``origin``, ``origin_lsn``) and what its writer had
already seen of every other origin (``seen``): a member never re-applies its own changes (that stops a
ring's loop), and it knows a change is a **conflict** when the row it would replace holds a write that
the change's writer had not seen. Conflicts are resolved last writer wins (the later ``at``, then the
larger origin name); the loser is counted, not kept.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .clock import Clock, RealClock
from .errors import (
    ConfigError,
    Fenced,
    NetworkPartition,
    NodeDown,
    NoReplicaToPromote,
    ReadOnly,
    ReplicationTimeout,
    check_positive,
)
from .storage import DatabaseNode

KV_DDL = (
    "CREATE TABLE IF NOT EXISTS kv (key BIGINT PRIMARY KEY, value VARCHAR, origin VARCHAR, "
    "origin_lsn BIGINT, written_at DOUBLE)"
)
_UPSERT = "INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)"
_BULK = "INSERT INTO kv SELECT UNNEST($1), UNNEST($2), UNNEST($3), UNNEST($4), UNNEST($5)"
#: The host of the failover manager (MHA, Orchestrator, Patroni play this part): what it cannot reach,
#: it cannot promote.
MONITOR = "monitor"
MODES = ("async", "semi-sync", "sync")


@dataclass(frozen=True)
class Change:
    """One write as the log carries it: a row image (``key`` gets ``value``), not the statement."""

    #: Position in the log of the member this copy of the change is read from (1, 2, 3, ...).
    lsn: int
    key: int
    value: str | None
    #: The member that accepted the write from a client, and the LSN it had there.
    origin: str
    origin_lsn: int
    #: When the origin committed it (its clock): lag in seconds is measured against this.
    at: float
    #: What the writer had applied of each other origin when it wrote: ``((origin, origin_lsn), ...)``.
    seen: tuple[tuple[str, int], ...] = ()


class ReplicationLog:
    """An append-only, numbered list of changes that followers read by position.

    ``retain`` keeps only the newest changes (a real server recycles old log files): a follower that
    needs an older one must be rebuilt from a snapshot.
    """

    def __init__(self, *, start: int = 0, retain: int | None = None) -> None:
        if retain is not None:
            check_positive("retain", retain, integer=True)
        self._changes: list[Change] = []
        self._first = start + 1  # the LSN of _changes[0]
        self._last = start
        self.retain = retain
        self._grew = threading.Condition()

    @property
    def last_lsn(self) -> int:
        return self._last

    @property
    def first_lsn(self) -> int:
        """The oldest LSN still held (``last_lsn + 1`` when empty)."""
        return self._first

    def append(self, make: Callable[[int], Change]) -> Change:
        """Append ``make(lsn)`` at the next LSN (call under the writer's lock: order is commit order)."""
        with self._grew:
            change = make(self._last + 1)
            self._changes.append(change)
            self._last = change.lsn
            if self.retain is not None and len(self._changes) > self.retain:
                dropped = len(self._changes) - self.retain
                del self._changes[:dropped]
                self._first += dropped
            self._grew.notify_all()
        return change

    def since(self, position: int, limit: int = 512) -> list[Change]:
        """The changes after ``position``, oldest first; :class:`LookupError` if some were recycled."""
        with self._grew:
            if position + 1 < self._first:
                raise LookupError(f"changes {position + 1}..{self._first - 1} were recycled")
            start = position + 1 - self._first
            return self._changes[start : start + limit]

    def wait_beyond(self, position: int, timeout: float) -> bool:
        """Block until the log holds a change after ``position`` (True) or ``timeout`` passes (False)."""
        with self._grew:
            return self._grew.wait_for(lambda: self._last > position, timeout)

    def wake(self) -> None:
        """Wake every follower waiting on this log (to stop, or to notice a fault)."""
        with self._grew:
            self._grew.notify_all()


class Member:
    """One database server of a replicated group: its DuckDB file, its log, what it follows.

    ``writable`` members accept writes from clients; the others raise :class:`ReadOnly`. ``lag`` delays
    applying each change until ``lag`` seconds after its origin committed it (the :class:`~minicluster.
    faults.Lag` fault sets it). Positions are kept in memory, by this object, which outlives a crash of
    the node (the node's file keeps its rows, as DuckDB's WAL does).
    """

    def __init__(self, node: DatabaseNode, *, network=None, clock: Clock | None = None, retain: int | None = None):
        if not isinstance(node, DatabaseNode):
            raise ConfigError(f"a replication member is a database node, got {node!r}")
        self.node = node
        self.name = node.name
        self.network = network
        self.clock: Clock = clock or node.clock or RealClock()
        self.log = ReplicationLog(retain=retain)
        self.writable = False
        self.epoch = 0
        #: The member this one copies from, and the position reached in that member's log.
        self.upstream: Member | None = None
        self.position = 0
        self.lag = 0.0
        #: Highest ``origin_lsn`` applied per origin (its own writes included).
        self.origins: dict[str, int] = {}
        self.conflicts = 0
        self.snapshots = 0
        self._fence: Fence | None = None
        self._write_lock = threading.RLock()
        self._applied = threading.Condition()
        self._local = threading.local()
        self._connections: list = []
        self._connections_lock = threading.Lock()
        #: Conditions notified after each applied batch (a replica set waiting for acknowledgements).
        self.listeners: list[threading.Condition] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        node.execute(KV_DDL)

    # -- the data ---------------------------------------------------------------------------
    def _conn(self):
        """This thread's connection (DuckDB: never share one between threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn._closed:
            conn = self._local.conn = self.node.connect()
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _hop(self, from_host: str | None) -> None:
        if self.network is not None and from_host is not None:
            self.network.hop(from_host, self.node.host)

    def read(self, key: int, *, client: str | None = None) -> str | None:
        """The value of ``key`` here (``None`` if it has none), from ``client``'s host across the network."""
        self._hop(client)
        self.node.ensure_up()
        row = self._conn().execute("SELECT value FROM kv WHERE key = ?", [key]).fetchone()
        if self.network is not None and client is not None:
            self.network.hop(self.node.host, client)
        return None if row is None else row[0]

    def rows(self) -> dict[int, str | None]:
        """Every key and value stored here (for checks; bypasses the network and the node's health)."""
        with self.node.connect() as conn:
            return dict(conn.execute("SELECT key, value FROM kv ORDER BY key").fetchall())

    def write(self, key: int, value: str | None, *, client: str | None = None) -> Change:
        """Accept a write from a client: apply it here and append it to this member's log."""
        if not isinstance(key, int) or isinstance(key, bool):
            raise ConfigError(f"a key is an integer, got {key!r}")
        self._hop(client)
        self.node.ensure_up()
        if not self.writable:
            raise ReadOnly(f"{self.name} is a read-only replica: send writes to the primary")
        if self._fence is not None and self._fence.epoch != self.epoch:
            raise Fenced(
                f"{self.name} was primary in epoch {self.epoch}, but epoch {self._fence.epoch} has begun: "
                "it no longer accepts writes"
            )
        with self._write_lock:
            origin_lsn = self.origins.get(self.name, 0) + 1
            at = self.clock.now()
            conn = self._conn()
            conn.execute(_UPSERT, [key, value, self.name, origin_lsn, at])
            seen = tuple(sorted((o, n) for o, n in self.origins.items() if o != self.name))
            change = self.log.append(lambda lsn: Change(lsn, key, value, self.name, origin_lsn, at, seen))
            with self._applied:
                self.origins[self.name] = origin_lsn
                self._applied.notify_all()
        if self.network is not None and client is not None:
            self.network.hop(self.node.host, client)
        return change

    # -- following --------------------------------------------------------------------------
    @property
    def applied_lsn(self) -> int:
        """How far this member has applied its upstream's log (its position)."""
        return self.position

    @property
    def is_up(self) -> bool:
        """Whether this member's server is running."""
        return self.node.is_up

    @property
    def reachable(self) -> bool:
        """Whether the failover manager (on host :data:`MONITOR`) can reach this member's host."""
        return self.network is None or not self.network.is_partitioned(MONITOR, self.node.host)

    @property
    def behind(self) -> int:
        """Changes in the upstream's log not applied here yet (0 without an upstream)."""
        return 0 if self.upstream is None else max(0, self.upstream.log.last_lsn - self.position)

    @property
    def lag_seconds(self) -> float:
        """How old the oldest change not applied here is (0 when caught up)."""
        if self.upstream is None:
            return 0.0
        try:
            pending = self.upstream.log.since(self.position, limit=1)
        except LookupError:
            return float("inf")
        return max(0.0, self.clock.now() - pending[0].at) if pending else 0.0

    def follow(self, upstream: Member | None, *, position: int | None = None, thread: bool = True) -> None:
        """Copy ``upstream``'s log from ``position`` on (default: where it is now); ``None`` stops following.

        With ``thread=False`` nothing copies on its own: :meth:`pump` applies what is due when called
        (a simulation on a manual clock does that once per tick, which makes it exact).
        """
        if upstream is self:
            raise ConfigError(f"{self.name} cannot follow itself")
        with self._write_lock:
            self.upstream = upstream
            if position is not None:
                self.position = position
        if upstream is not None and thread and self._thread is None:
            # One thread per member for its whole life: it idles while there is nothing to follow.
            self._thread = threading.Thread(target=self._run, name=f"replicate-{self.name}", daemon=True)
            self._thread.start()

    def wait_for(self, lsn: int, timeout: float) -> bool:
        """Block until this member has applied its upstream's log up to ``lsn`` (True) or ``timeout``."""
        with self._applied:
            return self._applied.wait_for(lambda: self.position >= lsn, timeout)

    def wait_for_origin(self, origin: str, origin_lsn: int, timeout: float) -> bool:
        """Block until this member holds ``origin``'s write number ``origin_lsn`` (True) or ``timeout``."""
        with self._applied:
            return self._applied.wait_for(lambda: self.origins.get(origin, 0) >= origin_lsn, timeout)

    def _run(self) -> None:
        poll = 0.01
        while not self._stop.is_set():
            upstream = self.upstream
            if upstream is None or not (self.node.is_up and upstream.node.is_up):
                self._stop.wait(poll)
                continue
            try:
                batch = upstream.log.since(self.position)
            except LookupError:
                try:
                    self._rebuild_from(upstream)
                except (NodeDown, NetworkPartition):  # either end went down under the snapshot: again later
                    self._stop.wait(poll)
                continue
            if not batch:
                upstream.log.wait_beyond(self.position, poll)
                continue
            due = self._due(batch)
            if not due:
                self._stop.wait(min(poll, batch[0].at + self.lag - self.clock.now()))
                continue
            try:
                if self.network is not None:
                    self.network.hop(upstream.node.host, self.node.host)
                self._apply(due)
            except (NodeDown, NetworkPartition):
                self._stop.wait(poll)

    def _due(self, batch: Sequence[Change]) -> list[Change]:
        """The changes of ``batch`` old enough to apply (committed ``lag`` seconds ago or more): only a
        prefix, since the log is applied in order whatever the times of forwarded changes."""
        ready = self.clock.now() - self.lag
        return list(itertools.takewhile(lambda c: c.at <= ready, batch))

    def pump(self) -> int:
        """Apply, now, every change of the upstream's log that is due (older than the lag); returns how
        many. Nothing when this member or its upstream is down."""
        upstream = self.upstream
        if upstream is None or not (self.node.is_up and upstream.node.is_up):
            return 0
        due = self._due(upstream.log.since(self.position, limit=10**9))
        if due:
            self._apply(due)
        return len(due)

    @contextlib.contextmanager
    def _transaction(self):
        """This thread's connection inside one transaction, committed at the end. On any error (this node
        crashing under it, say) the connection is closed, which rolls the transaction back without asking
        whether the node is up, as a crashed server drops its connections and their transactions; the next
        statement reconnects. (A ``ROLLBACK`` sent through the connection would be refused by a node that
        is down, leaving the transaction open: the next ``BEGIN`` then failed and ended the thread.)"""
        conn = self._conn()
        conn.execute("BEGIN TRANSACTION")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise

    def _apply(self, changes: Sequence[Change]) -> None:
        """Apply ``changes`` in one transaction, then move the position past them."""
        with self._write_lock:
            with self._transaction() as conn:
                kept = [c for c in changes if c.origin != self.name and self._wins(conn, c)]
                for c in kept:
                    conn.execute(_UPSERT, [c.key, c.value, c.origin, c.origin_lsn, c.at])
            for c in changes:
                if c.origin != self.name:
                    self.log.append(lambda lsn, c=c: Change(lsn, c.key, c.value, c.origin, c.origin_lsn, c.at, c.seen))
            with self._applied:
                self.position = changes[-1].lsn
                for c in changes:
                    self.origins[c.origin] = max(self.origins.get(c.origin, 0), c.origin_lsn)
                self._applied.notify_all()
        for listener in self.listeners:
            with listener:
                listener.notify_all()

    def _wins(self, conn, change: Change) -> bool:
        """Whether ``change`` replaces the local row: always for a plain replica; last writer wins when the
        local row holds a write the change's writer had not seen (a conflict, counted)."""
        if not self.writable:
            return True
        row = conn.execute("SELECT origin, origin_lsn, written_at FROM kv WHERE key = ?", [change.key]).fetchone()
        if row is None:
            return True
        origin, origin_lsn, at = row
        if origin == change.origin or dict(change.seen).get(origin, 0) >= origin_lsn:
            return True  # the writer had seen the local row: a plain update, not a conflict
        self.conflicts += 1
        return (change.at, change.origin) > (at, origin)

    def _rebuild_from(self, source: Member) -> None:
        """Replace this member's rows by a snapshot of ``source``'s and go on from its log's end."""
        with source._write_lock:
            rows = source._conn().execute("SELECT * FROM kv").fetchall()
            position, origins = source.log.last_lsn, dict(source.origins)
        with self._write_lock:
            with self._transaction() as conn:
                conn.execute("DELETE FROM kv")
                if rows:
                    columns = [list(column) for column in zip(*rows)]
                    conn.execute(_BULK, columns)
            # The log starts where the snapshot ends, so its LSNs go on as the source's do: after a
            # promotion the others keep their positions.
            self.log = ReplicationLog(start=position, retain=self.log.retain)
            with self._applied:
                self.position, self.origins = position, origins
                self.snapshots += 1
                self._applied.notify_all()

    def stop(self) -> None:
        """Stop following and close this member's connections."""
        self._stop.set()
        if self.upstream is not None:
            self.upstream.log.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def __repr__(self) -> str:
        role = "writable" if self.writable else f"following {self.upstream.name if self.upstream else 'nobody'}"
        return f"<Member {self.name} {role} at {self.position} ({self.node.health.value})>"


@dataclass
class Fence:
    """The current epoch, kept where every member checks it before accepting a write (a coordinator).

    Promotion starts a new epoch; a member promoted in an older one refuses writes (it is *fenced*).
    """

    epoch: int = 1


class ReadRouter(Protocol):
    """Picks the member a user's read goes to; told of each write that user makes."""

    def choose(self, user: int, primary: Member, replicas: Sequence[Member]) -> Member: ...


class PrimaryOnly:
    """Every read to the primary: never stale, and no read is spread (replicas only stand by)."""

    def choose(self, user, primary, replicas):
        return primary

    def wrote(self, user, lsn):
        pass


class AnyReplica:
    """Reads round robin over the replicas that are up, the primary when none is: spreads reads, and a
    user may not see their own write (a stale read) until the replica catches up."""

    def __init__(self) -> None:
        self._next = itertools.count()

    def choose(self, user, primary, replicas):
        up = [r for r in replicas if r.node.is_up]
        return up[next(self._next) % len(up)] if up else primary

    def wrote(self, user, lsn):
        pass


@dataclass
class Ack:
    """What a write through :meth:`ReplicaSet.write` returns: its change and who had applied it."""

    change: Change
    acked_by: list[str] = field(default_factory=list)

    @property
    def lsn(self) -> int:
        return self.change.lsn


class ReplicaSet:
    """A primary and its replicas (master-slave), with the write modes and a failover.

    * ``mode="async"``: a write returns once the primary has it. Fast; the replicas' lag is a window of
      acknowledged writes that a primary crash loses.
    * ``"semi-sync"``: a write also waits until one replica has applied it (MySQL's semi-synchronous
      replication), falling back to async after ``ack_timeout`` with no replica (counted in
      ``fallbacks``). No acknowledged write is lost when the most advanced replica is promoted.
    * ``"sync"``: a write waits for every replica that is up; :class:`ReplicationTimeout` after
      ``ack_timeout`` (the write stays on the primary, unacknowledged).

    ``fencing`` makes a promotion start a new epoch that the old primary must hold to write: when it
    comes back it refuses writes instead of taking them alone (split brain).
    """

    def __init__(
        self,
        cluster,
        primary: DatabaseNode,
        replicas: Iterable[DatabaseNode] = (),
        *,
        mode: str = "async",
        ack_timeout: float = 1.0,
        fencing: bool = True,
        router: ReadRouter | None = None,
        retain: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"mode is one of {', '.join(MODES)}, got {mode!r}")
        check_positive("ack_timeout", ack_timeout)
        self.cluster = cluster
        self.mode = mode
        self.ack_timeout = ack_timeout
        self.fence = Fence() if fencing else None
        self.router = router or AnyReplica()
        self.fallbacks = 0
        #: Who the diagram draws writing and reading (the names of the nodes that use the set).
        self.clients = ["client"]
        self._retain = retain
        #: Notified whenever any member applies changes: writes waiting for acknowledgements wait on it.
        self._progress = threading.Condition()
        self.primary = self._member(primary)
        self.primary.writable = True
        self.primary.epoch = 1
        self.primary._fence = self.fence
        self.replicas: list[Member] = []
        self.former: list[Member] = []
        for node in replicas:
            self.add_replica(node)
        cluster.link_sources.append(self._links)
        cluster.on_close(self.stop)

    def _member(self, node: DatabaseNode) -> Member:
        member = Member(node, network=self.cluster.network, clock=self.cluster.clock, retain=self._retain)
        member.listeners.append(self._progress)
        return member

    def add_replica(self, node: DatabaseNode) -> Member:
        """A new replica of the current primary, seeded from a snapshot of it, then following its log."""
        member = self._member(node)
        member._rebuild_from(self.primary)
        member.follow(self.primary)
        self.replicas.append(member)
        return member

    def members(self) -> list[Member]:
        return [self.primary, *self.replicas]

    def member(self, name: str) -> Member:
        for m in [*self.members(), *self.former]:
            if m.name == name:
                return m
        raise ConfigError(f"no member named {name!r} (members: {', '.join(m.name for m in self.members())})")

    # -- the clients' side ------------------------------------------------------------------
    def write(self, key: int, value: str | None, *, user: int | None = None, client: str | None = None) -> Ack:
        """Write through the current primary, waiting for acknowledgements as ``mode`` says."""
        primary = self.primary
        change = primary.write(key, value, client=client)
        ack = Ack(change)
        if self.mode != "async":
            ack.acked_by = self._wait_for_acks(primary, change.lsn)
        if user is not None and hasattr(self.router, "wrote"):
            self.router.wrote(user, change.lsn)
        return ack

    def _wait_for_acks(self, primary: Member, lsn: int) -> list[str]:
        followers = [r for r in self.replicas if r.upstream is primary and r.node.is_up]
        needed = 1 if self.mode == "semi-sync" else len(followers)
        acked: list[str] = []

        def enough() -> bool:
            acked[:] = [r.name for r in followers if r.position >= lsn]
            return len(acked) >= needed

        deadline = self.cluster.clock.now() + self.ack_timeout
        while True:
            with self._progress:
                done = self._progress.wait_for(enough, min(0.02, max(0.0, deadline - self.cluster.clock.now())))
            if done:
                return list(acked)
            if not primary.node.is_up:
                # The client's connection broke before the acknowledgement: it must not count the write
                # as done (it may or may not survive, depending on which replica is promoted).
                raise NodeDown(f"{primary.name} went down before write {lsn} was acknowledged")
            if self.cluster.clock.now() >= deadline:
                break
        if self.mode == "semi-sync":
            self.fallbacks += 1
            return list(acked)
        missing = ", ".join(r.name for r in followers if r.name not in acked)
        raise ReplicationTimeout(
            f"write {lsn} is on {primary.name} but {missing} did not apply it within {self.ack_timeout:g} s"
        )

    def read(self, key: int, *, user: int = 0, client: str | None = None) -> tuple[str | None, Member]:
        """Read ``key`` where the router sends ``user``; returns the value and the member that answered.

        A read sent to a member that is down goes to the primary instead (the replica's failure costs
        the primary load, not the user an error).
        """
        member = self.router.choose(user, self.primary, self.replicas)
        try:
            return member.read(key, client=client), member
        except (NodeDown, NetworkPartition):
            if member is self.primary:
                raise
            return self.primary.read(key, client=client), self.primary

    # -- failover ---------------------------------------------------------------------------
    def failover(self, choose: Callable | None = None) -> Member:
        """Promote the replica ``choose(primary, replicas)`` returns (default: the one that is up and has
        applied the most) to primary: a new epoch begins, the others follow it, the old one is set aside."""
        choose = choose or _most_advanced_up
        new = choose(self.primary, self.replicas)
        if new is None:
            raise ConfigError(f"the primary {self.primary.name} is up: there is nothing to fail over")
        if new not in self.replicas:
            raise ConfigError(f"{new!r} is not a replica of this set")
        old = self.primary
        lost = old.log.last_lsn - new.position
        new.follow(None)
        new.writable = True
        if self.fence is not None:
            self.fence.epoch += 1
            new.epoch = self.fence.epoch
            new._fence = self.fence
        self.primary = new
        self.replicas = [r for r in self.replicas if r is not new]
        self.former.append(old)
        for replica in self.replicas:
            # LSNs go on across the promotion (the new primary's log continues the old numbering), so a
            # replica behind the new primary follows it from where it is. One ahead of it holds writes the
            # new history does not have: it is rebuilt from a snapshot.
            if replica.position > new.position:
                replica._rebuild_from(new)
            replica.follow(new)
        self.cluster.timeline.record(
            "reaction", "promote", new.name, source="failover", detail=f"{lost} changes of {old.name} not on it"
        )
        return new

    def rejoin(self, member: Member) -> None:
        """A former primary (or any member) comes back as a replica of the current primary, rebuilt from a
        snapshot: whatever it accepted alone is discarded (what ``pg_rewind`` does)."""
        if member is self.primary:
            raise ConfigError(f"{member.name} is the primary")
        member.writable = False
        member._fence = None
        member._rebuild_from(self.primary)
        member.follow(self.primary)
        if member in self.former:
            self.former.remove(member)
        if member not in self.replicas:
            self.replicas.append(member)
        self.cluster.timeline.record("reaction", "rejoin", member.name, source="failover")

    def _links(self) -> list[tuple[str, str, str, bool]]:
        links = [(c, self.primary.name, "writes", self.primary.node.is_up) for c in self.clients]
        for r in self.replicas:
            links += [(c, r.name, "reads", r.node.is_up) for c in self.clients]
            links.append(
                (self.primary.name, r.name, f"log → LSN {r.position}", r.node.is_up and self.primary.node.is_up)
            )
        return links

    def stop(self) -> None:
        for m in [*self.members(), *self.former]:
            m.stop()


def _most_advanced_up(primary: Member, replicas: Sequence[Member]) -> Member:
    """An operator's plain rule: the replica that is up and has applied the most (the first of equals).
    It does not ask whether the failover manager can reach it, nor whether the primary is really gone:
    exercise ``04.promote`` is the careful version."""
    alive = [r for r in replicas if r.is_up]
    if not alive:
        raise NoReplicaToPromote(f"{primary.name} is to be replaced and no replica is up")
    return max(alive, key=lambda r: r.position)


class Group:
    """Members that each accept writes and follow one another (multi-master, a ring)."""

    def __init__(self, cluster, members: list[Member], shape: str) -> None:
        self.cluster = cluster
        self.members = members
        self.shape = shape
        cluster.link_sources.append(self._links)
        cluster.on_close(self.stop)

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise ConfigError(f"no member named {name!r} (members: {', '.join(m.name for m in self.members)})")

    def holders(self, change: Change) -> list[str]:
        """The members that hold ``change`` (its origin's write number ``origin_lsn``)."""
        return [m.name for m in self.members if m.origins.get(change.origin, 0) >= change.origin_lsn]

    def _links(self) -> list[tuple[str, str, str, bool]]:
        return [
            (m.upstream.name, m.name, f"log → {m.position}", m.node.is_up and m.upstream.node.is_up)
            for m in self.members
            if m.upstream is not None
        ]

    def stop(self) -> None:
        for m in self.members:
            m.stop()


def ring(cluster, nodes: Sequence[DatabaseNode], *, shape: str = "ring") -> Group:
    """Circular replication: every member accepts writes and follows the one before it (the first follows
    the last). A change travels the ring until it comes back to its origin, which skips it."""
    if len(nodes) < 2:
        raise ConfigError(f"{shape} replication needs at least two database nodes, got {len(nodes)}")
    members = [Member(n, network=cluster.network, clock=cluster.clock) for n in nodes]
    for m in members:
        m.writable = True
    for i, m in enumerate(members):
        m.follow(members[i - 1])
    return Group(cluster, members, shape)


def multi_master(cluster, a: DatabaseNode, b: DatabaseNode) -> Group:
    """Two masters, each accepting writes and following the other (a ring of two)."""
    return ring(cluster, [a, b], shape="multi-master")
