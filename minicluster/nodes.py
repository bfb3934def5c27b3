"""Nodes: the machines of the mini-cluster, with the health state that faults change.

A node is anything with a name that requests reach: a web server, a database, a cache, a load
balancer. It is *up* or *down*, and it may be *slowed* by a factor (a noisy neighbour, a failing
disk). Nodes only expose these hooks; deciding *when* to crash or slow something is the job of
:mod:`minicluster.faults`, which keeps faults apart from the workloads that suffer them.
"""

from __future__ import annotations

import enum
import threading

from .clock import Clock, RealClock
from .errors import ConfigError, NodeDown, check_positive
from .metrics import Metrics


class Health(enum.Enum):
    UP = "up"
    SLOW = "slow"
    DOWN = "down"


class Node:
    """A named machine with a health state, fault hooks and its own metrics."""

    kind = "node"

    def __init__(self, name: str, *, host: str | None = None, clock: Clock | None = None) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"a node needs a non-empty name, got {name!r}")
        self.name = name
        #: The machine this node runs on: nodes on one host talk without a network hop.
        self.host = host or name
        #: The address DNS hands out for this node (set by the cluster; a label, never dialled).
        self.address: str | None = None
        self.clock: Clock = clock or RealClock()
        #: What the node measures about itself. Web servers: counters ``requests``, ``status_2xx`` ...
        #: ``status_5xx``, ``errors``, ``rejected``, ``dropped``, ``handler_exceptions``; histograms
        #: ``latency``, ``queue_wait``, ``service_time``. Databases: ``queries``, ``rows_read``,
        #: ``refused_connections``, gauge ``connections``, histograms ``query_latency``, ``core_wait``.
        #: Balancers: ``requests``, ``to_<backend>``, ``backend_errors``, ``no_backend``.
        self.metrics = Metrics()
        self._down = False
        self._slowdown = 1.0
        self._lock = threading.Lock()
        #: How many times this node has come back from a crash: what it kept in memory belongs to an
        #: older incarnation and is gone.
        self.incarnation = 0

    # -- health ---------------------------------------------------------------------------
    @property
    def health(self) -> Health:
        """``UP``, ``SLOW`` (slowed by a fault) or ``DOWN`` (crashed)."""
        if self._down:
            return Health.DOWN
        return Health.SLOW if self._slowdown > 1 else Health.UP

    @property
    def is_up(self) -> bool:
        return not self._down

    @property
    def slowdown(self) -> float:
        """How many times longer than normal this node takes for the same work."""
        return self._slowdown

    def ensure_up(self) -> None:
        """Raise :class:`NodeDown` if this node has crashed (call at the start of every request)."""
        if self._down:
            raise NodeDown(f"{self.kind} {self.name!r} is down")

    def work(self, seconds: float) -> None:
        """Spend ``seconds`` of (injected) service time, stretched by the slowdown factor."""
        self.clock.sleep(seconds * self._slowdown)

    # -- fault hooks (called by minicluster.faults) -------------------------------------------
    def crash(self) -> None:
        """Stop answering (called by :mod:`minicluster.faults`; use the nemesis so the timeline records it)."""
        with self._lock:
            self._down = True
        self.on_crash()

    def recover(self) -> None:
        with self._lock:
            self._down = False
            self.incarnation += 1
        self.on_recover()

    def slow(self, factor: float) -> None:
        check_positive("slowdown factor", factor)
        if factor < 1:
            raise ConfigError(f"a slowdown factor is >= 1 (1 means normal speed), got {factor!r}")
        with self._lock:
            self._slowdown = float(factor)

    def on_crash(self) -> None:
        """Subclasses drop in-memory state or refuse work here."""

    def on_recover(self) -> None:
        """Subclasses restart here."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.health.value}>"
