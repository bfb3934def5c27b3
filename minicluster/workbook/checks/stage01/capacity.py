"""Checker of ``01.capacity``: a back-of-the-envelope estimate against worked examples and a run."""

from __future__ import annotations

import math

from ....cluster import Cluster
from ....load import closed_loop
from ....web import Request, Response
from ..base import Checker, Failure, describe


class CapacityCheck(Checker):
    """``capacity(workers, service_time_s, think_time_s, db_qps)`` against known answers and a measured server."""

    exercise_id = "01.capacity"
    #: (workers, service_time_s, think_time_s) -> (max_throughput, knee_users); 1% tolerance.
    cases = (
        ((1, 0.1, 0.0), (10.0, 1.0)),
        ((8, 0.01, 0.0), (800.0, 8.0)),
        ((4, 0.05, 0.15), (80.0, 16.0)),
        ((16, 0.002, 0.0), (8000.0, 16.0)),
        ((2, 0.1, 0.9), (20.0, 20.0)),
        ((3, 0.25, 0.25), (12.0, 6.0)),
        # answers that are not whole numbers: rounding or truncating is wrong here
        ((3, 0.07, 0.0), (3 / 0.07, 3.0)),
        ((5, 0.03, 0.02), (5 / 0.03, 5 * 0.05 / 0.03)),
    )
    #: (workers, service_time_s, think_time_s, db_qps) -> (max_throughput, knee_users): a database in the way
    db_cases = (
        ((8, 0.01, 0.0, 500.0), (500.0, 5.0)),  # the database binds: 500 < 800
        ((4, 0.05, 0.15, 100.0), (80.0, 16.0)),  # the workers bind: 80 < 100
        ((4, 0.05, 0.15, 40.0), (40.0, 8.0)),
        ((3, 0.07, 0.0, 25.5), (25.5, 25.5 * 0.07)),
    )
    #: The measured server: 4 workers, each request 12 ms of work plus an 8 ms query on a database of one
    #: core (125 queries/s): the worker spends ~20 ms per request, the database is the lower ceiling.
    measured = {"workers": 4, "work": 0.012, "query_time": 0.008, "db_cores": 1, "users": 24, "duration": 0.6}
    #: The estimate may be this much above (overheads) or below the measured throughput.
    band = (0.8, 1.35)

    def verify(self, capacity) -> list[str]:
        if not callable(capacity):
            raise Failure(
                f"expected a function capacity(workers, service_time_s, think_time_s), got {describe(capacity)}"
            )
        for (workers, service, think), (tput, knee) in self.cases:
            on = f"capacity(workers={workers}, service_time_s={service}, think_time_s={think})"
            got = self._estimate(capacity, workers, service, think, on)
            if not math.isclose(got[0], tput, rel_tol=0.01):
                raise Failure(
                    f"{on}: max_throughput {got[0]:g} req/s is off; "
                    "how many requests does one worker finish per second?"
                )
            if not math.isclose(got[1], knee, rel_tol=0.01):
                raise Failure(
                    f"{on}: knee_users {got[1]:g} is off; how busy does one user keep a worker when it also thinks?"
                )
        for (workers, service, think, db_qps), (tput, knee) in self.db_cases:
            on = f"capacity(workers={workers}, service_time_s={service}, think_time_s={think}, db_qps={db_qps})"
            got = self._estimate(capacity, workers, service, think, on, db_qps=db_qps)
            web = workers / service
            if not math.isclose(got[0], tput, rel_tol=0.01):
                raise Failure(
                    f"{on}: max_throughput {got[0]:g} req/s is off; the workers could do {web:g} req/s and the "
                    f"database {db_qps:g}: the server gets the lower of the two"
                )
            if not math.isclose(got[1], knee, rel_tol=0.01):
                raise Failure(
                    f"{on}: knee_users {got[1]:g} is off; the knee is where the users reach max_throughput: each "
                    "sends a request at most every (service + think) seconds"
                )
        m = self.measured
        service, db_qps = m["work"] + m["query_time"], m["db_cores"] / m["query_time"]
        on = f"capacity(measured server: workers={m['workers']}, service_time_s={service:g}, db_qps={db_qps:g})"
        estimate = self._estimate(capacity, m["workers"], service, 0.0, on, db_qps=db_qps)[0]
        measured = self._measure()
        if not self.band[0] <= estimate / measured <= self.band[1]:
            # A busy machine can only slow the server down, never speed it up: before judging, measure
            # again and keep the better run (the soak found the band holds beside a CPU hog; this is room)
            measured = max(measured, self._measure())
        ratio = estimate / measured
        if not self.band[0] <= ratio <= self.band[1]:
            raise Failure(
                f"for {m['workers']} workers, {service * 1000:g} ms per request and a database of {db_qps:g} "
                f"queries/s you estimated {estimate:.0f} req/s, but a real server measured {measured:.0f} req/s"
            )
        return [
            f"max_throughput and knee_users match {len(self.cases)} worked examples, and "
            f"{len(self.db_cases)} with a database in the way",
            "the estimate agrees with a server and its database measured under saturating load",
        ]

    def _estimate(self, capacity, workers, service, think, on, **db):
        got = self.call(capacity, workers, service, think, on=on, **db)
        if got is None:
            raise Failure(f"{on}: returned None — did you forget a `return`?")
        ok = isinstance(got, (tuple, list)) and len(got) == 2
        if not ok or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in got):
            raise Failure(f"{on}: returned {describe(got)}; return two numbers, (max_throughput, knee_users)")
        return got

    def _measure(self) -> float:
        m = self.measured

        def query(request, ctx):
            return Response.json({"row": ctx.db.execute("SELECT 1").fetchall()[0][0]})

        with Cluster(seed=1, latency=0.0) as cluster:
            db = cluster.add_database("db", cores=m["db_cores"], query_time=m["query_time"])
            server = cluster.add_web_server("web", query, workers=m["workers"], service_time=m["work"], database=db)
            result = closed_loop(
                lambda key: server.handle(Request("GET", "/")), users=m["users"], duration=m["duration"]
            )
        return result.throughput
