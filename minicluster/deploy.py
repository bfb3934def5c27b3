"""Automation: deploying a new version across the servers behind a balancer.

Think of changing the tyres of a bus while it drives: one wheel at a time, the spare fitted and
checked before the old one comes off. A **rolling deploy** starts a server with the new version, checks
its health *before* it takes traffic, adds it to the balancer, then drains an old server (no new
requests, the ones it has finish) and stops it; one server at a time, so the capacity never drops.
When the new version fails its health check, the deploy stops on its own and puts the servers it
already replaced back on the old version, the same careful way (a **rollback**).

A **naive deploy** kills each old server and starts the new one in its place: every request the old
one was serving, and every request sent to it before the balancer noticed, fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import check_positive
from .loadbalancer import LoadBalancer, probe
from .web import WebServer

Handler = Callable


@dataclass
class DeployReport:
    """What a deploy did: the servers now behind the balancer, and whether it rolled back (and why)."""

    servers: list[WebServer] = field(default_factory=list)
    rolled_back: bool = False
    reason: str = ""


def healthy(server: WebServer, *, probes: int = 3, timeout: float = 0.5, path: str = "/healthz") -> bool:
    """``probes`` health probes in a row (the balancer's :func:`~minicluster.loadbalancer.probe`), all good."""
    return all(probe(server, path=path, timeout=timeout, client="deployer") for _ in range(probes))


class Deployer:
    """Replaces the servers behind ``balancer`` by servers running another handler (a version)."""

    def __init__(self, cluster, balancer: LoadBalancer, *, probes: int = 3, drain_timeout: float = 10.0) -> None:
        check_positive("probes", probes, integer=True)
        self.cluster, self.balancer, self.probes, self.drain_timeout = cluster, balancer, probes, drain_timeout
        self._built = 0

    def _new_like(self, old: WebServer, handler: Handler, version: str) -> WebServer:
        self._built += 1
        name = f"{old.name.split('-')[0]}-{version}-{self._built}"
        return self.cluster.add_web_server_like(old, name, handler=handler, host=f"{old.host}-{self._built}")

    def _record(self, action: str, target: str, detail: str = "") -> None:
        self.cluster.timeline.record("change", action, target, source="deployer", detail=detail)

    def rolling(self, servers: list[WebServer], handler: Handler, version: str) -> DeployReport:
        """Replace ``servers`` one at a time by servers running ``handler``; roll back on a failed check."""
        report = DeployReport(list(servers))
        previous = {}
        for i, old in enumerate(list(servers)):
            new = self._new_like(old, handler, version)
            if not healthy(new, probes=self.probes):
                new.stop()
                self._record("health check failed", new.name, version)
                report.reason = f"{new.name} ({version}) failed its health check before taking traffic"
                report.rolled_back = True
                for j in range(i):  # put the servers already replaced back on their old handler
                    self._swap(report, j, previous[j], f"rollback-{j}")
                return report
            previous[i] = old.handler
            self._swap(report, i, handler, version, new=new)
        return report

    def _swap(self, report: DeployReport, i: int, handler: Handler, version: str, new: WebServer | None = None):
        old = report.servers[i]
        new = new or self._new_like(old, handler, version)
        self.balancer.add_backend(new)  # the new one serves before the old one leaves: capacity never drops
        self.balancer.drain(old.name, timeout=self.drain_timeout)
        old.stop()
        report.servers[i] = new
        self._record("replace", old.name, f"by {new.name}")

    def naive(self, servers: list[WebServer], handler: Handler, version: str, *, boot: float = 0.1) -> DeployReport:
        """Stop each old server, install and start the new version (``boot`` seconds), then swap it into the
        balancer, which meanwhile still sends the old one its share of the requests."""
        report = DeployReport(list(servers))
        for i, old in enumerate(list(servers)):
            self.cluster.nemesis.crash(old)
            self.cluster.clock.sleep(boot)  # the new version starting (this is the deploy's own timeline)
            new = self._new_like(old, handler, version)
            self.balancer.add_backend(new)
            self.balancer.remove_backend(old.name)
            report.servers[i] = new
        return report
