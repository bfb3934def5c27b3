"""Regions: data centers far apart, users near each, GeoDNS in front, data copied between them.

Think of a chain of shops in three cities, each with its own staff and its own copy of the
customer files. GeoDNS is the sign on the motorway: it sends each driver to the nearest shop that
is open and not full. Each customer's file is kept by their **home** shop and copied to the others a
little later (asynchronous replication). When a shop burns down, its drivers are sent elsewhere once
the sign is changed (health checks, then DNS caches expiring), and its customers' files are taken
over from the copies, minus the changes that had not been copied yet.

The world runs on a :class:`~minicluster.clock.ManualClock`, one tick (0.1 s) at a time: every tick
each region's users send their requests, a resolver picks the region that serves each, requests
beyond a region's capacity are shed (HTTP 503), and every replica applies the changes that are due.
The data is real: each region holds, for each home region, a DuckDB database of that home's users
(the home's own one is the primary, the others are replicas of :mod:`minicluster.replication`),
and every write of a request is a row written there. Being a tick-by-tick simulation on a manual
clock, a run is exact and repeatable, and ten seconds of a world take a fraction of one.

A resolver is anything with ``choose(user_region, regions, latency) -> region`` (or such a function):
``regions`` are :class:`RegionView` (``name``, ``healthy``, ``load``, ``capacity``) and ``latency(a,
b)`` is the one-way latency between two regions. Shipped: :func:`nearest` (ignores health: plain
latency-based DNS) and :func:`nearest_healthy` (what a GeoDNS with health checks does). Exercise
``07.geodns`` also spills over when the nearest region is full.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .cdn import region_latency
from .clock import ManualClock
from .cluster import Cluster
from .errors import ConfigError, MiniclusterError, check_positive
from .load import derive_seed
from .nodes import Node
from .replication import Member

#: The regions of the world, in the order tables list them.
REGIONS = ("us", "eu", "ap")
TICK = 0.1
#: Clients of a region fall in this many groups, each with its own DNS cache.
CLIENT_GROUPS = 10


class NoHealthyRegion(MiniclusterError, RuntimeError):
    """Every region is down: GeoDNS has nowhere to send the user."""


@dataclass(frozen=True)
class RegionView:
    """What a resolver knows of a region: health (from health checks), load and capacity (per second)."""

    name: str
    healthy: bool
    load: float
    capacity: float


def nearest(user_region: str, regions: Sequence[RegionView], latency) -> RegionView:
    """The region closest to the user, up or not (latency-based DNS without health checks)."""
    return min(regions, key=lambda r: (latency(user_region, r.name), r.name))


def nearest_healthy(user_region: str, regions: Sequence[RegionView], latency) -> RegionView:
    """The closest region that health checks say is up; :class:`NoHealthyRegion` when none is."""
    healthy = [r for r in regions if r.healthy]
    if not healthy:
        raise NoHealthyRegion("every region is down")
    return min(healthy, key=lambda r: (latency(user_region, r.name), r.name))


class RegionWeb(Node):
    """A region's web tier, drawn as one node (its capacity is the :class:`Region`'s)."""

    kind = "web"


@dataclass
class Region:
    """One data center: web capacity (requests/s), whether it is up, and its databases."""

    name: str
    capacity: float
    up: bool = True
    #: Time from which health checks report this region down (its failure, detected late).
    seen_down_at: float | None = None
    #: Capacity asked for and not there yet, with the time it arrives (servers booting).
    pending: list[tuple[float, float]] = field(default_factory=list)
    served: int = 0
    #: Requests per second it served during the last whole tick (what resolvers see as its load).
    last_load: float = 0.0


@dataclass
class Second:
    """What happened during one second of a world."""

    t: float
    sent: int = 0
    ok: int = 0
    shed: int = 0
    to_dead_region: int = 0
    no_data: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def availability(self) -> float:
        return self.ok / self.sent if self.sent else 1.0


class World:
    """Users in ``users`` (requests/s per user region), regions ``deployed`` with ``capacity`` requests/s
    each, a ``resolver``; ``write_share`` of requests write a row of the user's home data, which is
    replicated to the other deployed regions after ``replication_lag`` seconds (``None``: not replicated).

    Clients cache a DNS answer ``dns_ttl`` seconds; health checks see a region down ``detect`` seconds
    after it fails. A request takes ``2 x latency(user, region) + service`` seconds.
    """

    def __init__(
        self,
        users: dict[str, float],
        *,
        deployed: Sequence[str] = REGIONS,
        capacity: float | dict[str, float] = 200.0,
        resolver=nearest_healthy,
        write_share: float = 0.1,
        replication_lag: float | None = 0.5,
        dns_ttl: float = 1.0,
        detect: float = 0.3,
        service: float = 0.02,
        seed: int = 42,
        cluster: Cluster | None = None,
    ) -> None:
        unknown = [r for r in [*users, *deployed] if r not in REGIONS]
        if unknown:
            raise ConfigError(f"no region {unknown[0]!r} (regions: {', '.join(REGIONS)})")
        if not deployed:
            raise ConfigError("a world needs at least one deployed region")
        for value in (dns_ttl, detect, service):
            check_positive("a world's time parameter", value, allow_zero=True)
        self.users = dict(users)
        self.resolver = resolver if hasattr(resolver, "choose") else _Resolver(resolver)
        self.write_share, self.replication_lag = write_share, replication_lag
        self.dns_ttl, self.detect, self.service = dns_ttl, detect, service
        self.cluster = cluster if cluster is not None else Cluster(seed=seed, clock=ManualClock())
        self._owns_cluster = cluster is None
        self.clock = self.cluster.clock
        caps = capacity if isinstance(capacity, dict) else dict.fromkeys(deployed, capacity)
        self.regions = {name: Region(name, float(caps[name])) for name in deployed}
        #: Each region's web tier, as a node of the cluster (what the live diagram shows up or down).
        self.web = {name: self.cluster._add(RegionWeb(f"web-{name}", host=f"region-{name}")) for name in deployed}
        self._rng_seed = derive_seed(seed, "world")
        self._counter = 0
        self._dns_cache: dict[tuple[str, int], tuple[str, float]] = {}
        self.seconds: list[Second] = []
        #: Writes acknowledged to clients: (home region, key) -> value.
        self.acknowledged: dict[tuple[str, int], str] = {}
        self._build_data()

    # -- data: per home region, a primary at home and replicas elsewhere ----------------------------
    def _build_data(self) -> None:
        self.data: dict[str, dict[str, Member]] = {}  # home -> region -> member holding home's users
        for home in self.regions:
            members = {}
            for region in self.regions:
                node = self.cluster.add_database(f"{home}-data-in-{region}", host=f"region-{region}")
                members[region] = Member(node, clock=self.clock)
            members[home].writable = True
            if self.replication_lag is not None:
                for region, member in members.items():
                    if region != home:
                        member.lag = self.replication_lag + region_latency(home, region)
                        member.follow(members[home], thread=False)
            self.data[home] = members
        #: Where each home's data is written now (its home region, until a failover).
        self.primary_of = {home: home for home in self.regions}
        self.cluster.link_sources.append(self._links)

    def _links(self) -> list[tuple[str, str, str, bool]]:
        links = []
        for name, region in self.regions.items():
            links.append(("client", self.web[name].name, f"GeoDNS: users near {name}", region.up))
        if self.replication_lag is not None:
            for home, members in self.data.items():
                source = members[self.primary_of[home]]
                for member in members.values():
                    if member is not source and member.upstream is source:
                        links.append((source.name, member.name, "async copy", source.is_up and member.is_up))
        return links

    def diagram(self, title: str | None = None):
        """The regions as they are now (Mermaid): web tiers, each home's data and its copies."""
        return self.cluster.diagram(title)

    def home_of(self, user_region: str) -> str:
        """Users are homed in their own region if it is deployed, else in the nearest deployed one."""
        return min(self.regions, key=lambda r: (region_latency(user_region, r), r))

    # -- time ------------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.clock.now()

    def views(self) -> list[RegionView]:
        now = self.now
        return [
            RegionView(r.name, not (r.seen_down_at is not None and now >= r.seen_down_at), r.last_load, r.capacity)
            for r in self.regions.values()
        ]

    def fail(self, name: str) -> None:
        """Region ``name`` goes dark (power, network): its servers and databases stop."""
        region = self.regions[name]
        region.up, region.seen_down_at = False, self.now + self.detect
        self.web[name].crash()
        for members in self.data.values():
            members[name].node.crash()
        self.cluster.timeline.record("fault", "region outage", name, source="nemesis")

    def recover(self, name: str) -> None:
        region = self.regions[name]
        region.up, region.seen_down_at = True, None
        self.web[name].recover()
        for members in self.data.values():
            members[name].node.recover()
        self.cluster.timeline.record("heal", "region back", name, source="nemesis")

    def fail_over(self, home: str) -> int:
        """Make the most advanced surviving copy of ``home``'s data its primary; returns the acknowledged
        writes it lacks (lost)."""
        members = self.data[home]
        alive = [m for region, m in members.items() if region != home and m.is_up]
        if not alive:
            return 0
        best = max(alive, key=lambda m: (m.applied_lsn, m.name))
        best.writable = True
        best.upstream = None
        region = next(r for r, m in members.items() if m is best)
        self.primary_of[home] = region
        for other in alive:
            if other is not best:
                other.follow(best, thread=False)
        held = best.rows()
        lost = sum(held.get(k) != v for (h, k), v in self.acknowledged.items() if h == home)
        self.cluster.timeline.record("reaction", "fail over data", home, source="operator", detail=f"to {region}")
        return lost

    def evacuate(self, name: str) -> None:
        """Send region ``name``'s traffic elsewhere on purpose: GeoDNS treats it as down, though it runs."""
        self.regions[name].seen_down_at = self.now
        self.cluster.timeline.record("change", "evacuate", name, source="operator")

    def readmit(self, name: str) -> None:
        self.regions[name].seen_down_at = None
        self.cluster.timeline.record("change", "readmit", name, source="operator")

    def add_capacity(self, name: str, amount: float, *, boot: float = 0.0) -> None:
        """Ask for ``amount`` more requests/s in region ``name``, there after ``boot`` seconds."""
        self.regions[name].pending.append((self.now + boot, amount))

    def run(self, seconds: float, plan: dict[float, Callable[[], object]] | None = None) -> list[Second]:
        """Advance ``seconds``, tick by tick; ``plan`` maps a time (from now) to an action run then."""
        if not isinstance(self.clock, ManualClock):
            raise ConfigError(
                "a World runs on a ManualClock: build it without a cluster, or give one with clock=ManualClock()"
            )
        start, actions = self.now, sorted((plan or {}).items())
        for _ in range(round(seconds / TICK)):
            while actions and self.now - start >= actions[0][0] - 1e-9:
                actions.pop(0)[1]()
            self._tick()
        return self.seconds

    def _tick(self) -> None:
        now = self.now
        second = int(now + 1e-9)
        while len(self.seconds) <= second:
            self.seconds.append(Second(float(len(self.seconds))))
        stats = self.seconds[second]
        for region in self.regions.values():
            region.last_load, region.served = region.served / TICK, 0
            for at, amount in [p for p in region.pending if p[0] <= now]:
                region.capacity += amount
                region.pending.remove((at, amount))
        for user_region, rate in self.users.items():
            whole, rest = divmod(rate * TICK, 1)
            count = int(whole) + (self._next_fraction() < rest)
            for _ in range(count):
                self._request(user_region, stats)
        for members in self.data.values():
            for member in members.values():
                member.pump()
        self.clock.advance(TICK)

    def _next_fraction(self) -> float:
        self._counter += 1
        return (derive_seed(self._rng_seed, self._counter) % 10_000) / 10_000

    def _resolve(self, user_region: str) -> str:
        """The region serving a request of a user in ``user_region``, through the DNS cache of one of
        :data:`CLIENT_GROUPS` groups of its clients (whose caches expire at different moments)."""
        self._counter += 1
        group = (user_region, self._counter % CLIENT_GROUPS)
        cached = self._dns_cache.get(group)
        if cached is not None and self.now < cached[1]:
            return cached[0]
        choice = self.resolver.choose(user_region, self.views(), region_latency)
        name = getattr(choice, "name", choice)
        # The groups first asked at different times before the run: their caches expire in turn.
        ttl = self.dns_ttl if cached is not None else self.dns_ttl * (group[1] + 1) / CLIENT_GROUPS
        self._dns_cache[group] = (name, self.now + ttl)
        return name

    def _request(self, user_region: str, stats: Second) -> None:
        stats.sent += 1
        try:
            served = self.regions[self._resolve(user_region)]
        except NoHealthyRegion:
            stats.to_dead_region += 1
            return
        if not served.up:
            stats.to_dead_region += 1
            return
        if served.served >= served.capacity * TICK:
            stats.shed += 1
            return
        served.served += 1
        home = self.home_of(user_region)
        if self._next_fraction() < self.write_share:
            primary = self.data[home][self.primary_of[home]]
            if not primary.is_up:
                stats.no_data += 1
                return
            self._counter += 1
            key, value = self._counter, f"{user_region}:{self._counter}"
            primary.write(key, value)
            self.acknowledged[(home, key)] = value
        elif not self._holds(served.name, home):
            stats.no_data += 1
            return
        stats.ok += 1
        stats.latencies.append(2 * region_latency(user_region, served.name) + self.service)

    def _holds(self, region: str, home: str) -> bool:
        """Whether ``region`` can answer reads of ``home``'s users: it is home, or holds a replica, and is up."""
        member = self.data[home][region]
        return member.is_up and (region == home or self.replication_lag is not None or self.primary_of[home] == region)

    def close(self) -> None:
        for members in self.data.values():
            for member in members.values():
                member.stop()
        if self._owns_cluster:
            self.cluster.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Resolver:
    def __init__(self, fn) -> None:
        if not callable(fn):
            raise ConfigError(
                f"a resolver has choose(user_region, regions, latency), or is such a function; got {fn!r}"
            )
        self.choose = fn


def availability_after(seconds: Sequence[Second], start: float) -> float:
    """Share of requests answered from second ``start`` on."""
    chosen = [s for s in seconds if s.t >= start]
    sent = sum(s.sent for s in chosen)
    return sum(s.ok for s in chosen) / sent if sent else 1.0


def recovery_time(seconds: Sequence[Second], failed_at: float, goal: float = 0.99) -> float:
    """Seconds from ``failed_at`` until the first whole second at or above ``goal`` availability that
    stays there; ``inf`` if it never does."""
    after = [s for s in seconds if s.t >= math.floor(failed_at)]
    for i, s in enumerate(after):
        if all(x.availability >= goal for x in after[i:]):
            return max(0.0, s.t - failed_at)
    return math.inf
