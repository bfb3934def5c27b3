"""Wrong answers to 07.geodns: resolvers a learner writes on the way to the right one."""

from minicluster.regions import NoHealthyRegion


def _healthy(regions):
    healthy = [r for r in regions if r.healthy]
    if not healthy:
        raise NoHealthyRegion("no region is healthy")
    return healthy


def _distance(user_region, latency):
    return lambda r: (latency(user_region, r.name), r.name)


def ignores_health(user_region, regions, latency):
    with_room = [r for r in regions if r.load < r.capacity]
    return min(with_room or regions, key=_distance(user_region, latency))


def ignores_capacity(user_region, regions, latency):
    """GeoDNS with health checks only: a full region keeps receiving users."""
    return min(_healthy(regions), key=_distance(user_region, latency))


def always_the_first(user_region, regions, latency):
    return _healthy(regions)[0]


def nearest_by_list_order(user_region, regions, latency):
    """Assumes the list is sorted by distance."""
    healthy = _healthy(regions)
    return next((r for r in healthy if r.load < r.capacity), healthy[0])


def least_loaded(user_region, regions, latency):
    return min(_healthy(regions), key=lambda r: (r.load / r.capacity, r.name))


def full_only_when_over_capacity(user_region, regions, latency):
    healthy = _healthy(regions)
    with_room = [r for r in healthy if r.load <= r.capacity]
    return min(with_room or healthy, key=_distance(user_region, latency))


def refuses_when_all_are_full(user_region, regions, latency):
    with_room = [r for r in _healthy(regions) if r.load < r.capacity]
    if not with_room:
        raise NoHealthyRegion("every region is full")
    return min(with_room, key=_distance(user_region, latency))


def ties_by_list_order(user_region, regions, latency):
    healthy = _healthy(regions)
    with_room = [r for r in healthy if r.load < r.capacity]
    return min(with_room or healthy, key=lambda r: latency(user_region, r.name))


def none_when_nothing_is_healthy(user_region, regions, latency):
    healthy = [r for r in regions if r.healthy]
    if not healthy:
        return None
    with_room = [r for r in healthy if r.load < r.capacity]
    return min(with_room or healthy, key=_distance(user_region, latency))


def farthest_with_room(user_region, regions, latency):
    healthy = _healthy(regions)
    with_room = [r for r in healthy if r.load < r.capacity]
    return max(with_room or healthy, key=_distance(user_region, latency))


def returns_the_name(user_region, regions, latency):
    healthy = _healthy(regions)
    with_room = [r for r in healthy if r.load < r.capacity]
    return min(with_room or healthy, key=_distance(user_region, latency)).name


MUTANTS = {
    f.__name__: f
    for f in (
        ignores_health,
        ignores_capacity,
        always_the_first,
        nearest_by_list_order,
        least_loaded,
        full_only_when_over_capacity,
        refuses_when_all_are_full,
        ties_by_list_order,
        none_when_nothing_is_healthy,
        farthest_with_room,
        returns_the_name,
    )
}
