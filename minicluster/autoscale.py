"""Autoscaling: a control loop that adds web servers when they are busy and removes them when idle.

Think of a thermostat. Every ``interval`` it reads a measurement (here: requests inside the web
servers, queued or in service, per server), compares it with the ``target`` and switches servers on
or off to close the gap, between ``min_servers`` and ``max_servers``. Like a thermostat it needs a
**cooldown**: right after a change the measurement still shows the old state (the new server has not
taken its share yet, the backlog has not drained), and a loop that acts on it again overshoots, then
undershoots: it flaps.

A server added joins the balancer at once. A server removed is **drained** first: the balancer stops
sending it new requests and waits for the ones it sent to be answered; only then is it stopped, so
scaling in fails no request.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigError, check_positive
from .loadbalancer import LoadBalancer
from .web import WebServer


@dataclass(frozen=True)
class Sample:
    """One reading of the loop: when, how many servers, requests inside them, what it decided."""

    at: float
    servers: int
    inside: int
    desired: int


class Autoscaler:
    """Keeps ``balancer``'s servers near ``target`` requests inside each, adding ones made by
    ``make_server()`` and draining the newest ones away."""

    def __init__(
        self,
        balancer: LoadBalancer,
        make_server: Callable[[], WebServer],
        *,
        target: float = 2.0,
        min_servers: int = 1,
        max_servers: int = 8,
        interval: float = 0.1,
        cooldown: float = 0.5,
        timeline=None,
    ) -> None:
        check_positive("autoscaler target", target)
        check_positive("min_servers", min_servers, integer=True)
        check_positive("max_servers", max_servers, integer=True)
        check_positive("autoscaler interval", interval)
        check_positive("cooldown", cooldown, allow_zero=True)
        if min_servers > max_servers:
            raise ConfigError(f"min_servers {min_servers} is more than max_servers {max_servers}")
        self.balancer = balancer
        self.make_server = make_server
        self.target, self.interval, self.cooldown = float(target), interval, cooldown
        self.min_servers, self.max_servers = min_servers, max_servers
        self.clock = balancer.clock
        self.timeline = timeline if timeline is not None else balancer.timeline
        #: Every reading, in order.
        self.samples: list[Sample] = []
        #: ``(at, "out" or "in", server name)`` for every change made.
        self.actions: list[tuple[float, str, str]] = []
        self._last_change = -math.inf
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def servers(self) -> list[WebServer]:
        return [b.server for b in self.balancer.backends]

    def desired(self, inside: int) -> int:
        """How many servers keep ``inside`` requests at ``target`` each, within the bounds."""
        return max(self.min_servers, min(self.max_servers, math.ceil(inside / self.target)))

    def step(self) -> Sample:
        """One turn of the loop: measure, decide, act (at most one server per turn)."""
        now = self.clock.now()
        servers = self.servers()
        inside = sum(s.metrics.occupancy("in_server").value for s in servers)
        want = self.desired(inside)
        sample = Sample(now, len(servers), inside, want)
        self.samples.append(sample)
        if want != len(servers) and now - self._last_change >= self.cooldown:
            if want > len(servers):
                server = self.make_server()
                self.balancer.add_backend(server)
                self._changed(now, "out", server.name)
            else:
                victim = servers[-1]
                self.balancer.drain(victim.name)
                victim.stop()
                self._changed(now, "in", victim.name)
        return sample

    def _changed(self, now: float, direction: str, name: str) -> None:
        self._last_change = now
        self.actions.append((now, direction, name))
        self.timeline.record("reaction", f"scale {direction}", name, source="autoscaler")

    def start(self) -> Autoscaler:
        self._thread = threading.Thread(target=self._run, name="autoscaler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.step()
        except BaseException as exc:  # raised again by stop(): a loop that died must not go unnoticed
            self.error = exc

    #: What ended the loop early, if anything (:meth:`stop` raises it).
    error: BaseException | None = None

    def stop(self) -> None:
        """End the loop; raise what ended it early, if anything did."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise self.error
