"""DNS: the phone book that turns ``api.mysite.com`` into the address of a server.

Clients ask DNS once, then cache the answer for its TTL. That cache is why DNS alone is a poor
failover mechanism: a client holding a dead server's address keeps using it until the TTL runs out.
"""

from __future__ import annotations

import threading

from .clock import Clock, RealClock
from .errors import ConfigError, UnknownHost, check_positive


class DNS:
    """A table of A records (hostname → addresses) with a TTL; round-robin over several addresses."""

    def __init__(self, *, ttl: float = 300.0, clock: Clock | None = None) -> None:
        check_positive("dns ttl", ttl, allow_zero=True)
        self.ttl = float(ttl)
        self.clock: Clock = clock or RealClock()
        self._records: dict[str, list[str]] = {}
        self._next: dict[str, int] = {}
        self.lookups = 0
        self._lock = threading.Lock()

    def register(self, hostname: str, *addresses: str) -> None:
        """Point ``hostname`` at ``addresses`` (replacing what it pointed at)."""
        if not isinstance(hostname, str) or not hostname or " " in hostname:
            raise ConfigError(f"not a hostname: {hostname!r}")
        if not addresses:
            raise ConfigError(f"register({hostname!r}) needs at least one address")
        with self._lock:
            self._records[hostname.lower()] = list(addresses)
            self._next[hostname.lower()] = 0

    def records(self) -> dict[str, list[str]]:
        with self._lock:
            return {h: list(a) for h, a in self._records.items()}

    def resolve(self, hostname: str) -> str:
        """One address for ``hostname``; several records are handed out in turn."""
        with self._lock:
            self.lookups += 1
            addresses = self._records.get(str(hostname).lower())
            if not addresses:
                known = ", ".join(sorted(self._records)) or "none"
                raise UnknownHost(f"DNS has no record for {hostname!r} (known: {known})")
            i = self._next[hostname.lower()]
            self._next[hostname.lower()] = (i + 1) % len(addresses)
            return addresses[i]


class Resolver:
    """A client's DNS cache: asks :class:`DNS` only when its cached answer is older than the TTL."""

    def __init__(self, dns: DNS) -> None:
        self.dns = dns
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def resolve(self, hostname: str) -> str:
        now = self.dns.clock.now()
        with self._lock:
            hit = self._cache.get(hostname)
            if hit is not None and now - hit[1] < self.dns.ttl:
                return hit[0]
        address = self.dns.resolve(hostname)
        with self._lock:
            self._cache[hostname] = (address, now)
        return address
