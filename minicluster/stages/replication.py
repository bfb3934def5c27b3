"""Stage 4: the database is copied (replicated) to other servers.

One primary (master) takes every write and numbers it in its log; replicas (slaves) copy the log and
serve reads. The experiments, each on real DuckDB files and real replication threads
(:mod:`minicluster.replication`):

* **reads spread, writes don't**: read throughput grows with the replicas; write throughput stays the
  primary's, and every replica repeats every write.
* **stale reads**: a user who writes and reads back at once, from a replica that lags, sees the old value.
* **the primary dies**: the most advanced replica is promoted; with asynchronous replication the writes
  acknowledged but not yet copied are lost (counted against what the clients were told), with
  semi-synchronous replication none are, at the price of slower writes.
* **the old primary comes back**: with fencing it refuses writes; without, it takes them alone (split brain).
* **a replica dies**: reads go to the others; back up, it catches up from the log, or from a snapshot
  when the log it needs was recycled.
* **two masters** updating the same rows: conflicts, and last-writer-wins losing updates.
* **a ring of three** with one member down: propagation stops behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .. import experiment
from ..cluster import Cluster
from ..errors import MiniclusterError
from ..experiment import Run, Topology
from ..faults import Crash
from ..load import UniformKeys, closed_loop
from ..replication import AnyReplica, Group, Member, PrimaryOnly, ReadRouter, ReplicaSet, multi_master, ring
from ..storage import DatabaseNode

#: The defaults of this stage: each database server has one core and spends 5 ms of it per query, so
#: it answers at most 200 queries a second, and every replica applies every write at the same cost.
QUERY_TIME, CORES = 0.005, 1
#: How many keys the experiments' tables start with.
KEYS = 1000


@dataclass
class Replicated(Topology):
    primary: DatabaseNode
    replicas: list[DatabaseNode]
    set: ReplicaSet

    def target(self):
        """``target(key)``: read ``key`` where the set's router sends user ``key``."""
        return lambda key: self.set.read(key, user=key, client="app")[0]


def build(
    cluster: Cluster,
    *,
    replicas: int = 2,
    mode: str = "async",
    router: ReadRouter | None = None,
    fencing: bool = True,
    query_time: float = QUERY_TIME,
    cores: int = CORES,
    keys: int = KEYS,
    retain: int | None = None,
) -> Replicated:
    """Primary ``db-primary`` on host ``db1`` and replicas ``db-replica1..N`` on ``db2..``, ``keys`` rows
    written before the replicas join (they start from a snapshot)."""
    primary = cluster.add_database("db-primary", host="db1", query_time=query_time, cores=cores)
    nodes = [
        cluster.add_database(f"db-replica{i}", host=f"db{i + 1}", query_time=query_time, cores=cores)
        for i in range(1, replicas + 1)
    ]
    rs = ReplicaSet(cluster, primary, [], mode=mode, router=router, fencing=fencing, retain=retain)
    _seed_rows(rs.primary, keys)
    for node in nodes:
        rs.add_replica(node)
    return Replicated(cluster, primary, nodes, rs)


def _seed_rows(member: Member, keys: int) -> None:
    """``keys`` rows written straight into the member's file (before anyone follows it)."""
    if keys:
        member.node.bulk_load(
            "kv",
            {
                "key": range(1, keys + 1),
                "value": ["v0"] * keys,
                "origin": [member.name] * keys,
                "origin_lsn": [0] * keys,
                "written_at": [0.0] * keys,
            },
        )


# -- reads spread, writes don't ---------------------------------------------------------------


