"""Checker of ``02.servers_needed``: sizing against worked examples and a run with a server down."""

from __future__ import annotations

from ....cluster import Cluster
from ....errors import Bottleneck
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
    #: With a database of db_qps: (target_qps, per_server_qps, headroom, spares, db_qps) -> servers, or
    #: Bottleneck when the database cannot take the target at the headroom asked for.
    db_cases = (
        ((150, 100, 0.25, 1, 250), 3),  # 150 <= 187.5 of the database's 250: the web tier decides
        ((187.5, 100, 0.25, 0, 250), 3),  # exactly the database's usable share: still possible
        ((188, 100, 0.25, 0, 250), Bottleneck),  # just over it
        ((1000, 200, 0.25, 1, 250), Bottleneck),  # the notebook's 1,000 req/s against its 250 req/s database
        ((240, 200, 0.0, 1, 250), 3),  # no headroom asked: 240 of 250 is fine
    )
    #: The simulated run: servers of 4 workers x 20 ms (200 req/s each) at this load, one of them down,
    #: each request also querying a database of 2 cores x 4 ms (500 req/s).
    run = {
        "target_qps": 240, "workers": 4, "service_time": 0.02, "db_cores": 2, "query_time": 0.004,
        "duration": 1.0, "p99_limit": 0.15,
    }  # fmt: skip

    def verify(self, servers_needed) -> list[str]:
        if not callable(servers_needed):
            raise Failure(
                f"expected a function servers_needed(target_qps, per_server_qps, ...), got {describe(servers_needed)}"
            )
        for args, expected in self.cases:
            self._expect(servers_needed, args, expected)
        self._expect(servers_needed, (300, 200), 3, defaults=True)
        for args, expected in self.db_cases:
            self._expect_with_database(servers_needed, args, expected)
        r = self.run
        db_qps = r["db_cores"] / r["query_time"]
        n = self._plan(servers_needed, (r["target_qps"], r["workers"] / r["service_time"], 0.25, 1, db_qps))
        p99, errors = self._simulate(n)
        if errors or p99 > self.run["p99_limit"]:
            raise Failure(
                f"you planned {n} servers for {self.run['target_qps']} req/s at 200 req/s each; with one of them "
                f"down the rest served p99 {p99 * 1000:.0f} ms and {errors} errors: they could not keep up"
            )
        return [
            f"the plan matches {len(self.cases) + 1} worked examples, rounding up and counting spares",
            f"with a database in the way, {len(self.db_cases)} more: Bottleneck when it cannot take the target",
            "a simulated run at the target load, with one planned server down, stays fast and error-free",
        ]

    def _expect_with_database(self, fn, args, expected) -> None:
        target, per_server, headroom, spares, db_qps = args
        on = f"servers_needed({target}, {per_server}, {headroom}, {spares}, db_qps={db_qps})"
        usable = db_qps * (1 - headroom)
        if expected is Bottleneck:
            self.expect_raises(
                Bottleneck,
                fn,
                target,
                per_server,
                headroom,
                spares,
                db_qps=db_qps,
                on=on,
                instead=f"the database takes {usable:g} req/s at {1 - headroom:.0%} busy, less than {target}: "
                "no number of web servers serves that, so raise Bottleneck",
            )
            return
        got = self.returns(int, fn, target, per_server, headroom, spares, db_qps=db_qps, on=on, what="return an int")
        if got != expected:
            raise Failure(
                f"{on}: returned {describe(got)}; the database takes {usable:g} req/s at {1 - headroom:.0%} busy, "
                f"enough for {target}, so the web tier decides: {expected} servers"
            )

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
        """Run ``n`` servers (and their database) behind a round-robin balancer at the target load, one
        server down."""
        if not 1 <= n <= 12:
            return float("inf"), 0
        r = self.run

        def user(request, ctx):
            (row,) = ctx.db.execute("SELECT 1").fetchall()  # every request visits the database
            return Response.json({"ok": row[0]})

        app = Router().route("GET", "/users/{id}", user)
        with Cluster(seed=2, latency=0.0) as cluster:
            db = cluster.add_database("db", cores=r["db_cores"], query_time=r["query_time"])
            webs = [
                cluster.add_web_server(
                    f"web{i}", app, workers=r["workers"], service_time=r["service_time"], database=db
                )
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
