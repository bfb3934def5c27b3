"""Checker of ``07.geodns``: the resolver's rule on a made-up map, then a region outage in a World."""

from __future__ import annotations

from ....regions import NoHealthyRegion, RegionView, World, availability_after
from ..base import Checker, Failure, describe

#: A made-up map, one-way latencies in ms: west is near mid, mid near east; "twin" is exactly as far from
#: mid as west is (a tie); regions are listed to the resolver in an order that is not by distance.
_MAP = {
    frozenset(("west", "mid")): 20, frozenset(("mid", "east")): 25, frozenset(("west", "east")): 45,
    frozenset(("twin", "mid")): 20, frozenset(("twin", "west")): 30, frozenset(("twin", "east")): 40,
}  # fmt: skip


def latency(a: str, b: str) -> float:
    return 0.002 if a == b else _MAP[frozenset((a, b))] / 1000


def _region(name, healthy=True, load=0, capacity=100):
    return RegionView(name, healthy, load, capacity)


class GeoDNSCheck(Checker):
    """Nearest healthy region with room; spill when full; never a dead one; ties by name; a real outage."""

    exercise_id = "07.geodns"
    #: (what it shows, user region, regions in the order given, the expected region's name or NoHealthyRegion)
    cases = (
        ("everything healthy and idle", "west",
         [_region("east"), _region("mid"), _region("west")], "west"),
        ("the user's own region is not deployed", "twin",
         [_region("east"), _region("west")], "west"),
        ("the nearest region is down", "west",
         [_region("east"), _region("mid"), _region("west", healthy=False)], "mid"),
        ("the nearest region is full (load equal to capacity)", "west",
         [_region("east"), _region("mid"), _region("west", load=100)], "mid"),
        ("the two nearest are full, the farthest has room", "west",
         [_region("east", load=10), _region("mid", load=150), _region("west", load=100)], "east"),
        ("every healthy region is full: the nearest healthy takes it", "west",
         [_region("east", load=100), _region("mid", load=300), _region("west", healthy=False)], "mid"),
        ("a region just under its capacity still has room", "mid",
         [_region("east"), _region("mid", load=99.5)], "mid"),
        ("two regions at the same distance, listed in reverse order of name", "mid",
         [_region("west"), _region("twin"), _region("mid", healthy=False)], "twin"),
        ("a full region is not taken over a farther one with room, even if less loaded", "mid",
         [_region("east", load=90, capacity=1000), _region("west", load=100, capacity=100)], "east"),
        ("no region is healthy", "west",
         [_region("east", healthy=False), _region("west", healthy=False)], NoHealthyRegion),
    )  # fmt: skip
    #: The outage: us goes dark; eu can serve 200 requests/s, its own users send 100 and us users 150.
    outage = {"capacity": {"us": 300.0, "eu": 200.0, "ap": 200.0}, "fail_at": 2.0, "seconds": 8.0, "bound": 0.95}

    def verify(self, choose) -> list[str]:
        if not callable(choose):
            raise Failure(f"expected a function choose_region(user_region, regions, latency), got {describe(choose)}")
        for what, user, regions, expected in self.cases:
            self._expect(choose, what, user, regions, expected)
        o = self.outage
        on = "a World whose region us goes dark, with your resolver"
        availability = self.call(self._outage, choose, on=on, within=30)
        if availability < o["bound"]:
            raise Failure(
                f"{on}: {availability:.1%} of requests were answered after the outage (at least {o['bound']:.0%}: "
                "eu cannot take all of us's users, ap has room)"
            )
        return [
            f"{len(self.cases)} situations on a made-up map: nearest first, never a region that is down, spill "
            "past a full region (load at capacity), the nearest healthy when all are full, ties by name, "
            "NoHealthyRegion when none is up",
            f"a region outage in a World: {availability:.1%} of requests answered afterwards",
        ]

    def _expect(self, choose, what, user, regions, expected) -> None:
        shown = ", ".join(
            f"{r.name} ({'up' if r.healthy else 'down'}, {r.load:g}/{r.capacity:g} req/s)" for r in regions
        )
        on = f"choose_region({user!r}, [{shown}]) — {what}"
        if expected is NoHealthyRegion:
            self.expect_raises(
                NoHealthyRegion, choose, user, list(regions), latency, on=on, instead="raise NoHealthyRegion"
            )
            return
        got = self.call(choose, user, list(regions), latency, on=on)
        if got is None:
            raise Failure(f"{on}: returned None — did you forget a `return`?")
        if not any(got is r for r in regions):
            raise Failure(f"{on}: returned {describe(got)}; return one of the region objects you were given")
        if got.name != expected:
            raise Failure(f"{on}: chose {got.name}, which is not the region for this user")

    def _outage(self, choose) -> float:
        o = self.outage
        with World(
            {"us": 150.0, "eu": 100.0, "ap": 50.0}, capacity=dict(o["capacity"]), resolver=choose, dns_ttl=0.5
        ) as world:
            world.run(
                o["seconds"],
                {o["fail_at"]: lambda: world.fail("us"), o["fail_at"] + 0.5: lambda: world.fail_over("us")},
            )
            return availability_after(world.seconds, o["fail_at"] + 2.0)