def scaling(replicas: tuple[int, ...] = (0, 1, 2, 4), *, duration: float = 0.5, seed: int = 42) -> Run:
    """For each number of replicas: a read-only load (reads round robin over the replicas, the primary
    when there are none), then a write-only load. Each server: one core, 5 ms a query.

    Columns: read and write throughput, and the ceilings: reads ``max(1, n) / 5 ms``, writes ``1 / 5 ms``
    whatever ``n`` (every write is applied by the primary *and* by each replica).
    """
    rows, loads = [], {}
    ceiling = CORES / QUERY_TIME
    for n in replicas:
        reads, writes, behind = _reads_then_writes(n, duration, seed)
        loads[f"reads, {n} replicas"], loads[f"writes, {n} replicas"] = reads, writes
        rows.append(
            {
                "replicas": n,
                "reads/s": reads.throughput,
                "read max": ceiling * max(1, n),
                "writes/s": writes.throughput,
                "write max": ceiling,
                "replica behind": behind,
                "errors": reads.errors + writes.errors,
            }
        )
    title = f"Reads and writes with 0-{max(replicas)} replicas ({QUERY_TIME * 1000:g} ms a query, {CORES} core each)"
    figures = {
        "reads": {r["replicas"]: r["reads/s"] for r in rows},
        "writes": {r["replicas"]: r["writes/s"] for r in rows},
    }
    return Run(
        title,
        rows,
        loads,
        figures=figures,
        chart="lines",
        axes={"x": "replicas", "y": ["reads/s", "writes/s"], "ylabel": "requests/s"},
    )


class _FreshKeys:
    """Keys never written before, one per call, from many threads (each write a row of its own)."""

    def __init__(self, start: int) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._next += 1
            return self._next


def _reads_then_writes(n: int, duration: float, seed: int):
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, replicas=n)
        reads = closed_loop(stage.target(), users=4 * max(1, n), duration=duration, keys=UniformKeys(KEYS), seed=seed)
        fresh = _FreshKeys(KEYS)
        writes = closed_loop(
            lambda key: stage.set.write(fresh(), f"w{key}", client="app"), users=4, duration=duration, seed=seed
        )
        behind = max((r.behind for r in stage.set.replicas), default=0)
    return reads, writes, behind


# -- stale reads ------------------------------------------------------------------------------


def stale_reads(
    lags: tuple[float, ...] = (0.0, 0.01, 0.05, 0.2),
    *,
    routers: dict[str, Callable[[], ReadRouter]] | None = None,
    users: int = 8,
    rounds: int = 6,
    reads_per_write: int = 4,
    seed: int = 42,
) -> Run:
    """Users who write their own key, then read it back ``reads_per_write`` times at once (a profile
    edited, then the page reloaded). Both replicas lag by ``lag``.

    Columns per lag, for each router: ``<router>: stale %`` (reads that missed the user's own last write)
    and ``<router>: on replicas %`` (reads a replica answered). Default routers: any replica, primary only.
    """
    routers = routers or {"any replica": AnyReplica, "primary only": PrimaryOnly}
    rows = []
    for lag in lags:
        row: dict = {"lag ms": lag * 1000}
        for name, make in routers.items():
            stale, on_replicas, total = _read_back_run(make(), lag, users, rounds, reads_per_write, seed)
            row[f"{name}: stale %"] = stale / total
            row[f"{name}: on replicas %"] = on_replicas / total
        rows.append(row)
    return Run(
        f"{users} users write, then read back {reads_per_write} times; both replicas lag",
        rows,
        chart="lines",
        axes={"x": "lag ms", "y": [f"{name}: stale %" for name in routers], "percent": True, "ylabel": "stale reads"},
    )


def _read_back_run(router: ReadRouter, lag: float, users: int, rounds: int, reads: int, seed: int):
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, replicas=2, router=router, query_time=0.0, keys=0)
        if lag:
            for replica in stage.set.replicas:
                cluster.nemesis.lag(replica, lag)
        return _read_back(stage.set, users, rounds, reads)


