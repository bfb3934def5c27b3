"""Wrong least-connections policies, each a mistake a learner could make."""

import random
import threading

from minicluster.balancers import NoHealthyBackend


class _Counting:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def count(self, backend):
        return self.counts.get(backend.name, 0)

    def take(self, backend):
        """Count one more request on ``backend`` and return it (no lock: callers decide)."""
        self.counts[backend.name] = self.count(backend) + 1
        return backend

    def release(self, backend, request):
        with self.lock:
            self.counts[backend.name] = self.count(backend) - 1


def _alive(backends):
    alive = [b for b in backends if b.healthy]
    if not alive:
        raise NoHealthyBackend("none")
    return alive


class IgnoresHealth(_Counting):
    def choose(self, backends, request):
        with self.lock:
            best = min(backends, key=self.count)
            self.take(best)
        return best


class Unsynchronized(_Counting):
    """Reads, picks and writes without the lock: two threads can both see the same count."""

    def choose(self, backends, request):
        best = min(_alive(backends), key=self.count)
        self.take(best)
        return best

    def release(self, backend, request):
        self.counts[backend.name] = self.count(backend) - 1


class LockedChooseOnly(_Counting):
    """The lock guards choose, but release updates the counts without it."""

    def choose(self, backends, request):
        with self.lock:
            best = min(_alive(backends), key=self.count)
            self.take(best)
        return best

    def release(self, backend, request):
        self.counts[backend.name] = self.count(backend) - 1


class TwoLocks(LockedChooseOnly):
    """One lock for choose and another for release: two choices never collide, nor two releases, but a
    choice and a release of the same backend can."""

    def __init__(self):
        super().__init__()
        self.release_lock = threading.Lock()

    def release(self, backend, request):
        with self.release_lock:
            self.counts[backend.name] = self.count(backend) - 1


class DividesByWeight(_Counting):
    """Weighted least connections (count / weight) where the statement asks for the plain count."""

    def choose(self, backends, request):
        with self.lock:
            best = min(_alive(backends), key=lambda b: self.count(b) / b.weight)
            self.take(best)
        return best


class NeverDecrements(_Counting):
    def choose(self, backends, request):
        with self.lock:
            best = min(_alive(backends), key=self.count)
            self.take(best)
        return best

    def release(self, backend, request):
        pass


class AlwaysFirst(_Counting):
    def choose(self, backends, request):
        return _alive(backends)[0]


class PicksTheBusiest(_Counting):
    def choose(self, backends, request):
        with self.lock:
            best = max(_alive(backends), key=self.count)
            self.take(best)
        return best


class RoundRobinInDisguise(_Counting):
    """Counts, but never looks at the counts."""

    def __init__(self):
        super().__init__()
        self.next = 0

    def choose(self, backends, request):
        alive = _alive(backends)
        with self.lock:
            best = alive[self.next % len(alive)]
            self.next += 1
            self.counts[best.name] = self.count(best) + 1
        return best


class RandomPick(_Counting):
    def __init__(self):
        super().__init__()
        self.rng = random.Random(1)

    def choose(self, backends, request):
        with self.lock:
            return self.rng.choice(_alive(backends))


class DecrementsTheWrongBackend(_Counting):
    """release() takes one away from the least busy backend instead of the one that finished."""

    def choose(self, backends, request):
        with self.lock:
            self.last = backends
            best = min(_alive(backends), key=self.count)
            self.take(best)
        return best

    def release(self, backend, request):
        with self.lock:
            least = min(self.last, key=self.count)
            self.counts[least.name] = self.count(least) - 1


class ReturnsTheName(_Counting):
    def choose(self, backends, request):
        with self.lock:
            best = self.take(min(_alive(backends), key=self.count))
        return best.name


class ValueErrorWhenAllEjected(_Counting):
    def choose(self, backends, request):
        alive = [b for b in backends if b.healthy]
        if not alive:
            raise ValueError("no backend")
        with self.lock:
            best = min(alive, key=self.count)
            self.take(best)
        return best


class NoneWhenAllEjected(_Counting):
    def choose(self, backends, request):
        alive = [b for b in backends if b.healthy]
        if not alive:
            return None
        with self.lock:
            best = min(alive, key=self.count)
            self.take(best)
        return best


class LockNeverReleased(_Counting):
    """acquire() without release(): the second call waits forever."""

    def choose(self, backends, request):
        self.lock.acquire()
        best = min(_alive(backends), key=self.count)
        self.take(best)
        return best


class LastOfTies(_Counting):
    """Equal counts go to the last backend: not wrong for balancing, but not what the spec asks."""

    def choose(self, backends, request):
        with self.lock:
            alive = _alive(backends)
            best = min(reversed(alive), key=self.count)
            self.take(best)
        return best


class TiesByName(_Counting):
    """Breaks ties by the backend's name instead of its place in the list."""

    def choose(self, backends, request):
        with self.lock:
            return self.take(min(_alive(backends), key=lambda b: (self.count(b), b.name)))


class ReleaseResetsToZero(_Counting):
    """release() forgets every request in progress on the backend, not just the one that finished."""

    def choose(self, backends, request):
        with self.lock:
            return self.take(min(_alive(backends), key=self.count))

    def release(self, backend, request):
        with self.lock:
            self.counts[backend.name] = 0


class AllToTheFirstHealthy(_Counting):
    """Counts, but skips an ejected backend by falling through to the first healthy one every time."""

    def choose(self, backends, request):
        with self.lock:
            best = min(backends, key=self.count)
            return self.take(best if best.healthy else _alive(backends)[0])


MUTANTS = {
    cls.__name__: cls
    for cls in (
        IgnoresHealth,
        Unsynchronized,
        LockedChooseOnly,
        TwoLocks,
        DividesByWeight,
        NeverDecrements,
        AlwaysFirst,
        PicksTheBusiest,
        RoundRobinInDisguise,
        RandomPick,
        DecrementsTheWrongBackend,
        ReturnsTheName,
        ValueErrorWhenAllEjected,
        NoneWhenAllEjected,
        LockNeverReleased,
        LastOfTies,
        TiesByName,
        ReleaseResetsToZero,
        AllToTheFirstHealthy,
    )
}
