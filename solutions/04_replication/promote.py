"""Exercise 04.promote: when the primary is lost, choose the replica that takes its place.

A failover manager (MHA, Orchestrator, Patroni play this part) watches the primary from a host of its
own. When it can no longer reach the primary, it promotes a replica: every write the new primary has
not applied is gone for good, so the choice decides how much is lost.

Each member has ``.name``; ``.is_up`` (its server is running); ``.reachable`` (the manager can reach it:
a member cut off by a network partition may be running, but the manager cannot talk to it, let alone
promote it); ``.applied_lsn`` (how far it has applied the primary's log); ``.lag_seconds`` (how old the
oldest change it has not applied is: a guide for humans, not a position).
"""

from minicluster.errors import NoReplicaToPromote


def choose_new_primary(primary, replicas):
    """Return the replica to promote, or ``None`` when no failover is needed.

    - No failover while the primary is up and reachable: return ``None``.
    - Otherwise only a replica that is up and reachable can be promoted; among those, the one that has
      applied the most of the log (the highest ``applied_lsn``): it loses the fewest writes.
    - Ties go to the replica whose name sorts first, so every manager picks the same one.
    - When no replica can be promoted, raise ``NoReplicaToPromote`` saying why.
    """
    if primary.is_up and primary.reachable:
        return None
    candidates = [r for r in replicas if r.is_up and r.reachable]
    if not candidates:
        raise NoReplicaToPromote(f"{primary.name} is lost and none of {len(replicas)} replicas is up and reachable")
    return min(candidates, key=lambda r: (-r.applied_lsn, r.name))
