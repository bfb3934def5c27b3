"""The network: a latency per hop between two named endpoints, and partitions that cut links.

Think of it as a table of road travel times. Every request that crosses from one node to another
(client → web server, web server → database) calls :meth:`Network.hop`, which waits the link's
latency (plus seeded jitter) or raises :class:`NetworkPartition` if the road is closed. Endpoints
on the same machine talk without a hop: that is exactly what Stage 1's single server gains and
Stage 2's split gives up.
"""

from __future__ import annotations

import random
import threading

from .clock import Clock, RealClock
from .errors import ConfigError, NetworkPartition, check_positive


def _key(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


class Network:
    """Symmetric per-link latencies with a default for links not set explicitly."""

    def __init__(
        self, *, seed: int = 0, clock: Clock | None = None, default_latency: float = 0.0005, jitter: float = 0.0
    ) -> None:
        check_positive("default_latency", default_latency, allow_zero=True)
        check_positive("jitter", jitter, allow_zero=True)
        self.clock: Clock = clock or RealClock()
        self.default_latency = float(default_latency)
        self.default_jitter = float(jitter)
        self._links: dict[frozenset[str], tuple[float, float]] = {}
        self._cut: set[frozenset[str]] = set()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def set_latency(self, a: str, b: str, latency: float, jitter: float = 0.0) -> None:
        """One-way latency (seconds) between ``a`` and ``b``, both directions."""
        check_positive(f"latency {a}<->{b}", latency, allow_zero=True)
        check_positive(f"jitter {a}<->{b}", jitter, allow_zero=True)
        if a == b:
            raise ConfigError(f"a link joins two different endpoints, got {a!r} twice")
        with self._lock:
            self._links[_key(a, b)] = (float(latency), float(jitter))

    def latency(self, a: str, b: str) -> float:
        """One sampled one-way latency from ``a`` to ``b`` (0 on the same endpoint)."""
        return 0.0 if a == b else self._sample(_key(a, b))

    def _sample(self, key: frozenset[str]) -> float:
        with self._lock:
            base, jitter = self._links.get(key, (self.default_latency, self.default_jitter))
            return base + (self._rng.uniform(0, jitter) if jitter else 0.0)

    def partition(self, a: str, b: str) -> None:
        with self._lock:
            self._cut.add(_key(a, b))

    def heal(self, a: str, b: str) -> None:
        with self._lock:
            self._cut.discard(_key(a, b))

    def is_partitioned(self, a: str, b: str) -> bool:
        return _key(a, b) in self._cut

    def hop(self, a: str, b: str) -> float:
        """Travel from ``a`` to ``b``: wait the latency and return it, or raise if the link is cut."""
        if a == b or not (self.default_latency or self.default_jitter or self._links or self._cut):
            return 0.0  # a network without latency or faults: nothing to sample, nothing to wait
        key = _key(a, b)
        if key in self._cut:
            raise NetworkPartition(f"{a!r} cannot reach {b!r}: the network between them is partitioned")
        delay = self._sample(key)
        if delay > 0:
            self.clock.sleep(delay)
        return delay
