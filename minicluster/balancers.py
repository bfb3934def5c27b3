"""Load-balancing policies: which backend gets the next request.

A policy is anything with one method, ``choose(backends, request) -> backend``; a plain function
of the same shape works too. ``backends`` is every backend the load balancer knows, each with a
``name``, a ``weight`` and a ``healthy`` flag kept by the health checks: a policy must never pick an
unhealthy one, and raises :class:`NoHealthyBackend` when none is left. Policies that keep state about
requests in progress (least connections, power of two choices) also define ``release(backend,
request)``, which the load balancer calls when that request is over.

Every policy here is safe to call from many threads at once.

===============================  ==========================================================================
policy                           use it when / avoid it when
===============================  ==========================================================================
:class:`RoundRobin`              identical servers, short uniform requests; avoid when one server is slow
:class:`WeightedRoundRobin`      servers of different sizes; weights are static, so a slow server still hurts
:class:`RandomChoice`            no shared state at all; but hot spots by chance, and blind to slowness
:class:`LeastConnections`        request times vary or a server is slow: it routes around queues
:class:`PowerOfTwoChoices`       like least connections for huge fleets, without scanning every server
:class:`ConsistentHash`          the same client must land on the same server (local caches, sticky sessions)
===============================  ==========================================================================
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .errors import ConfigError, MiniclusterError, check_positive
from .hashring import HashRing
from .web import Request


class NoHealthyBackend(MiniclusterError, RuntimeError):
    """Every backend is ejected: the load balancer has nowhere to send the request (HTTP 503)."""


@dataclass(eq=False)
class Backend:
    """What a policy sees of one server behind the load balancer."""

    name: str
    weight: int = 1
    healthy: bool = True
    server: object = field(default=None, repr=False)


class Balancer(Protocol):
    def choose(self, backends: Sequence[Backend], request: Request) -> Backend:
        """The backend for ``request``; never an unhealthy one."""


def healthy(backends: Sequence[Backend]) -> list[Backend]:
    """The healthy backends, or :class:`NoHealthyBackend` when there are none."""
    alive = [b for b in backends if b.healthy]
    if not alive:
        names = ", ".join(b.name for b in backends) or "none"
        raise NoHealthyBackend(f"no healthy backend among {len(backends)}: {names}")
    return alive


class RoundRobin:
    """Each healthy backend in turn."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def choose(self, backends: Sequence[Backend], request: Request) -> Backend:
        alive = healthy(backends)
        with self._lock:
            i = self._next
            self._next += 1
        return alive[i % len(alive)]


class WeightedRoundRobin:
    """Round robin in proportion to ``weight``, interleaved smoothly (nginx's algorithm).

    Each pick, every backend's score grows by its weight; the highest score wins and pays back the
    total. Weights 5, 1, 1 give ``a a b a c a a``, not ``a a a a a b c``.
    """

    def __init__(self) -> None:
        self._score: dict[str, int] = {}
        self._lock = threading.Lock()

    def choose(self, backends: Sequence[Backend], request: Request) -> Backend:
        alive = healthy(backends)
        with self._lock:
            total = 0
            best = None
            for b in alive:
                self._score[b.name] = self._score.get(b.name, 0) + b.weight
                total += b.weight
                if best is None or self._score[b.name] > self._score[best.name]:
                    best = b
            self._score[best.name] -= total
        return best


class RandomChoice:
    """A healthy backend at random (seeded)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def choose(self, backends: Sequence[Backend], request: Request) -> Backend:
        alive = healthy(backends)
        with self._lock:
            return self._rng.choice(alive)


class _InFlight:
    """Counts the requests each backend is serving: ``choose`` adds one, ``release`` takes it back."""

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def in_flight(self, backend: Backend) -> int:
        return self._in_flight.get(backend.name, 0)

    def _take(self, backend: Backend) -> Backend:
        self._in_flight[backend.name] = self.in_flight(backend) + 1
        return backend

    def release(self, backend: Backend, request: Request) -> None:
        with self._lock:
            self._in_flight[backend.name] = self.in_flight(backend) - 1


class LeastConnections(_InFlight):
    """The healthy backend with the fewest requests in progress; ties go in list order.

    A slow server holds its requests longer, so its count stays high and it gets fewer new ones.
    """

    def choose(self, backends: Sequence[Backend], request: Request) -> Backend:
        alive = healthy(backends)
        with self._lock:
            return self._take(min(alive, key=self.in_flight))


class PowerOfTwoChoices(_InFlight):
    """Two healthy backends at random, then the less busy of the two.

    Nearly as good as least connections at spreading load, without looking at every server, and
    without the herd effect of many balancers all picking the same "least loaded" one.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._rng = random.Random(seed)

    def choose(self, backends: Sequence[Backend], request: Request) -> Backend:
        alive = healthy(backends)
        with self._lock:
            pair = self._rng.sample(alive, 2) if len(alive) > 1 else alive
            return self._take(min(pair, key=self.in_flight))


class ConsistentHash:
    """The same client key always lands on the same healthy backend (sticky), via a hash ring.

    When a backend is ejected, only its clients move (to the next backend clockwise); when it comes
    back, they return. Blind to load: a hot client makes a hot server.

    The key is the request's ``client`` by default, so a script that sends everything from one
    ``cluster.client()`` pins all of it to one server: give each simulated user its own client
    (``cluster.client(f"user{n}")``) or pass ``key=`` (e.g. a session header).
    """

    def __init__(self, key: Callable[[Request], object] = lambda request: request.client, vnodes: int = 100) -> None:
        check_positive("vnodes", vnodes, integer=True)
        self._key = key
        self._vnodes = vnodes
        self._ring = HashRing(vnodes=vnodes)
        self._lock = threading.Lock()

    def choose(self, backends: Sequence[Backend], request: Request) -> Backend:
        healthy(backends)
        by_name = {b.name: b for b in backends}
        with self._lock:
            # Follow the backend list as servers are added and removed under load.
            for name in self._ring.nodes - by_name.keys():
                self._ring.remove(name)
            for name in by_name.keys() - self._ring.nodes:
                self._ring.add(name)
            for name in self._ring.walk(self._key(request)):
                if by_name[name].healthy:
                    return by_name[name]
        raise AssertionError("unreachable: healthy() found one")


POLICIES: dict[str, Callable[[], Balancer]] = {
    "round robin": RoundRobin,
    "weighted round robin": WeightedRoundRobin,
    "random": RandomChoice,
    "least connections": LeastConnections,
    "power of two choices": PowerOfTwoChoices,
    "consistent hash": ConsistentHash,
}
"""Every shipped policy by name, each made fresh by calling it."""

#: What a balancer accepts as its policy: a policy object, or a plain function ``(backends, request) -> backend``.
PolicyLike = Balancer | Callable[[Sequence[Backend], Request], Backend]


def as_policy(policy: PolicyLike) -> Balancer:
    """Accept a policy object or a plain function ``(backends, request) -> backend``."""
    if isinstance(policy, type):
        raise ConfigError(f"pass a policy object, not its class: {policy.__name__}(), not {policy.__name__}")
    if hasattr(policy, "choose"):
        return policy
    if callable(policy):
        return _FunctionPolicy(policy)
    raise ConfigError(f"a balancing policy has a choose(backends, request) method or is a function, got {policy!r}")


class _FunctionPolicy:
    def __init__(self, fn: Callable[[Sequence[Backend], Request], Backend]) -> None:
        self.choose = fn
