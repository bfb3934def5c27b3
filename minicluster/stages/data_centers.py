"""Stage 7: several data centers (regions), users sent to the nearest by GeoDNS, data copied between them.

The experiments run a :class:`~minicluster.regions.World` on a manual clock, tick by tick: exact,
repeatable, and ten seconds of three regions in a fraction of one. The data is real (each region holds
each home region's users in DuckDB, replicated asynchronously).

* **latency**: users of each region against 1, 2 and 3 regions deployed;
* **a region outage**, with and without cross-region replication: availability over time, writes lost
  (RPO) and time to recover (RTO); and how DNS caching stretches it (traffic redirection);
* **evacuating a region** on purpose (Netflix's "Chaos Kong"), with and without pre-scaling the
  survivors, against a 99.99% goal;
* **deploying across regions**: a bad release everywhere at once, or one region first;
* **availability arithmetic**: nines, downtime, serial and parallel components.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..clock import ManualClock
from ..cluster import Cluster
from ..experiment import Run, Topology
from ..regions import REGIONS, World, availability_after, nearest, nearest_healthy, recovery_time

#: Requests per second from users of each region (the us has the most).
USERS = {"us": 150.0, "eu": 100.0, "ap": 50.0}


@dataclass
class Regions(Topology):
    world: World

    def target(self):
        raise NotImplementedError("Stage 7 runs a World tick by tick: world.run(seconds, plan)")


def build(cluster: Cluster, *, deployed: tuple[str, ...] = REGIONS, replication_lag: float | None = 0.5) -> Regions:
    """Regions ``deployed``, each a web tier (``web-<region>``) and, for every home region, a database of
    that home's users (``<home>-data-in-<region>``): the primary at home, asynchronous copies elsewhere."""
    world = World(USERS, deployed=deployed, replication_lag=replication_lag, cluster=cluster)
    cluster.on_close(world.close)
    return Regions(cluster, world)


def _world(**options) -> World:
    """A world of :data:`USERS`; each region can serve 300 requests/s (all the us users on top of the eu
    ones) unless ``capacity`` says otherwise."""
    options.setdefault("capacity", 300.0)
    return World(options.pop("users", USERS), **options)


def _p50(values) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] * 1000 if ordered else math.nan


def _availability_timeline(title: str, series: dict[str, list[float]]) -> Run:
    """Availability second by second, one line per setting."""
    length = len(next(iter(series.values())))
    rows = [{"t s": i + 1, **{f"{name} %": values[i] for name, values in series.items()}} for i in range(length)]
    return Run(title, rows, chart="lines", axes={"x": "t s", "percent": True, "ylabel": "requests answered"})


# -- latency ----------------------------------------------------------------------------------------


def latency_by_regions(deployments: tuple[tuple[str, ...], ...] = (("us",), ("us", "eu"), REGIONS)) -> Run:
    """The median request of users in each region, against each set of regions deployed (each user
    served by the nearest one, with room for everyone). Exact."""
    rows = []
    for deployed in deployments:
        row = {"deployed": "+".join(deployed)}
        for region in REGIONS:
            with _world(users={region: 50.0}, deployed=deployed, capacity=1000.0, write_share=0.0) as world:
                world.run(1.0)
                row[f"{region} users ms"] = _p50(x for s in world.seconds for x in s.latencies)
        rows.append(row)
    return Run(
        "Median request by user region, with 1, 2 and 3 regions",
        rows,
        chart="bars",
        axes={"x": "deployed", "y": [f"{r} users ms" for r in REGIONS], "ylabel": "median request (ms)"},
    )


# -- a region outage --------------------------------------------------------------------------------


def region_outage(
    *, fail_at: float = 2.0, seconds: float = 10.0, fail_over_after: float = 0.5, replication_lag: float = 0.5
) -> Run:
    """Region us goes dark at ``fail_at`` and does not come back during the run. Without cross-region
    replication its users' data exists nowhere else; with it (``replication_lag`` behind), the copy in
    eu takes over ``fail_over_after`` seconds later.

    Rows per setting: availability after the failure, RTO (until every second is at 99% or better) and
    RPO (acknowledged writes lost). Figure ``timeline``: availability second by second, a run."""
    rows, series = [], {}
    for name, lag in (("no replication", None), ("async replication", replication_lag)):
        with _world(replication_lag=lag) as world:
            lost = []
            plan = {fail_at: lambda w=world: w.fail("us")}
            if lag is not None:
                plan[fail_at + fail_over_after] = lambda w=world, lost=lost: lost.append(w.fail_over("us"))
            world.run(seconds, plan)
            series[name] = [s.availability for s in world.seconds]
            rows.append(
                {
                    "setting": name,
                    "availability after %": availability_after(world.seconds, fail_at),
                    "RTO s": recovery_time(world.seconds, fail_at),
                    "writes lost": sum(lost) if lag is not None else None,
                }
            )
    timeline = _availability_timeline("Availability second by second; us goes dark at 2 s", series)
    return Run(f"Region us goes dark at {fail_at:g} s", rows, figures={"timeline": timeline})


