"""Checker of ``03.least_connections``: a balancing policy, raced and timed."""

from __future__ import annotations

import functools
import threading

from ....balancers import Backend, NoHealthyBackend, RoundRobin
from ....cluster import Cluster
from ....load import open_loop
from ....web import Request, Response, Router
from ...interleave import steps
from ..base import Background, Checker, Failure, describe

_REQUEST = Request("GET", "/users/1")


class LeastConnectionsCheck(Checker):
    """A least-connections policy: spreads, tracks releases, respects health, thread-safe, beats round robin."""

    exercise_id = "03.least_connections"
    threads, rounds = 8, 500
    #: The race: 4 servers of 2 workers x 10 ms, one slowed 10x, at this open-loop rate.
    race = {"servers": 4, "workers": 2, "service_time": 0.01, "slowdown": 10, "rate": 200, "duration": 0.4}

    def verify(self, policy_class) -> list[str]:
        if not callable(policy_class):
            raise Failure(f"expected the class LeastConnections, got {describe(policy_class)}")
        # Round robin's race needs nothing of the learner's and mostly waits on the slow server's queue: it
        # runs beside the rest of the check (~1.2 s of it) and is only waited for if everything else passes.
        baseline = Background(lambda: self._race(RoundRobin()), "round robin's load test")
        self._spreads_and_releases(policy_class)
        self._ties_and_partial_releases(policy_class)
        self._respects_health(policy_class)
        self._thread_safe(policy_class)
        # The whole race runs under one timeout: a choose() that hangs only under load cannot hang the check.
        within = 4 * self.race["duration"] + 10
        on = "a load test through a balancer using your policy"
        mine = self.call(self._race, self._new(policy_class), on=on, within=within)
        round_robin = baseline.result(within)
        if not mine < 0.5 * round_robin:
            raise Failure(
                f"with one server 10x slower, your policy's p99 was {mine * 1000:.0f} ms against round robin's "
                f"{round_robin * 1000:.0f} ms; least connections should send the slow server far fewer requests"
            )
        return [
            "spreads requests in progress evenly and follows every release (one off, not all), ties to the "
            "first backend in the list whatever its name",
            "never picks an ejected backend, and raises NoHealthyBackend when all are ejected",
            "counts stay exact when choices and releases race, bytecode by bytecode, and under 8 busy threads",
            "with one server 10x slower, p99 is under half of round robin's",
        ]

    # -- helpers ------------------------------------------------------------------------------------
    def _new(self, policy_class):
        return self.instance(policy_class, on="LeastConnections()", methods=("choose", "release"))

    def _choose(self, policy, backends, on):
        got = self.call(policy.choose, list(backends), _REQUEST, on=on)
        if got is None:
            raise Failure(f"{on}: returned None — did you forget a `return`?")
        if not any(got is b for b in backends):
            raise Failure(f"{on}: returned {describe(got)}; return one of the backend objects you were given")
        return got

    def _release(self, policy, backend, on):
        self.call(policy.release, backend, _REQUEST, on=on)

    # -- the checks ---------------------------------------------------------------------------------
    def _spreads_and_releases(self, policy_class) -> None:
        backends = _backends(4)
        policy = self._new(policy_class)
        first = self._choose(policy, backends, "choose() on a fresh policy")
        if first is not backends[0]:
            raise Failure(
                f"choose() on a fresh policy picked {first.name}; with all counts equal, take the first backend"
            )
        picks = [first] + [self._choose(policy, backends, f"choose() #{i}") for i in range(2, 5)]
        if len({b.name for b in picks}) != 4:
            names = [b.name for b in picks]
            raise Failure(f"4 requests in progress on 4 idle backends went to {names}; each should get one")
        for done in (backends[2], backends[0], backends[3]):
            self._release(policy, done, f"release({done.name})")
            again = self._choose(policy, backends, f"choose() after release({done.name})")
            if again is not done:
                raise Failure(
                    f"after release({done.name}), {done.name} had the fewest requests in progress but choose() "
                    f"picked {again.name}: does release() take one away from the right backend?"
                )

    def _ties_and_partial_releases(self, policy_class) -> None:
        """Ties go to the first in the list (not the first by name); a release takes one off, not all."""
        backends = [Backend(name) for name in ("web3", "web1", "web4", "web2")]
        policy = self._new(policy_class)
        on = "choose() on a fresh policy with backends listed web3, web1, web4, web2"
        first = self._choose(policy, backends, on)
        if first is not backends[0]:
            raise Failure(f"{on}: picked {first.name}; ties go to the backend that comes first in the list (web3)")
        for i in range(7):
            self._choose(policy, backends, f"choose() #{i + 2} of 8 on 4 backends")
        self._release(policy, backends[3], "release(web2) with 2 requests in progress on every backend")
        picks = [self._choose(policy, backends, "choose() after release(web2)").name for _ in range(2)]
        if picks != ["web2", "web3"]:
            raise Failure(
                f"with 2 requests in progress on every backend, release(web2) leaves web2 with 1: the next two "
                f"picks should be web2 then web3 (all tied at 2, first in the list), but they were {picks}; "
                "does release() take away exactly one?"
            )
        weighted = [Backend("big", weight=5), Backend("web1"), Backend("web2")]
        policy = self._new(policy_class)
        picks = [self._choose(policy, weighted, "choose() on big (weight 5), web1, web2").name for _ in range(5)]
        if picks != ["big", "web1", "web2", "big", "web1"]:
            raise Failure(
                f"five choose() calls on backends big (weight 5), web1 and web2 (weight 1) went to {picks}; "
                "least connections counts requests in progress only (weights are for weighted round robin): "
                "big, web1, web2, big, web1"
            )

    def _respects_health(self, policy_class) -> None:
        backends = _backends(4)
        policy = self._new(policy_class)
        backends[1].healthy = False
        picked_names = []
        for i in range(12):
            picked = self._choose(policy, backends, f"choose() #{i + 1} with {backends[1].name} ejected")
            if not picked.healthy:
                raise Failure(f"choose() picked {picked.name}, which the health check ejected")
            picked_names.append(picked.name)
        spread = {b.name: picked_names.count(b.name) for b in backends if b.healthy}
        if set(spread.values()) != {4}:
            raise Failure(
                f"12 requests in progress with {backends[1].name} ejected went {spread}: the three healthy "
                "backends should get 4 each"
            )
        for b in backends:
            b.healthy = False
        self.expect_raises(
            NoHealthyBackend,
            policy.choose,
            list(backends),
            _REQUEST,
            on="choose() with every backend ejected",
            instead="raise NoHealthyBackend so the balancer answers 503",
        )

    def _thread_safe(self, policy_class) -> None:
        self._simultaneous_choices(policy_class)
        self._simultaneous_releases(policy_class)
        self._choice_during_a_release(policy_class)
        self._churn(policy_class)

    def _simultaneous_choices(self, policy_class) -> None:
        backends = _backends(3)
        policy = self._new(policy_class)
        on = "two choose() calls at the same moment on 3 idle backends"
        a, b = self.interleaved(
            lambda: policy.choose(backends, _REQUEST), lambda: policy.choose(backends, _REQUEST), on
        )
        if a is b:
            raise Failure(
                f"{on}: both requests went to {getattr(a, 'name', a)} while others were idle — both threads read the "
                "counts before either added one; read, pick and add under one lock"
            )

    def _simultaneous_releases(self, policy_class) -> None:
        backends = _backends(3)
        policy = self._new(policy_class)
        for i in range(6):
            self._choose(policy, backends, f"choose() #{i + 1}")
        on = "two release(web3) calls at the same moment"
        self.interleaved(
            lambda: policy.release(backends[2], _REQUEST), lambda: policy.release(backends[2], _REQUEST), on
        )
        picks = [self._choose(policy, backends, f"choose() after {on}").name for _ in range(3)]
        if picks != ["web3", "web3", "web1"]:
            raise Failure(
                f"{on}: web3 should be back to 0 requests in progress, but the next picks were {picks} — one "
                "release was lost because both threads read the old count; take the lock in release() too"
            )

    def _choice_during_a_release(self, policy_class) -> None:
        """A choose() and a release() of the same backend at the same moment. Their read-modify-writes
        can only collide if they line up, so the release is started at each of a window of bytecodes near the end
        of choose() (where it counts the request), one run each: deterministic."""
        on = "a choose() while release(web1) runs, 3 backends with one request in progress each"

        def fresh():
            backends, policy = _backends(3), self._new(policy_class)
            for i in range(3):
                self._choose(policy, backends, f"choose() #{i + 1}")
            return backends, policy

        backends, policy = fresh()
        choose_steps = steps(lambda: policy.choose(backends, _REQUEST))
        backends, policy = fresh()
        release_steps = steps(lambda: policy.release(backends[0], _REQUEST))
        # Measured on two-lock policies: the counts collide when the release starts 0-15 bytecodes before
        # choose_steps - release_steps (choose's count comes a few bytecodes before its end). Every fourth
        # bytecode over a wider window still lands in that span four times; each run costs a correct policy
        # ~45 ms (the interleaver's patience while one thread waits on the other's lock).
        for delay in range(max(0, choose_steps - release_steps - 30), choose_steps - release_steps + 11, 4):
            backends, policy = fresh()
            choose = functools.partial(policy.choose, backends, _REQUEST)
            self.interleaved(choose, functools.partial(policy.release, backends[0], _REQUEST), on, delay)
            picks = [self._choose(policy, backends, f"choose() after {on}").name for _ in range(3)]
            if picks != ["web1", "web2", "web3"]:
                raise Failure(
                    f"{on}: afterwards each backend should have one request in progress again, but the next picks "
                    f"were {picks} — the choice and the release changed web1's count at the same time and one "
                    "change was lost. choose() and release() must take the same lock"
                )

    def _churn(self, policy_class) -> None:
        backends = _backends(4)
        policy = self._new(policy_class)
        start = threading.Barrier(self.threads)
        errors: list[BaseException] = []

        def churn() -> None:
            try:
                start.wait()
                for _ in range(self.rounds):
                    policy.release(policy.choose(backends, _REQUEST), _REQUEST)
            except BaseException as exc:  # reported below, with its type
                errors.append(exc)

        workers = [threading.Thread(target=churn, daemon=True) for _ in range(self.threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(self.call_timeout * 4)
        if any(t.is_alive() for t in workers):
            raise Failure(f"{self.threads} threads calling choose() and release() at once never finished: a deadlock?")
        if errors:
            kind = type(errors[0]).__name__
            raise Failure(f"{self.threads} threads calling choose() and release() at once: {kind}: {errors[0]}")
        picks = [self._choose(policy, backends, "choose() after the threads finished") for _ in range(4)]
        if len({b.name for b in picks}) != 4:
            raise Failure(
                f"after {self.threads} threads each chose and released {self.rounds} times, every count should be back "
                f"to zero, but 4 new requests went to {[b.name for b in picks]}: some updates were lost (use a lock)"
            )

    def _race(self, policy) -> float:
        """p99 latency through a balancer using ``policy`` with one server slowed down."""
        r = self.race
        app = Router().route("GET", "/users/{id}", lambda request, ctx: Response.json({}))
        with Cluster(seed=3, latency=0.0) as cluster:
            webs = [
                cluster.add_web_server(f"web{i}", app, workers=r["workers"], service_time=r["service_time"])
                for i in range(1, r["servers"] + 1)
            ]
            cluster.nemesis.slow(webs[0], r["slowdown"])
            balancer = cluster.add_load_balancer("lb", webs, policy=policy, health_check=False)
            result = open_loop(
                lambda key: balancer.handle(Request("GET", f"/users/{key}"), timeout=30),
                rate=r["rate"],
                duration=r["duration"],
                seed=3,
            )
        if result.errors:
            kinds = dict(result.error_kinds)
            raise Failure(f"through a load balancer using your policy, {result.errors} requests failed: {kinds}")
        return result.latency.percentile(99)


def _backends(n: int) -> list[Backend]:
    return [Backend(f"web{i}") for i in range(1, n + 1)]
