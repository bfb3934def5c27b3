"""A content delivery network: copies of static files on edge servers close to the users.

Think of newspaper kiosks. The printing house (the **origin**) is in one city; kiosks (the **edges**)
in every region keep copies of today's paper. A reader buys at the nearest kiosk; a kiosk that has
run out sends for more from the printing house, far away, and keeps them for a while (the TTL). When
the paper changes, kiosks must be told to throw their copies away (**invalidation**), or the new
edition must get a new name that no kiosk holds yet (**versioned URLs**).

Every request crosses the cluster's network between hosts named ``users-<region>``, ``edge-<region>``
and the origin's host, with the latencies of :data:`REGION_LATENCY`: a reader far from the origin pays
its round trip only when the nearby edge misses. An edge that is down is skipped for the next nearest
one; with no edge up, clients go to the origin itself (the CDN's fallback).

Edges keep their copies in memory with the cluster's clock, so under a
:class:`~minicluster.clock.ManualClock` a run is exact and instant: each hop moves the clock forward by
its latency, and a TTL of an hour passes in no time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ConfigError, check_positive
from .nodes import Node

#: One-way latency in seconds between regions (a user and an edge in the same region: ``LOCAL``).
REGION_LATENCY = {
    frozenset(("us", "eu")): 0.040,
    frozenset(("us", "ap")): 0.080,
    frozenset(("eu", "ap")): 0.090,
}
LOCAL = 0.005


def region_latency(a: str, b: str) -> float:
    """One-way latency between two regions of :data:`REGION_LATENCY`."""
    if a == b:
        return LOCAL
    try:
        return REGION_LATENCY[frozenset((a, b))]
    except KeyError:
        known = sorted({r for pair in REGION_LATENCY for r in pair})
        raise ConfigError(f"no latency between regions {a!r} and {b!r} (regions: {', '.join(known)})") from None


def users_host(region: str) -> str:
    return f"users-{region}"


@dataclass(frozen=True)
class Fetched:
    """One response: the object's body and version, who served it, and whether an edge had it."""

    path: str
    body: str
    version: int
    served_by: str
    hit: bool
    seconds: float


class Origin(Node):
    """The origin: the web server that owns the static files (``deploy`` publishes a new version)."""

    kind = "web"

    def __init__(self, name: str, region: str, *, host: str | None = None, clock=None) -> None:
        super().__init__(name, host=host, clock=clock)
        self.region = region
        self._files: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def deploy(self, path: str, body: str) -> int:
        """Publish ``body`` at ``path``; returns its version (1, 2, ...)."""
        if not (isinstance(path, str) and path.startswith("/")):
            raise ConfigError(f"a path starts with '/', got {path!r}")
        with self._lock:
            version = self._files.get(path, (0, ""))[0] + 1
            self._files[path] = (version, body)
        return version

    def read(self, path: str) -> tuple[int, str]:
        self.ensure_up()
        self.metrics.counter("requests").inc()
        with self._lock:
            if path not in self._files:
                raise ConfigError(f"the origin has no file {path!r}")
            return self._files[path]


class Edge(Node):
    """An edge server of the CDN: copies of the origin's files, each kept ``ttl`` seconds."""

    kind = "cdn"

    def __init__(self, name: str, region: str, *, ttl: float, host: str | None = None, clock=None) -> None:
        super().__init__(name, host=host, clock=clock)
        check_positive(f"{name}: ttl", ttl)
        self.region = region
        self.ttl = float(ttl)
        self._copies: dict[str, tuple[int, str, float]] = {}  # path -> (version, body, stored at)
        self._purges: dict[str, float] = {}  # path -> when a purge takes effect here
        self._lock = threading.Lock()

    def cached(self, path: str) -> tuple[int, str] | None:
        """The copy of ``path`` held now, if any and not expired nor purged (a hit)."""
        now = self.clock.now()
        with self._lock:
            copy = self._copies.get(path)
            if copy is None:
                return None
            version, body, stored = copy
            purge = self._purges.get(path)
            if now >= stored + self.ttl or (purge is not None and stored < purge <= now):
                del self._copies[path]
                return None
            return version, body

    def store(self, path: str, version: int, body: str) -> None:
        with self._lock:
            self._copies[path] = (version, body, self.clock.now())

    def purge_at(self, path: str, at: float) -> None:
        """Drop the copy of ``path`` stored before ``at``, from ``at`` on (an invalidation arriving)."""
        with self._lock:
            self._purges[path] = at

    def on_crash(self) -> None:
        with self._lock:
            self._copies.clear()