def dns_caching(ttls: tuple[float, ...] = (0.0, 1.0, 5.0), *, fail_at: float = 2.0, seconds: float = 10.0) -> Run:
    """The same outage (with replication), clients caching GeoDNS answers ``ttl`` seconds: how long users
    keep going to the dead region. Rows: the TTL, requests sent to the dead region, RTO."""
    rows = []
    for ttl in ttls:
        with _world(dns_ttl=ttl) as world:
            world.run(
                seconds, {fail_at: lambda w=world: w.fail("us"), fail_at + 0.5: lambda w=world: w.fail_over("us")}
            )
            rows.append(
                {
                    "DNS TTL s": ttl,
                    "sent to the dead region": sum(s.to_dead_region for s in world.seconds),
                    "RTO s": recovery_time(world.seconds, fail_at),
                }
            )
    return Run("Traffic redirection: clients cache DNS answers", rows, chart="bars",
               axes={"x": "DNS TTL s", "y": ["sent to the dead region"]})  # fmt: skip


# -- caches across regions --------------------------------------------------------------------------


def cross_region_caches(
    *, ttl: float = 60.0, invalidation_delay: float = 0.3, every: float = 0.1, seconds: float = 5.0
) -> Run:
    """Each region caches profiles (Stage 5) in front of its copy of the data. A user in us renames
    themself at t = 1 s; readers in eu and ap read the profile every ``every`` seconds through their own
    region's cache. Exact, on a manual clock.

    * TTL only: a region's cached copy lives until its TTL (``ttl``);
    * invalidations replicated: the write in us sends "drop this key" to every region's cache, arriving
      after the cross-region latency plus ``invalidation_delay`` (a queue, Stage 8).

    Rows per strategy and region: stale reads after the rename, and until when."""
    from ..cdn import region_latency

    rows = []
    for strategy in ("TTL only", "invalidations replicated"):
        clock = ManualClock()
        cached = {r: ("Ada", clock.now() + ttl) for r in REGIONS}  # every region has the old name cached
        dropped_at = {}
        stale = {r: [0, None] for r in REGIONS if r != "us"}
        renamed_at = 1.0
        while clock.now() < seconds:
            now = clock.now()
            if abs(now - renamed_at) < 1e-9:
                cached["us"] = ("Ada L.", now + ttl)  # the writer's own region: written through
                if strategy == "invalidations replicated":
                    for r in stale:
                        dropped_at[r] = now + region_latency("us", r) + invalidation_delay
            for r in stale:
                value, expires = cached[r]
                if now >= expires or (r in dropped_at and now >= dropped_at[r] and value == "Ada"):
                    cached[r] = ("Ada L." if now >= renamed_at else "Ada", now + ttl)  # a miss reads the data
                if now > renamed_at and cached[r][0] == "Ada":
                    stale[r][0] += 1
                    stale[r][1] = now - renamed_at
            clock.advance(every)
        for r, (count, last) in stale.items():
            rows.append({"strategy": strategy, "region": r, "stale reads": count, "last stale read s": last})
    return Run("A profile renamed in us, read through each region's cache", rows)


# -- evacuation (Chaos Kong) ------------------------------------------------------------------------


