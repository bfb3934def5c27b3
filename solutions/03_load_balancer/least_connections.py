"""Exercise 03.least_connections: a load-balancing policy that routes around slow servers.

The load balancer calls ``choose(backends, request)`` for every request and ``release(backend,
request)`` when that request is over, from many threads at once. Each backend has ``.name``,
``.weight`` and ``.healthy``.
"""

import threading

from minicluster.balancers import NoHealthyBackend


class LeastConnections:
    """Send each request to the healthy backend with the fewest requests in progress."""

    def __init__(self):
        """Set up what you need to count requests in progress per backend, safely across threads."""
        self.lock = threading.Lock()
        self.in_progress = {}

    def choose(self, backends, request):
        """Return the healthy backend with the fewest requests in progress, and count one more on it.

        Ties go to the backend that comes first in ``backends``. Never return an unhealthy backend;
        raise ``NoHealthyBackend`` when there is no healthy one. Only the counts matter here: ``.weight``
        is for weighted round robin.
        """
        candidates = [b for b in backends if b.healthy]
        if not candidates:
            raise NoHealthyBackend("every backend is ejected")
        with self.lock:
            best = min(candidates, key=lambda b: self.in_progress.get(b.name, 0))
            self.in_progress[best.name] = self.in_progress.get(best.name, 0) + 1
        return best

    def release(self, backend, request):
        """The request sent to ``backend`` is over: count one less on it."""
        with self.lock:
            self.in_progress[backend.name] = self.in_progress.get(backend.name, 0) - 1