class CDN:
    """Edges in several regions in front of one origin, on the cluster's network."""

    def __init__(self, cluster, origin: Origin, regions: Iterable[str], *, ttl: float = 60.0) -> None:
        self.cluster = cluster
        self.origin = origin
        self.edges: dict[str, Edge] = {}
        self.enabled = True
        for region in regions:
            edge = Edge(f"edge-{region}", region, ttl=ttl, host=f"edge-{region}", clock=cluster.clock)
            cluster._check_new(edge.name)
            cluster._add(edge)
            self.edges[region] = edge
        hosts = {origin.host: origin.region} | {e.host: e.region for e in self.edges.values()}
        hosts |= {users_host(r): r for r in self._regions()}
        names = list(hosts)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                cluster.network.set_latency(a, b, region_latency(hosts[a], hosts[b]))
        cluster.link_sources.append(self._links)

    def _regions(self) -> list[str]:
        return sorted({*self.edges, self.origin.region})

    def nearest_edge(self, region: str) -> Edge | None:
        """The edge a user in ``region`` is sent to: its own region's if up, else the closest one up."""
        up = [e for e in self.edges.values() if e.is_up]
        if not self.enabled or not up:
            return None
        return min(up, key=lambda e: (region_latency(region, e.region), e.name))

    def get(self, region: str, path: str) -> Fetched:
        """A user in ``region`` fetches ``path``: from the nearest edge (from the origin on a miss), or
        from the origin directly when no edge is up."""
        clock, net = self.cluster.clock, self.cluster.network
        started, here = clock.now(), users_host(region)
        edge = self.nearest_edge(region)
        if edge is None:
            version, body = self._from_origin(here, path)
            return Fetched(path, body, version, self.origin.name, False, clock.now() - started)
        net.hop(here, edge.host)
        copy = edge.cached(path)
        hit = copy is not None
        if hit:
            edge.metrics.counter("hits").inc()
            version, body = copy
        else:
            edge.metrics.counter("misses").inc()
            version, body = self._from_origin(edge.host, path)
            edge.store(path, version, body)
        net.hop(edge.host, here)
        return Fetched(path, body, version, edge.name, hit, clock.now() - started)

    def _from_origin(self, here: str, path: str) -> tuple[int, str]:
        net = self.cluster.network
        net.hop(here, self.origin.host)
        try:
            return self.origin.read(path)
        finally:
            net.hop(self.origin.host, here)

    def invalidate(self, path: str, *, propagation: float = 0.0) -> None:
        """Ask every edge to drop ``path`` (a purge through the CDN's API). It reaches the edges one after
        another, ``propagation`` seconds apart, in the order of their regions."""
        check_positive("propagation", propagation, allow_zero=True)
        now = self.cluster.clock.now()
        for i, region in enumerate(sorted(self.edges)):
            self.edges[region].purge_at(path, now + i * propagation)

    def _links(self) -> list[tuple[str, str, str, bool]]:
        links = []
        for region, edge in sorted(self.edges.items()):
            links.append(("client", edge.name, f"static files ({region})", edge.is_up and self.enabled))
            links.append((edge.name, self.origin.name, "on a miss", edge.is_up and self.origin.is_up))
        return links