def evacuation(
    *, evacuate_at: float = 3.0, seconds: float = 10.0, headroom: float = 1.25, react: float = 1.0, boot: float = 3.0
) -> Run:
    """Each region runs ``headroom`` times its own load. At ``evacuate_at`` region us is evacuated on
    purpose (a drill: GeoDNS stops sending it users) and its users go to the nearest other region.

    * no pre-scaling: an autoscaler notices the overload ``react`` s later and adds capacity, which takes
      ``boot`` s to arrive; meanwhile the survivor sheds requests;
    * pre-scaled: the capacity is added before the drill, then the traffic is moved.

    Rows per setting: availability from the drill on, requests shed, the worst second, and whether it met
    99.99%. Figure ``timeline``: availability second by second."""
    rows, series = [], {}
    caps = {r: load * headroom for r, load in USERS.items()}
    extra = USERS["us"]
    for name in ("no pre-scaling", "pre-scaled"):
        with _world(capacity=dict(caps), dns_ttl=0.0) as world:
            if name == "pre-scaled":
                plan = {evacuate_at - boot - 0.5: lambda w=world: w.add_capacity("eu", extra, boot=boot)}
            else:
                plan = {evacuate_at + react: lambda w=world: w.add_capacity("eu", extra, boot=boot)}
            plan[evacuate_at] = lambda w=world: w.evacuate("us")
            world.run(seconds, plan)
            after = [s for s in world.seconds if s.t >= evacuate_at]
            series[name] = [s.availability for s in world.seconds]
            availability = availability_after(world.seconds, evacuate_at)
            rows.append(
                {
                    "setting": name,
                    "availability %": availability,
                    "shed": sum(s.shed for s in after),
                    "worst second %": min(s.availability for s in after),
                    "meets 99.99%": availability >= 0.9999,
                }
            )
    timeline = _availability_timeline("Availability second by second; us evacuated at 3 s", series)
    return Run("Evacuating region us (a drill)", rows, figures={"timeline": timeline})


# -- deploying across regions -----------------------------------------------------------------------


def deploy_by_region(*, seconds: float = 8.0, gate: float = 0.5) -> Run:
    """A release that breaks every request it serves (a bad config), deployed at t = 1 s. All regions at
    once, found by the alarm ``gate`` s later and rolled back; or us alone first (a canary region), the
    others only if us stays healthy: the gate stops it there. Rows: failed requests, regions affected."""
    rows = []
    for name in ("all regions at once", "one region first"):
        with _world(write_share=0.0) as world:
            broken: set[str] = set()
            targets = list(REGIONS) if name == "all regions at once" else ["us"]
            plan = {
                1.0: lambda t=targets, b=broken: b.update(t),
                1.0 + gate: lambda b=broken: b.clear(),
            }
            original = world._request

            def request(user_region, stats, original=original, world=world, broken=broken):
                served = world._resolve(user_region)
                if served in broken:
                    stats.sent += 1
                    stats.shed += 1
                    return
                original(user_region, stats)

            world._request = request
            world.run(seconds, plan)
            rows.append(
                {
                    "deploy": name,
                    "failed requests": sum(s.sent - s.ok for s in world.seconds),
                    "regions affected": len(targets),
                }
            )
    return Run("A bad release: everywhere at once, or one region first", rows, chart="bars",
               axes={"x": "deploy", "y": ["failed requests"]})  # fmt: skip


# -- availability arithmetic ------------------------------------------------------------------------


def nines(levels: tuple[float, ...] = (0.99, 0.999, 0.9999, 0.99999)) -> Run:
    """Downtime allowed per year, month and week at each availability. Figures: the availability of two
    components of 99.9% in series (both needed) and in parallel (either suffices)."""
    year = 365.25 * 24 * 3600
    rows = [
        {
            "availability": f"{level:.3%}".rstrip("0").rstrip("."),
            "per year": _duration((1 - level) * year),
            "per month": _duration((1 - level) * year / 12),
            "per week": _duration((1 - level) * 7 * 24 * 3600),
        }
        for level in levels
    ]
    part = 0.999
    figures = {"serial": part * part, "parallel": 1 - (1 - part) ** 2, "three regions": 1 - (1 - part) ** 3}
    return Run("Nines: downtime allowed", rows, figures=figures)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def resolvers(*, fail_at: float = 2.0, seconds: float = 6.0) -> Run:
    """The outage again (with replication) behind two GeoDNS resolvers: the nearest region whatever its
    health, and the nearest healthy one. Rows: availability after the failure."""
    rows = []
    for name, resolver in (("nearest", nearest), ("nearest healthy", nearest_healthy)):
        with _world(resolver=resolver) as world:
            world.run(
                seconds, {fail_at: lambda w=world: w.fail("us"), fail_at + 0.5: lambda w=world: w.fail_over("us")}
            )
            rows.append({"resolver": name, "availability after %": availability_after(world.seconds, fail_at)})
    return Run("GeoDNS with and without health checks", rows)


def headline() -> str:
    """For ``minicluster tour``: latency by region count, and a region outage."""
    return f"{latency_by_regions()}\n\n{region_outage()}"
