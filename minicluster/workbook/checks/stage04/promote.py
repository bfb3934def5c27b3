"""Checker of ``04.promote``: the promotion rule at its edges, then a real failover counted write by write."""

from __future__ import annotations

from dataclasses import dataclass

from ....cluster import Cluster
from ....errors import NoReplicaToPromote
from ....replication import MONITOR, ReplicaSet
from ..base import Checker, Failure, describe


@dataclass(eq=False)
class _Member:
    """A member as the failover manager sees it."""

    name: str
    applied_lsn: int = 0
    is_up: bool = True
    reachable: bool = True
    lag_seconds: float = 0.0

    def __repr__(self) -> str:
        state = [] if self.is_up else ["down"]
        state += [] if self.reachable else ["unreachable"]
        extra = f", {', '.join(state)}" if state else ""
        return f"{self.name} (applied {self.applied_lsn}, lag {self.lag_seconds:g} s{extra})"


def _primary(up: bool = False, reachable: bool = True) -> _Member:
    return _Member("primary", 100, is_up=up, reachable=reachable)


class PromoteCheck(Checker):
    """Whether to fail over, whom to promote, ties and dead ends; then lost writes on a real replica set."""

    exercise_id = "04.promote"

    #: (what it shows, primary, replicas, the expected replica's name, or None, or NoReplicaToPromote)
    cases = (
        ("the primary is up and reachable", lambda: _primary(up=True), [("r1", 90), ("r2", 95)], None),
        ("the primary is down", _primary, [("r1", 90), ("r2", 95), ("r3", 70)], "r2"),
        ("the primary is running but the manager cannot reach it", lambda: _primary(up=True, reachable=False),
         [("r1", 90), ("r2", 80)], "r1"),
        ("the most advanced replica is down", _primary, [("r1", 90), ("r2", 99, False), ("r3", 85)], "r1"),
        ("the most advanced replica is cut off from the manager by a partition", _primary,
         [("r1", 90), ("r2", 99, True, False), ("r3", 85)], "r1"),
        ("two replicas tie, listed with the later name first", _primary, [("r3", 50), ("r2", 97), ("r1", 97)], "r1"),
        ("the replica with the least lag in seconds is not the one with the most of the log", _primary,
         [("r1", 60, True, True, 0.01), ("r2", 95, True, True, 2.5)], "r2"),
        ("every replica is down", _primary, [("r1", 90, False), ("r2", 95, False)], NoReplicaToPromote),
        ("the only replica that is up is unreachable", _primary, [("r1", 90, False), ("r2", 95, True, False)],
         NoReplicaToPromote),
        ("there are no replicas", _primary, [], NoReplicaToPromote),
        ("one replica, far behind", _primary, [("r1", 3)], "r1"),
    )  # fmt: skip
    #: The real run: replicas lagging this much behind a primary taking writes, which then crashes.
    #: replica1 lags so far that it applies none of the writes; replica2, the quickest, is cut off from the
    #: manager; replica3 has every write and is the one to promote.
    run = {"lags": (10.0, 0.01, 0.06), "writes": 60}

    def verify(self, choose) -> list[str]:
        if not callable(choose):
            raise Failure(f"expected a function choose_new_primary(primary, replicas), got {describe(choose)}")
        for what, make_primary, specs, expected in self.cases:
            primary = make_primary()
            replicas = [_Member(*spec) for spec in specs]
            self._expect(choose, what, primary, replicas, expected)
        lost, best, chosen = self.call(self._real_failover, choose, on="a real failover using your choice", within=30)
        if lost != best:
            raise Failure(
                f"on a real replica set whose primary crashed, promoting {chosen} lost {lost} acknowledged writes; "
                f"the most advanced replica that could be promoted would have lost {best}"
            )
        return [
            f"{len(self.cases)} situations: no failover while the primary is up and reachable; only replicas "
            "that are up and reachable; the most of the log, not the least lag in seconds; ties by name; "
            "NoReplicaToPromote when nothing can be promoted",
            f"a real primary crash with replicas lagging behind: your choice lost {lost} acknowledged writes, "
            "the fewest possible",
        ]

    def _expect(self, choose, what, primary, replicas, expected) -> None:
        on = f"choose_new_primary({primary!r}, [{', '.join(map(repr, replicas))}]) — {what}"
        if expected is NoReplicaToPromote:
            self.expect_raises(
                NoReplicaToPromote,
                choose,
                primary,
                list(replicas),
                on=on,
                instead="no replica is both up and reachable: raise NoReplicaToPromote",
            )
            return
        got = self.call(choose, primary, list(replicas), on=on)
        if expected is None:
            if got is not None:
                raise Failure(f"{on}: returned {describe(got)}; the primary is fine, so return None (no failover)")
            return
        if got is None:
            raise Failure(f"{on}: returned None; the primary is lost, so return the replica to promote")
        if not any(got is r for r in replicas):
            raise Failure(f"{on}: returned {describe(got)}; return one of the replica objects you were given")
        if got.name != expected:
            raise Failure(f"{on}: chose {got.name}, which is not the replica to promote here")

    def _real_failover(self, choose) -> tuple[int, int, str]:
        """Writes on a primary whose replicas lag by different amounts; one replica (the least behind) is
        cut off from the manager; the primary crashes; the learner's choice is promoted. Returns the
        acknowledged writes missing on the new primary, the fewest any promotable replica would lose, and
        the name of the chosen one."""
        r = self.run
        with Cluster(seed=4) as cluster:
            primary = cluster.add_database("primary", host="db1")
            nodes = [cluster.add_database(f"replica{i}", host=f"db{i + 1}") for i in range(1, len(r["lags"]) + 1)]
            rs = ReplicaSet(cluster, primary, nodes)
            for member, lag in zip(rs.replicas, r["lags"]):
                cluster.nemesis.lag(member, lag)
            cut_off = min(rs.replicas, key=lambda m: m.lag)
            cluster.nemesis.partition(MONITOR, cut_off.node.host)
            acked = {}
            for key in range(1, r["writes"] + 1):
                rs.write(key, f"v{key}")
                acked[key] = f"v{key}"
            # The others apply every write before the crash (waiting on their positions, never sleeping);
            # the slowest applies none: the positions at the crash are known exactly.
            last = rs.primary.log.last_lsn
            slowest = max(rs.replicas, key=lambda m: m.lag)
            for member in rs.replicas:
                if member is not slowest:
                    member.wait_for(last, timeout=5)
            cluster.nemesis.crash(primary)
            best_position = max(m.applied_lsn for m in rs.replicas if m.is_up and m.reachable)
            chosen = rs.failover(choose=choose)
            survivors = chosen.rows()
            lost = sum(survivors.get(k) != v for k, v in acked.items())
            best = len(acked) - best_position
        return lost, best, chosen.name
