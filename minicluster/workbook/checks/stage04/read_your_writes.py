"""Checker of ``04.read_your_writes``: the routing rule case by case, raced, then on a real replica set."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ....cluster import Cluster
from ....replication import ReplicaSet
from ..base import Checker, Failure, describe


@dataclass(eq=False)
class _Member:
    """A member as the router sees it, positions set by hand."""

    name: str
    applied_lsn: int = 0
    is_up: bool = True

    def __repr__(self) -> str:
        state = "" if self.is_up else ", down"
        return f"{self.name} (applied {self.applied_lsn}{state})"


class ReadYourWritesCheck(Checker):
    """Fresh replicas only, per user, the highest write kept, turns taken, raced; zero stale reads for real."""

    exercise_id = "04.read_your_writes"
    #: The real run: replicas lagging this much, users writing then reading back.
    run = {"lags": (0.02, 0.08), "users": 6, "rounds": 4, "reads_now": 2, "reads_later": 10}

    def verify(self, router_class) -> list[str]:
        if not callable(router_class):
            raise Failure(f"expected the class ReadYourWrites, got {describe(router_class)}")
        self._rule(router_class)
        self._users_apart(router_class)
        self._highest_write_kept(router_class)
        self._turns(router_class)
        self._simultaneous_writes(router_class)
        r = self.run
        stale, shares, reads = self.call(
            self._real_run, router_class, on="a replica set using your router, replicas lagging", within=30
        )
        if stale:
            raise Failure(
                f"on a real replica set with replicas {r['lags'][0] * 1000:g} and {r['lags'][1] * 1000:g} ms behind, "
                f"{stale} of {reads} reads missed the user's own last write: {stale[0]}"
            )
        if shares < 0.8:
            raise Failure(
                f"no read was stale, but only {shares:.0%} of {reads} reads went to a replica (at least 80%: once "
                "a replica has applied the user's write, reads belong there)"
            )
        return [
            "reads go to the primary exactly while no replica that is up has applied the user's last write "
            "(at or past it), to a replica as soon as one has",
            "each user's last write is kept apart from the others', the highest one when writes arrive out of order",
            "reads take turns among the replicas that qualify",
            "two wrote() calls for one user at the same moment keep the higher position",
            f"on a real replica set with lagging replicas: no stale read, {shares:.0%} of reads on replicas",
        ]

    # -- helpers ------------------------------------------------------------------------------------
    def _new(self, router_class):
        return self.instance(router_class, on="ReadYourWrites()", methods=("wrote", "choose"))

    def _choose(self, router, user, primary, replicas, on):
        got = self.call(router.choose, user, primary, list(replicas), on=on)
        if got is None:
            raise Failure(f"{on}: returned None — did you forget a `return`?")
        if not any(got is m for m in (primary, *replicas)):
            raise Failure(f"{on}: returned {describe(got)}; return the primary or one of the replica objects given")
        return got

    def _expect(self, router, user, primary, replicas, expected, why, on):
        got = self._choose(router, user, primary, replicas, on)
        ok = got in expected if isinstance(expected, list) else got is expected
        if not ok:
            raise Failure(f"{on}: sent the read to {got.name}; {why}")

    # -- the checks ---------------------------------------------------------------------------------
    def _rule(self, router_class) -> None:
        primary, r1, r2 = _Member("primary", 12), _Member("replica1", 5), _Member("replica2", 3)
        router = self._new(router_class)
        self._expect(
            router, 1, primary, [r1, r2], [r1, r2],
            "user 1 has never written, so any replica that is up will do", "choose(user 1) before any write",
        )  # fmt: skip
        self.call(router.wrote, 1, 10, on="wrote(1, 10)")
        r1.applied_lsn = 9
        on = "after wrote(1, 10), replicas at 9 and 3"
        self._expect(router, 1, primary, [r1, r2], primary, "no replica has applied write 10: that read is stale", on)
        r1.applied_lsn = 10
        on = "after wrote(1, 10), replica1 at exactly 10"
        self._expect(
            router, 1, primary, [r1, r2], r1, "replica1 has applied write 10 (its position equals it): use it", on
        )
        r1.is_up, r2.applied_lsn = False, 11
        on = "after wrote(1, 10), replica1 at 10 but down, replica2 at 11"
        self._expect(router, 1, primary, [r1, r2], r2, "replica1 is down; replica2 has the write", on)
        r2.is_up = False
        on = "after wrote(1, 10), both replicas down"
        self._expect(router, 1, primary, [r1, r2], primary, "only the primary is up", on)
        self._expect(router, 1, primary, [], primary, "there are no replicas", "with no replicas at all")

    def _users_apart(self, router_class) -> None:
        primary, r1, r2 = _Member("primary", 30), _Member("replica1", 10), _Member("replica2", 15)
        router = self._new(router_class)
        self.call(router.wrote, 1, 10, on="wrote(1, 10)")
        self.call(router.wrote, 2, 20, on="wrote(2, 20)")
        on = "after wrote(1, 10) and wrote(2, 20), replicas at 10 and 15"
        self._expect(
            router, 1, primary, [r1, r2], [r1, r2],
            "both replicas hold user 1's write 10; user 2's later write does not concern user 1", f"{on}, user 1",
        )  # fmt: skip
        self._expect(router, 2, primary, [r1, r2], primary, "no replica holds user 2's write 20", f"{on}, user 2")
        self._expect(router, 3, primary, [r1, r2], [r1, r2], "user 3 has never written", f"{on}, user 3 (never wrote)")

    def _highest_write_kept(self, router_class) -> None:
        primary, r1 = _Member("primary", 40), _Member("replica1", 27)
        router = self._new(router_class)
        self.call(router.wrote, 3, 30, on="wrote(3, 30)")
        self.call(router.wrote, 3, 25, on="wrote(3, 25) after wrote(3, 30)")
        on = "after wrote(3, 30) then wrote(3, 25) (two requests of user 3 finishing out of order), replica at 27"
        self._expect(
            router, 3, primary, [r1], primary, "user 3's last write is 30, the highest, not the last reported", on
        )

    def _turns(self, router_class) -> None:
        primary = _Member("primary", 9)
        replicas = [_Member(f"replica{i}", 9) for i in range(1, 4)] + [_Member("replica4", 2)]
        router = self._new(router_class)
        self.call(router.wrote, 5, 8, on="wrote(5, 8)")
        on = "30 reads of user 5 after wrote(5, 8), replicas at 9, 9, 9 and 2"
        counts = {m.name: 0 for m in (primary, *replicas)}
        for _ in range(30):
            counts[self._choose(router, 5, primary, replicas, on).name] += 1
        fresh = [counts[f"replica{i}"] for i in range(1, 4)]
        if counts["replica4"] or counts["primary"] or min(fresh) < 5:
            raise Failure(
                f"{on}: the reads went {counts}; take turns among the three replicas that hold the write "
                "(replica4 does not, and the primary is for when none does)"
            )

    def _simultaneous_writes(self, router_class) -> None:
        """wrote(7, 9) and wrote(7, 7) at the same moment, their threads taking turns bytecode by bytecode,
        in both orders and a few offsets: afterwards a replica at 8 must not serve user 7."""
        for first, second in ((9, 7), (7, 9)):
            for delay in range(0, 12, 3):
                router = self._new(router_class)
                on = f"wrote(7, {first}) and wrote(7, {second}) at the same moment"
                self.interleaved(
                    lambda r=router, n=first: r.wrote(7, n), lambda r=router, n=second: r.wrote(7, n), on, delay
                )
                primary, r1 = _Member("primary", 9), _Member("replica1", 8)
                self._expect(
                    router, 7, primary, [r1], primary,
                    "user 7's last write is 9, but the router remembered 7: both threads compared against the old "
                    "value before either stored its own; compare and store under one lock",
                    f"{on}, then a replica at 8",
                )  # fmt: skip

    def _real_run(self, router_class) -> tuple[list[str], float, int]:
        """Users write their key, read it back at once, then again once the fastest replica has the write.

        Waiting for the replica (its position, not a sleep) makes the share of replica reads independent of
        the machine's speed: a correct router sends at least ``reads_later`` of every ``reads_now +
        reads_later`` reads to a replica.
        """
        r = self.run
        router = self._new(router_class)
        stale: list[str] = []
        counts = {"replica": 0, "total": 0}
        lock = threading.Lock()
        with Cluster(seed=4) as cluster:
            primary = cluster.add_database("primary", host="db1")
            replicas = [cluster.add_database(f"replica{i}", host=f"db{i + 1}") for i in range(1, len(r["lags"]) + 1)]
            rs = ReplicaSet(cluster, primary, replicas, router=router)
            for member, lag in zip(rs.replicas, r["lags"]):
                cluster.nemesis.lag(member, lag)
            fastest = rs.replicas[0]

            def read(user: int, value: str, when: str) -> None:
                got, member = rs.read(user, user=user)
                with lock:
                    counts["total"] += 1
                    counts["replica"] += member is not rs.primary
                    if got != value and len(stale) < 3:
                        stale.append(f"user {user} wrote {value!r} and then read {got!r} from {member.name} ({when})")

            def user(u: int) -> None:
                for n in range(r["rounds"]):
                    value = f"{u}:{n}"
                    ack = rs.write(u, value, user=u)
                    for _ in range(r["reads_now"]):
                        read(u, value, "right after writing")
                    fastest.wait_for(ack.lsn, timeout=5)
                    for _ in range(r["reads_later"]):
                        read(u, value, f"once {fastest.name} had applied it")

            threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(1, r["users"] + 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return stale, counts["replica"] / counts["total"], counts["total"]
