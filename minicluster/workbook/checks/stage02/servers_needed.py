"""Checker of ``02.servers_needed``: sizing against worked examples and a run with a server down."""

from __future__ import annotations

from ....cluster import Cluster
from ....load import open_loop
from ....web import Response, Router
from ..base import Checker, Failure, describe


class ServersNeededCheck(Checker):
    """``servers_needed(target_qps, per_server_qps, headroom, spares)`` against worked examples and a run."""

    exercise_id = "02.servers_needed"
    #: (target_qps, per_server_qps, headroom, spares) -> servers
    cases = (
        ((300, 200, 0.25, 1), 3),
        ((1000, 100, 0.0, 0), 10),
        ((1000, 100, 0.2, 1), 14),
        ((50, 200, 0.25, 1), 2),
        ((10_000, 400, 0.3, 2), 38),
        ((600, 200, 0.25, 0), 4),
        ((150, 200, 0.25, 1), 2),
        ((120, 200, 0.25, 0), 1),  # one server is enough, and no spare was asked for
        ((325, 108.5, 0.0, 0), 3),  # a capacity that is not a whole number: 325 / 108.5 = 2.995...
    )
    #: The simulated run: servers of 4 workers x 20 ms (200 req/s each) at this load, one of them down.
    run = {"target_qps": 240, "workers": 4, "service_time": 0.02, "duration": 1.0, "p99_limit": 0.15}

    def verify(self, servers_needed) -> list[str]:
        if not callable(servers_needed):
            raise Failure(
                f"expected a function servers_needed(target_qps, per_server_qps, ...), got {describe(servers_needed)}"
            )
        for args, expected in self.cases:
            self._expect(servers_needed, args, expected)
        self._expect(servers_needed, (300, 200), 3, defaults=True)
        n = self._plan(servers_needed, (self.run["target_qps"], self.run["workers"] / self.run["service_time"]))
        p99, errors = self._simulate(n)
        if errors or p99 > self.run["p99_limit"]:
            raise Failure(
                f"you planned {n} servers for {self.run['target_qps']} req/s at 200 req/s each; with one of them "
                f"down the rest served p99 {p99 * 1000:.0f} ms and {errors} errors: they could not keep up"
            )
        return [
            f"the plan matches {len(self.cases) + 1} worked examples, rounding up and counting spares",
            "a simulated run at the target load, with one planned server down, stays fast and error-free",
        ]

    def _plan(self, fn, args, defaults=False):
        on = f"servers_needed{args}" if not defaults else f"servers_needed{args} (default headroom and spares)"
        got = self.returns(int, fn, *args, on=on, what="you can only run a whole number of servers: return an int")
        if isinstance(got, bool):
            raise Failure(f"{on}: returned {describe(got)}; you can only run a whole number of servers: return an int")
        return got

    def _expect(self, fn, args, expected, defaults=False):
        got = self._plan(fn, args, defaults)
        if got != expected:
            target, per_server, headroom, spares = (*args, 0.25, 1)[:4] if defaults else args
            verdict = "too few" if got < expected else "more than needed"
            raise Failure(
                f"servers_needed{args}: {got} servers is {verdict} for {target} req/s at {per_server} req/s each, "
                f"keeping {headroom:.0%} headroom and {spares} spare(s)"
            )

    def _simulate(self, n: int) -> tuple[float, int]:
        """Run ``n`` servers behind a round-robin balancer at the target load with one server down."""
        if not 1 <= n <= 12:
            return float("inf"), 0
        r = self.run
        app = Router().route("GET", "/users/{id}", lambda request, ctx: Response.json({}))
        with Cluster(seed=2, latency=0.0) as cluster:
            webs = [
                cluster.add_web_server(f"web{i}", app, workers=r["workers"], service_time=r["service_time"])
                for i in range(1, n + 1)
            ]
            balancer = cluster.add_load_balancer("lb", webs, health_check=False)
            cluster.nemesis.crash(webs[0])
            balancer.set_health(balancer.backend("web1"), False)
            cluster.expose("api.mysite.com", balancer)
            client = cluster.client()
            result = open_loop(
                lambda key: client.get(f"http://api.mysite.com/users/{key}"),
                rate=r["target_qps"],
                duration=r["duration"],
                seed=2,
            )
        return result.latency.percentile(99), result.errors
