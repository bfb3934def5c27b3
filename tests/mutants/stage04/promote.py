"""Wrong answers to 04.promote: promotion rules a learner writes on the way to the right one."""

from minicluster.errors import NoReplicaToPromote


def _lost(primary):
    return not (primary.is_up and primary.reachable)


def _candidates(replicas):
    return [r for r in replicas if r.is_up and r.reachable]


def _none_left(primary):
    return NoReplicaToPromote(f"{primary.name} is lost and no replica can take over")


def first_replica(primary, replicas):
    """Promotes whichever replica is listed first."""
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return candidates[0]


def least_lag_in_seconds(primary, replicas):
    """Promotes the replica with the smallest lag in seconds, not the most of the log."""
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return min(candidates, key=lambda r: (r.lag_seconds, r.name))


def promotes_a_dead_replica(primary, replicas):
    """Forgets that a replica can be down too."""
    if not _lost(primary):
        return None
    candidates = [r for r in replicas if r.reachable]
    if not candidates:
        raise _none_left(primary)
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name))


def promotes_an_unreachable_replica(primary, replicas):
    """Looks only at whether a replica is running, not whether the manager can reach it."""
    if not _lost(primary):
        return None
    candidates = [r for r in replicas if r.is_up]
    if not candidates:
        raise _none_left(primary)
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name))


def promotes_while_the_primary_is_alive(primary, replicas):
    """Always promotes: two primaries when the primary was fine."""
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name))


def trusts_a_running_primary(primary, replicas):
    """No failover while the primary's process runs, even when the manager cannot reach it."""
    if primary.is_up:
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name))


def ties_by_list_order(primary, replicas):
    """``max`` keeps the first of equals in list order, not by name."""
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return max(candidates, key=lambda r: r.applied_lsn)


def ties_to_the_last_name(primary, replicas):
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return max(candidates, key=lambda r: (r.applied_lsn, r.name))


def none_when_nothing_can_be_promoted(primary, replicas):
    """Returns None instead of raising: the caller thinks the primary is fine."""
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name)) if candidates else None


def value_error_when_nothing_left(primary, replicas):
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise ValueError("no replica")
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name))


def crashes_with_no_replicas(primary, replicas):
    """``max()`` of an empty list: a ValueError of Python's own."""
    if not _lost(primary):
        return None
    return min(_candidates(replicas), key=lambda r: (-r.applied_lsn, r.name))


def least_advanced(primary, replicas):
    """Sorted the wrong way round."""
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return min(candidates, key=lambda r: (r.applied_lsn, r.name))


def returns_the_name(primary, replicas):
    if not _lost(primary):
        return None
    candidates = _candidates(replicas)
    if not candidates:
        raise _none_left(primary)
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name)).name


MUTANTS = {
    f.__name__: f
    for f in (
        first_replica,
        least_lag_in_seconds,
        promotes_a_dead_replica,
        promotes_an_unreachable_replica,
        promotes_while_the_primary_is_alive,
        trusts_a_running_primary,
        ties_by_list_order,
        ties_to_the_last_name,
        none_when_nothing_can_be_promoted,
        value_error_when_nothing_left,
        crashes_with_no_replicas,
        least_advanced,
        returns_the_name,
    )
}