def _read_back(rs: ReplicaSet, users: int, rounds: int, reads: int) -> tuple[int, int, int]:
    """Each user thread: write ``user:round``, read it back ``reads`` times; count stale and replica reads."""
    counts = {"stale": 0, "replica": 0, "total": 0}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def user(u: int) -> None:
        try:
            read_back(u)
        except BaseException as exc:  # a router that raises: raised again below, not lost with the thread
            errors.append(exc)

    def read_back(u: int) -> None:
        for r in range(rounds):
            value = f"{u}:{r}"
            rs.write(u, value, user=u, client=f"user{u}")
            for _ in range(reads):
                got, member = rs.read(u, user=u, client=f"user{u}")
                with lock:
                    counts["total"] += 1
                    counts["stale"] += got != value
                    counts["replica"] += member is not rs.primary

    threads = [threading.Thread(target=user, args=(u,)) for u in range(1, users + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return counts["stale"], counts["replica"], counts["total"]


# -- the primary dies -------------------------------------------------------------------------


def primary_crash(
    modes: tuple[str, ...] = ("async", "semi-sync"),
    *,
    lags: tuple[float, ...] = (0.03, 0.1),
    writers: int = 4,
    duration: float = 0.8,
    crash_at: float = 0.4,
    detect: float = 0.05,
    seed: int = 42,
    choose: Callable | None = None,
) -> Run:
    """Writers write fresh keys through the set; the primary crashes at ``crash_at`` and a replica is
    promoted ``detect`` seconds later, the one ``choose(primary, replicas)`` returns (default: the one
    that is up and has applied the most); the writers go on against the new primary.

    The ground truth is what each writer was told: a write that returned is *acknowledged*. After the
    run, every acknowledged write is looked up on the new primary; ``lost`` counts those missing.
    Columns per mode: writes/s, p50 of a write, acknowledged, lost, failed (the writes that raised:
    the outage, and those whose acknowledgement never came).
    """
    rows, loads, timeline = [], {}, []
    figures: dict[str, dict] = {"lost": {}, "acknowledged": {}, "promoted": {}}
    for mode in modes:
        result, events, acked, lost, promoted, ack_ms = _crash_run(
            mode, lags, writers, duration, crash_at, detect, seed, choose
        )
        timeline.extend(events)
        loads[mode] = result
        figures["lost"][mode], figures["acknowledged"][mode] = len(lost), len(acked)
        figures["promoted"][mode] = promoted
        rows.append(
            {
                "mode": mode,
                "acked/s": len(acked) / result.elapsed,
                "ack p50 ms": ack_ms,
                "acknowledged": len(acked),
                "lost": len(lost),
                "failed": result.errors,
            }
        )
    title = f"The primary crashes at {crash_at:g} s; replicas lag {', '.join(f'{x * 1000:g}' for x in lags)} ms"
    return Run(title, rows, loads, timeline, figures, chart="bars", axes={"x": "mode", "y": ["acknowledged", "lost"]})


def _crash_run(mode, lags, writers, duration, crash_at, detect, seed, choose):
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, replicas=len(lags), mode=mode, query_time=0.0, keys=0)
        for replica, lag in zip(stage.set.replicas, lags):
            cluster.nemesis.lag(replica, lag)
        acked: dict[int, str] = {}
        waits: list[float] = []
        fresh = _FreshKeys(0)
        promoted: list[str] = []

        def write(_key: int) -> None:
            key = fresh()
            started = cluster.clock.now()
            stage.set.write(key, f"v{key}", client="app")
            waits.append(cluster.clock.now() - started)
            acked[key] = f"v{key}"  # one key per write: threads never share an entry

        result, events = experiment.under_faults(
            cluster,
            lambda: closed_loop(write, users=writers, duration=duration, think_time=think, seed=seed),
            [
                (crash_at, Crash(stage.primary)),
                (crash_at + detect, lambda: promoted.append(stage.set.failover(choose).name)),
            ],
        )
        survivors = stage.set.primary.rows()
        lost = sorted(k for k, v in acked.items() if survivors.get(k) != v)
    ack_ms = sorted(waits)[len(waits) // 2] * 1000 if waits else float("nan")
    return result, events, acked, lost, promoted[0] if promoted else None, ack_ms


#: A writer's pause between writes: without it, a writer whose primary is down retries in a busy loop.
think = 0.002


# -- the old primary comes back ---------------------------------------------------------------


def old_primary_returns(*, writes: int = 20, seed: int = 42) -> Run:
    """The primary crashes, a replica is promoted, then the old primary comes back up while an
    application server that still has it configured as the primary sends it ``writes`` writes (the
    others write through the set, to the new primary). At last the old primary rejoins as a replica.

    Per setting (no fencing, fencing): writes the old primary ``accepted`` (its client was told OK:
    split brain, two primaries), writes ``refused`` (the client gets an error and can look for the new
    primary), and of the accepted ones, ``lost at rejoin`` (rebuilt from the new primary, it drops them).
    """
    rows, figures = [], {}
    for fencing in (False, True):
        accepted, refused, lost = _old_primary_run(fencing, writes, seed)
        name = "fencing" if fencing else "no fencing"
        figures[name] = {"accepted": accepted, "refused": refused, "lost": lost}
        rows.append({"setting": name, "accepted by old": accepted, "refused": refused, "lost at rejoin": lost})
    return Run(
        "The old primary comes back after a failover",
        rows,
        figures=figures,
        chart="bars",
        axes={"x": "setting", "y": ["accepted by old", "lost at rejoin"]},
    )


def _old_primary_run(fencing: bool, writes: int, seed: int) -> tuple[int, int, int]:
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, replicas=2, fencing=fencing, query_time=0.0, keys=0)
        rs = stage.set
        cluster.nemesis.crash(stage.primary)
        rs.failover()
        cluster.nemesis.recover(stage.primary)
        old = rs.member(stage.primary.name)
        told_ok = {}
        refused = 0
        for key in range(1, writes + 1):
            rs.write(key + writes, f"new{key}", client="app")
            try:
                old.write(key, f"old{key}", client="stale-app")
                told_ok[key] = f"old{key}"
            except MiniclusterError:
                refused += 1
        rs.rejoin(old)
        kept = old.rows()
        lost = sum(kept.get(k) != v for k, v in told_ok.items())
    return len(told_ok), refused, lost


# -- a replica dies ---------------------------------------------------------------------------


def replica_failure(*, retains: tuple[int | None, ...] = (None, 50), writes: int = 200, seed: int = 42) -> Run:
    """Reads over two replicas while ``db-replica1`` is down and ``writes`` writes go on; then it comes
    back. With the whole log kept (``retain=None``) it catches up from the log; when the primary keeps only
    the last ``retain`` changes, the ones it missed are gone and it is rebuilt from a snapshot.

    Columns: failed reads while it was down (they went to the other replica or the primary instead),
    changes behind when it came back, how it caught up, and whether it then matched the primary.
    """
    rows = []
    for retain in retains:
        with Cluster(seed=seed) as cluster:
            stage = build(cluster, replicas=2, query_time=0.0, retain=retain)
            rs = stage.set
            down = rs.replicas[0]
            cluster.nemesis.crash(down.node)
            failed = 0
            for key in range(1, writes + 1):
                rs.write(key, f"w{key}")
                try:
                    rs.read(key, user=key)
                except MiniclusterError:
                    failed += 1
            behind = down.behind
            cluster.nemesis.recover(down.node)
            caught_up = down.wait_for(rs.primary.log.last_lsn, timeout=10)
            same = caught_up and down.rows() == rs.primary.rows()
            how = "snapshot" if down.snapshots > 1 else "log"
        rows.append(
            {
                "log kept": "all" if retain is None else f"last {retain}",
                "failed reads": failed,
                "behind at return": behind,
                "caught up from": how,
                "same rows": same,
            }
        )
    return Run(
        f"db-replica1 down during {writes} writes, then back",
        rows,
        chart="bars",
        axes={"x": "log kept", "y": ["behind at return"]},
    )


# -- two masters ------------------------------------------------------------------------------


def multi_master_conflicts(
    *, writers: int = 4, increments: int = 25, counters: int = 2, lag: float = 0.01, seed: int = 42
) -> Run:
    """``writers`` clients add 1 to one of ``counters`` shared counters, ``increments`` times each (read,
    add one, write back, under the master's own row lock). First with one master, then with two
    masters replicating to each other, half the writers on each, every replication ``lag`` late.

    Columns: increments done, the counters' final sum once the masters agree, lost updates (the
    difference) and the conflicts the masters detected (last writer wins: the older write is dropped).
    """
    rows = []
    for masters in (1, 2):
        final, agree, conflicts = _increments(masters, writers, increments, counters, lag, seed)
        done = writers * increments
        total = sum(int(v) for v in final.values())
        rows.append(
            {
                "masters": masters,
                "increments": done,
                "final sum": total,
                "lost updates": done - total,
                "conflicts": conflicts,
                "masters agree": agree,
            }
        )
    return Run(
        f"{writers} writers increment {counters} counters",
        rows,
        chart="bars",
        axes={"x": "masters", "y": ["increments", "final sum", "lost updates"]},
    )


def _increments(masters: int, writers: int, increments: int, counters: int, lag: float, seed: int):
    with Cluster(seed=seed) as cluster:
        nodes = [cluster.add_database(f"master{i}", host=f"db{i}") for i in range(1, 3)]
        group = multi_master(cluster, *nodes)
        if masters == 2:
            for m in group.members:
                cluster.nemesis.lag(m, lag)
        members = group.members[:masters]
        locks = {m.name: threading.Lock() for m in members}

        def writer(w: int) -> None:
            member = members[w % len(members)]
            rng = cluster.rng("writer", w)
            for _ in range(increments):
                key = rng.randint(1, counters)
                with locks[member.name]:  # the master's row lock: no update is lost on one master
                    value = member.read(key)
                    member.write(key, str(int(value or 0) + 1))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        a, b = group.members
        for src, dst in ((a, b), (b, a)):
            dst.wait_for_origin(src.name, src.origins.get(src.name, 0), timeout=10)
        final = a.rows()
        return final, final == b.rows(), a.conflicts + b.conflicts


# -- a ring -----------------------------------------------------------------------------------


@dataclass
class Ring(Topology):
    members: list[DatabaseNode]
    group: Group


def build_ring(cluster: Cluster, *, size: int = 3) -> Ring:
    """Members ``ring1..N`` on hosts ``db1..N``, each following the one before it (circular replication)."""
    nodes = [cluster.add_database(f"ring{i}", host=f"db{i}") for i in range(1, size + 1)]
    return Ring(cluster, nodes, ring(cluster, nodes))


def ring_with_a_member_down(*, size: int = 3, down: str = "ring2", wait: float = 0.3, seed: int = 42) -> Run:
    """One write at each member of a healthy ring, then ``down`` crashes and each member that is up
    writes again; then ``down`` comes back. Rows: where each write was made and which members hold it,
    ``wait`` seconds later (and after the recovery)."""
    rows = []
    with Cluster(seed=seed) as cluster:
        stage = build_ring(cluster, size=size)
        group = stage.group
        crashed = group.member(down)

        def round_of_writes(phase: str, key_base: int) -> list:
            made = []
            for i, m in enumerate(group.members):
                if m.node.is_up:
                    made.append((phase, m.name, m.write(key_base + i, f"{phase} from {m.name}")))
            for member in group.members:
                if member.node.is_up:
                    for _, _, change in made:
                        member.wait_for_origin(change.origin, change.origin_lsn, wait)
            return made

        healthy = round_of_writes("healthy", 100)
        cluster.nemesis.crash(crashed.node)
        broken = round_of_writes(f"{down} down", 200)
        snapshot = {id(c): group.holders(c) for _, _, c in broken}
        diagram = stage.diagram(f"Ring of {size}, {down} down")
        cluster.nemesis.recover(crashed.node)
        for _, _, change in broken:
            for member in group.members:
                member.wait_for_origin(change.origin, change.origin_lsn, 5)
        for phase, at, change in healthy + broken:
            holders = snapshot.get(id(change), group.holders(change))
            rows.append({"phase": phase, "written at": at, "reached": len(holders), "held by": ", ".join(holders)})
        recovered = all(len(group.holders(c)) == size for _, _, c in broken)
    figures = {"diagram": diagram, "recovered": recovered}
    return Run(
        f"Circular replication over {size} members",
        rows,
        figures=figures,
        chart="bars",
        axes={"x": "written at", "y": ["reached"]},
    )


def headline() -> str:
    """For ``minicluster tour``: reads and writes against replicas, and writes lost when the primary dies."""
    scaled = scaling((0, 1, 2, 4), duration=0.4)
    crash = primary_crash()
    return f"{scaled}\n\n{crash}"
