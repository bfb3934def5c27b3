"""Stage 3: a load balancer in front of several web servers.

Clients now reach one public address, the balancer's; the web servers sit on private addresses
behind it. The experiments:

* **policies with one slow server**: round robin keeps feeding a server that is 10x slower, so its
  queue grows and the p99 of *everyone* explodes; least connections and power of two choices see the
  requests piling up there and route around it.
* **failover**: kill a server mid-run. Requests sent to it fail until the health check ejects it
  (the error spike), then everything succeeds on the survivors; when it comes back it is re-admitted.
* **adding a server under load**: an overloaded pair of servers, a third added mid-run, the queue drains.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..apps import HOSTNAME, create_users, users_api, users_target
from ..balancers import POLICIES, Balancer
from ..cluster import Cluster
from ..experiment import Run, Topology, load_row, under_faults
from ..faults import Crash
from ..load import UniformKeys, open_loop
from ..loadbalancer import LoadBalancer
from ..web import WebServer

#: The defaults of this stage: 4 servers of 2 workers x 10 ms, so 200 req/s each and 800 in all.
SERVERS, WORKERS, SERVICE_TIME = 4, 2, 0.01
#: The weights an operator who knows web1 is the small (slow) server would set; only weighted round
#: robin reads them, and they stay what they were set to whatever happens to the servers.
WEIGHTS = {"web1": 1, "web2": 10, "web3": 10, "web4": 10}


@dataclass
class Balanced(Topology):
    lb: LoadBalancer
    webs: list[WebServer]

    def add_server(self) -> WebServer:
        """One more web server like the others, added to the balancer (works under load)."""
        web = self.cluster.add_web_server_like(self.webs[0], f"web{len(self.webs) + 1}")
        self.webs.append(web)
        self.lb.add_backend(web)
        return web

    def target(self):
        """``target(key)``: user ``key`` asks ``GET /users/{key}`` from its own device.

        Each user is its own client (its own DNS cache and client id), which is what a sticky
        policy keys on.
        """
        return users_target(self.cluster, per_user_clients=True)


def build(
    cluster: Cluster,
    *,
    servers: int = SERVERS,
    workers: int = WORKERS,
    service_time: float = SERVICE_TIME,
    policy: Balancer | None = None,
    health_check: bool = True,
    interval: float = 0.05,
    users: int = 1000,
    weights: dict[str, int] | None = None,
) -> Balanced:
    """Web servers ``web1..N`` behind balancer ``lb`` (the only public address), database on ``db1``;
    ``weights`` by server name (default 1 each) are what weighted round robin reads."""
    db = cluster.add_database("db", host="db1")
    create_users(db, users, seed=cluster.seed)
    app = users_api(cached=False)
    webs = [
        cluster.add_web_server(f"web{i}", app, host=f"web{i}", workers=workers, service_time=service_time, database=db)
        for i in range(1, servers + 1)
    ]
    lb = cluster.add_load_balancer(
        "lb", [], policy=policy, host="lb1", health_check=health_check, interval=interval, probe_timeout=0.05
    )
    for web in webs:
        lb.add_backend(web, (weights or {}).get(web.name, 1))
    cluster.expose(HOSTNAME, lb)
    return Balanced(cluster, lb, webs)


def compare_policies(
    *,
    policies: dict[str, Callable[[], Balancer]] | None = None,
    rate: float = 200,
    duration: float = 0.6,
    slowdown: float = 10,
    seed: int = 42,
    weights: dict[str, int] | None = None,
    slow: str = "web1",
) -> Run:
    """The same open-loop load through each policy (default: every shipped one), server ``slow`` slowed down.

    ``weights`` (default :data:`WEIGHTS`: web1 1, the others 10) are set on every balancer; only
    weighted round robin reads them. One row and one load per policy; figure ``share``: requests each
    backend received, per policy.
    """
    loads, shares, rows = {}, {}, []
    weights = WEIGHTS if weights is None else weights
    for name, make in (policies or POLICIES).items():
        with Cluster(seed=seed) as cluster:
            stage = build(cluster, policy=make(), health_check=False, weights=weights)
            cluster.nemesis.slow(next(w for w in stage.webs if w.name == slow), slowdown)
            result = open_loop(stage.target(), rate=rate, duration=duration, keys=UniformKeys(1000), seed=seed)
            share = {w.name: stage.lb.metrics.counter(f"to_{w.name}").value for w in stage.webs}
        loads[name], shares[name] = result, share
        row = load_row(result)
        rows.append(
            {
                "policy": name,
                "p50_ms": row["p50_ms"],
                "p99_ms": row["p99_ms"],
                f"to slow {slow} %": share[slow] / (sum(share.values()) or 1),
                "errors": row["errors"],
            }
        )
    title = f"{rate:g} req/s through each policy, {slow} {slowdown:g}x slower"
    return Run(title, rows, loads, figures={"share": shares}, chart="percentiles")


def failover(
    *,
    rate: float = 200,
    duration: float = 2.5,
    kill_at: float = 0.8,
    recover_at: float = 1.6,
    policy_name: str = "round robin",
    seed: int = 42,
) -> Run:
    """Kill ``web2`` mid-run and bring it back; the timeline holds the faults and the balancer's reactions.

    Figures: ``ejected_after`` (seconds from the crash to the ejection, None if never), ``failed``,
    ``completed`` and ``failed_before_ejection``.
    """
    with Cluster(seed=seed) as cluster:
        stage = build(cluster, policy=POLICIES[policy_name]())
        result, events = under_faults(
            cluster,
            lambda: open_loop(stage.target(), rate=rate, duration=duration, keys=UniformKeys(1000), seed=seed),
            [(kill_at, recover_at - kill_at, Crash(stage.webs[1]))],
        )
    crash = next(e for e in events if e.action == "crash")
    eject = next((e for e in events if e.action == "eject"), None)
    window_end = eject.at + 0.05 if eject else float("inf")
    in_window = sum(crash.at <= result.started_at + t <= window_end for t, _ in result.failures.points)
    figures = {
        "ejected_after": eject.at - crash.at if eject else None,
        "failed": result.errors,
        "completed": result.completed,
        "failed_before_ejection": in_window,
    }
    title = "web2 killed, ejected, recovered, re-admitted"
    return Run(
        title,
        [{"policy": policy_name, **load_row(result)}],
        {"load": result},
        events,
        figures,
        chart="timeline",
        axes={"width": 0.05},
    )


def add_server_under_load(
    *,
    servers: int = 2,
    service_time: float = 0.02,
    rate: float = 220,
    duration: float = 2.0,
    add_at: float = 0.8,
    add: int = 1,
    seed: int = 42,
) -> Run:
    """``servers`` servers (2 workers each) that cannot keep up with ``rate``; ``add`` more join at ``add_at``."""
    with Cluster(seed=seed) as cluster:
        # No health checks here: probes queue behind the backlog like any request, time out, and eject
        # the overloaded servers (a cascading failure worth its own pitfall, but not this experiment).
        stage = build(
            cluster,
            servers=servers,
            service_time=service_time,
            policy=POLICIES["least connections"](),
            health_check=False,
        )
        result, events = under_faults(
            cluster,
            lambda: open_loop(stage.target(), rate=rate, duration=duration, keys=UniformKeys(1000), seed=seed),
            [(add_at, lambda: [stage.add_server() for _ in range(add)])],
        )
    title = f"{'A server joins' if add == 1 else f'{add} servers join'} {servers} overloaded ones"
    joined = next((e.at - result.started_at for e in events if e.action == "add"), add_at)
    return Run(
        title,
        [{"servers": f"{servers} then {servers + add}", **load_row(result)}],
        {"load": result},
        events,
        figures={
            "joined_at": joined,
            # median latency of the responses in the 0.3 s before the join, and in the run's last 0.3 s
            "before_ms": _median_ms(result, joined - 0.3, joined),
            "end_ms": _median_ms(result, result.elapsed - 0.3, math.inf),
            # responses per second in the 0.5 s before the join, and from the join to the end of the load
            "before_rps": _rate(result, joined - 0.5, joined),
            "after_rps": _rate(result, joined, duration),
        },
        chart="timeline",
        axes={"width": 0.1, "latency": True},
    )


def _rate(result, start: float, end: float) -> float:
    """Successful responses per second that completed between ``start`` and ``end`` s into the run."""
    done = sum(1 for t, _ in result.completions.points if start <= t < end)
    failed = sum(1 for t, _ in result.failures.points if start <= t < end)
    return (done - failed) / (end - start) if end > start else math.nan


def _median_ms(result, start: float, end: float) -> float:
    """Median latency (ms) of the responses that completed between ``start`` and ``end`` s into the run."""
    window = sorted(v for t, v in result.latencies.points if start <= t < end)
    return window[len(window) // 2] * 1000 if window else math.nan


def headline(*, seed: int = 42) -> str:
    """Stage 3's results in a few lines of text (for ``minicluster tour``)."""
    runs = compare_policies(seed=seed)
    failed = failover(seed=seed)
    after = failed["ejected_after"]
    ejected_after = f"{after * 1000:.0f} ms" if after is not None else "never"
    return "\n".join(
        [
            f"{SERVERS} servers of {WORKERS} workers x {SERVICE_TIME * 1000:g} ms behind a balancer, web1 10x slower, "
            "200 req/s open loop (weights web1 1, the others 10: only weighted round robin reads them):",
            runs.table(),
            f"failover: web2 killed mid-run, ejected by the health check after {ejected_after}; "
            f"{failed['failed']} of {failed['completed']} requests failed, {failed['failed_before_ejection']} of them "
            "between the crash and the ejection.",
        ]
    )
