"""Wrong answers to 04.read_your_writes: routers a learner writes on the way to the right one."""

import itertools
import threading
import time


class _Base:
    """The bookkeeping most mutants share: per-user highest write, under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.last_write = {}
        self.turns = itertools.count()

    def wrote(self, user, lsn):
        with self.lock:
            self.last_write[user] = max(lsn, self.last_write.get(user, 0))

    def needed(self, user):
        with self.lock:
            return self.last_write.get(user, 0)

    def pick(self, fresh, primary):
        return fresh[next(self.turns) % len(fresh)] if fresh else primary


class AlwaysReplica(_Base):
    """Spreads every read over the replicas that are up: the user's own write may not be there yet."""

    def choose(self, user, primary, replicas):
        return self.pick([r for r in replicas if r.is_up], primary)


class AlwaysPrimary(_Base):
    """Never stale, and the replicas serve nothing."""

    def choose(self, user, primary, replicas):
        return primary


class TimeBased(_Base):
    """Reads from the primary for a while after each write, then anywhere: a guess at the lag."""

    window = 0.05

    def __init__(self):
        super().__init__()
        self.written_at = {}

    def wrote(self, user, lsn):
        self.written_at[user] = time.monotonic()

    def choose(self, user, primary, replicas):
        if time.monotonic() - self.written_at.get(user, -1e9) < self.window:
            return primary
        return self.pick([r for r in replicas if r.is_up], primary)


class StrictlyGreater(_Base):
    """Asks for a replica past the write (``>``): one that has applied exactly it is passed over."""

    def choose(self, user, primary, replicas):
        needed = self.needed(user)
        return self.pick([r for r in replicas if r.is_up and r.applied_lsn > needed], primary)


class OneUserOnly(_Base):
    """Remembers the last write of whoever wrote last, as if there were one user."""

    def __init__(self):
        super().__init__()
        self.last = 0

    def wrote(self, user, lsn):
        self.last = lsn

    def choose(self, user, primary, replicas):
        return self.pick([r for r in replicas if r.is_up and r.applied_lsn >= self.last], primary)


class GlobalPosition(_Base):
    """Waits for the highest write of any user: safe, and most reads end up on the primary."""

    def choose(self, user, primary, replicas):
        with self.lock:
            needed = max(self.last_write.values(), default=0)
        return self.pick([r for r in replicas if r.is_up and r.applied_lsn >= needed], primary)


class LastReported(_Base):
    """Keeps the position reported last, not the highest: an out-of-order report lowers it."""

    def wrote(self, user, lsn):
        with self.lock:
            self.last_write[user] = lsn

    def choose(self, user, primary, replicas):
        needed = self.needed(user)
        return self.pick([r for r in replicas if r.is_up and r.applied_lsn >= needed], primary)


class RacyWrote(_Base):
    """Compares and stores without a lock: two reports at once can store the lower one."""

    def wrote(self, user, lsn):
        current = self.last_write.get(user, 0)
        if lsn > current:
            self.last_write[user] = lsn

    def choose(self, user, primary, replicas):
        needed = self.last_write.get(user, 0)
        return self.pick([r for r in replicas if r.is_up and r.applied_lsn >= needed], primary)


class FirstFresh(_Base):
    """Takes the first replica that qualifies every time: correct, and one replica does all the work."""

    def choose(self, user, primary, replicas):
        needed = self.needed(user)
        fresh = [r for r in replicas if r.is_up and r.applied_lsn >= needed]
        return fresh[0] if fresh else primary


class IgnoresHealth(_Base):
    """Forgets that a replica can be down."""

    def choose(self, user, primary, replicas):
        needed = self.needed(user)
        return self.pick([r for r in replicas if r.applied_lsn >= needed], primary)


class MostAdvanced(_Base):
    """Sends the read to the replica that is furthest along, even when it is still behind the write."""

    def choose(self, user, primary, replicas):
        up = [r for r in replicas if r.is_up]
        return max(up, key=lambda r: r.applied_lsn) if up else primary


class PrimaryUntilFirstWrite(_Base):
    """Treats a user who never wrote as one who must read from the primary."""

    def choose(self, user, primary, replicas):
        with self.lock:
            if user not in self.last_write:
                return primary
        needed = self.needed(user)
        return self.pick([r for r in replicas if r.is_up and r.applied_lsn >= needed], primary)


class ReturnsTheName(_Base):
    def choose(self, user, primary, replicas):
        needed = self.needed(user)
        return self.pick([r for r in replicas if r.is_up and r.applied_lsn >= needed], primary).name


MUTANTS = {
    cls.__name__: cls
    for cls in (
        AlwaysReplica,
        AlwaysPrimary,
        TimeBased,
        StrictlyGreater,
        OneUserOnly,
        GlobalPosition,
        LastReported,
        RacyWrote,
        FirstFresh,
        IgnoresHealth,
        MostAdvanced,
        PrimaryUntilFirstWrite,
        ReturnsTheName,
    )
}
