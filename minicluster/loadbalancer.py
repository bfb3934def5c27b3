"""The load balancer: one public address in front of many web servers, with health checks.

Clients know only the balancer's address; it forwards each request to a backend chosen by its
policy (:mod:`minicluster.balancers`) over the private network. A :class:`HealthCheck` probes every
backend on a timer: after ``fall`` failed probes in a row a backend is *ejected* (no new requests),
after ``rise`` good ones it is *re-admitted*. Between a crash and its ejection, requests sent to the
dead server fail: that window is the error spike every failover plot shows.

The balancer itself is one more node, so it is a single point of failure unless doubled.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from .balancers import Backend, NoHealthyBackend, PolicyLike, RoundRobin, as_policy
from .clock import Clock
from .errors import ConfigError, NetworkPartition, NodeDown, Overloaded, check_positive
from .nodes import Node
from .timeline import Event, Timeline
from .web import Request, Response


class LoadBalancer(Node):
    """Forwards requests to healthy backends chosen by ``policy``; answers 502/503 itself on failure."""

    kind = "balancer"

    def __init__(
        self,
        name: str,
        policy: PolicyLike | None = None,
        *,
        network=None,
        backend_timeout: float = 10.0,
        host: str | None = None,
        clock: Clock | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        super().__init__(name, host=host, clock=clock)
        check_positive(f"{name}: backend_timeout", backend_timeout)
        self.policy = as_policy(policy if policy is not None else RoundRobin())
        self.network = network
        self.backend_timeout = backend_timeout
        self._backends: tuple[Backend, ...] = ()
        self._lock = threading.Lock()
        #: Where this balancer writes a record per request forwarded (a cluster's log sink).
        self.logs = None
        #: Requests forwarded and not yet answered, per backend name (what a drain waits for).
        self._forwarding: dict[str, int] = {}
        # Counted under a plain lock on every request; the condition (on the same lock) is notified only
        # while a drain waits on it: a Condition's `with` and notify are Python code, ~5% of a request.
        self._counting = threading.Lock()
        self._answered = threading.Condition(self._counting)
        self._draining = 0
        #: Counters on every request's path, looked up once and counted under the same lock.
        self._requests = self.metrics.counter("requests", lock=self._counting)
        self._to: dict[str, object] = {}
        #: Where backends added and removed (changes), ejected and re-admitted (reactions) are written.
        self.timeline = timeline if timeline is not None else Timeline(self.clock)

    # -- the pool ---------------------------------------------------------------------------------
    @property
    def backends(self) -> tuple[Backend, ...]:
        """The pool as it is now: each :class:`~minicluster.balancers.Backend` with its health."""
        return self._backends

    def add_backend(self, server: Node, weight: int = 1) -> Backend:
        """Start sending traffic to ``server`` (safe under load: the list is replaced, not mutated)."""
        if not hasattr(server, "handle"):
            raise ConfigError(f"{self.name}: a backend must handle requests, got {server!r}")
        check_positive(f"{self.name}: weight of {server.name}", weight, integer=True)
        with self._lock:
            if any(b.name == server.name for b in self._backends):
                raise ConfigError(f"{self.name}: {server.name!r} is already a backend")
            backend = Backend(server.name, weight, True, server)
            self._backends = (*self._backends, backend)
        self._log("add", backend)
        return backend

    def remove_backend(self, name: str) -> None:
        """Stop sending new requests to backend ``name``; requests it is serving finish."""
        with self._lock:
            kept = tuple(b for b in self._backends if b.name != name)
            if len(kept) == len(self._backends):
                known = ", ".join(b.name for b in self._backends) or "none"
                raise ConfigError(f"{self.name}: no backend named {name!r} (backends: {known})")
            removed = next(b for b in self._backends if b.name == name)
            self._backends = kept
        self._log("remove", removed)

    def drain(self, name: str, timeout: float = 30.0) -> bool:
        """Remove backend ``name`` and wait until every request already sent to it is answered: it can
        then be stopped without failing one. Returns whether that happened within ``timeout``."""
        check_positive("drain timeout", timeout)
        self.remove_backend(name)
        with self._answered:
            self._draining += 1
            try:
                return self._answered.wait_for(lambda: self._forwarding.get(name, 0) == 0, timeout)
            finally:
                self._draining -= 1

    def backend(self, name: str) -> Backend:
        for b in self._backends:
            if b.name == name:
                return b
        raise ConfigError(f"{self.name}: no backend named {name!r}")

    @property
    def events(self) -> list[Event]:
        """What this balancer did: backends added, removed, ejected and re-admitted."""
        return self.timeline.events(source=self.name)

    def _log(self, action: str, backend: Backend) -> None:
        kind = "change" if action in ("add", "remove") else "reaction"
        self.timeline.record(kind, action, backend.name, source=self.name)

    def wait_for(self, action: str, backend: str, timeout: float) -> Event | None:
        """Block until this balancer logs ``action`` ("eject", "readmit", ...) for ``backend``."""
        return self.timeline.wait_until(
            lambda e: e.source == self.name and e.action == action and e.target == backend, timeout
        )

    def set_health(self, backend: Backend, healthy: bool) -> None:
        """Eject (``False``) or re-admit (``True``) a backend; logged when it changes."""
        if backend.healthy != healthy:
            backend.healthy = healthy
            self._log("readmit" if healthy else "eject", backend)

    # -- serving ----------------------------------------------------------------------------------
    def handle(self, request: Request, timeout: float | None = None) -> Response:
        """Forward ``request`` to the backend the policy picks; 503 when none is healthy, 502 when it fails."""
        self.ensure_up()
        try:
            backend = self.policy.choose(self._backends, request)
        except NoHealthyBackend as exc:
            self._requests.inc()
            self.metrics.counter("no_backend").inc()
            return Response.json({"error": str(exc)}, 503)
        to = self._to.get(backend.name)
        if to is None:
            to = self._to[backend.name] = self.metrics.counter(f"to_{backend.name}", lock=self._counting)
        logs = self.logs if self.logs is not None and self.logs.enabled else None
        if logs is not None:
            request_id = request.headers.get("X-Request-Id") or logs.new_request_id()
            request = replace(request, headers={**request.headers, "X-Request-Id": request_id})
            started = self.clock.now()
        with self._counting:
            self._requests.inc_held()
            to.inc_held()
            self._forwarding[backend.name] = self._forwarding.get(backend.name, 0) + 1
        try:
            response = self._forward(backend, request, timeout)
            if logs is not None:
                logs.emit(self.name, "forward", request_id, status=response.status,
                          latency=self.clock.now() - started, detail=f"to {backend.name}")  # fmt: skip
            return response
        finally:
            release = getattr(self.policy, "release", None)
            if release is not None:
                release(backend, request)
            with self._counting:
                self._forwarding[backend.name] -= 1
                if self._draining:
                    self._answered.notify_all()

    def _forward(self, backend: Backend, request: Request, timeout: float | None) -> Response:
        server = backend.server
        net = self.network
        try:
            if net is not None:
                net.hop(self.host, server.host)
            response = server.handle(request, timeout=min(timeout or self.backend_timeout, self.backend_timeout))
            if net is not None:
                net.hop(server.host, self.host)
            return response
        except (NodeDown, NetworkPartition, Overloaded, TimeoutError) as exc:
            self.metrics.counter("backend_errors").inc()
            reason = type(exc).__name__ if not str(exc) else str(exc)
            return Response.json({"error": f"bad gateway: {backend.name}: {reason}"}, 502)


def probe(server, *, path: str = "/healthz", timeout: float = 0.05, client: str = "health-check") -> bool:
    """One health probe of ``server``: ``GET path`` answered below 500 within ``timeout`` seconds."""
    try:
        response = server.handle(Request("GET", path, client=client), timeout=timeout)
    except Exception:  # any failure to answer is an unhealthy answer
        return False
    return response.status < 500


class HealthCheck:
    """Probes every backend of a balancer and ejects or re-admits them.

    Call :meth:`probe_all` for one round (tests drive it by hand), or :meth:`start` a background
    thread that runs a round every ``interval`` seconds until :meth:`stop`.
    """

    def __init__(
        self,
        balancer: LoadBalancer,
        *,
        interval: float = 0.1,
        timeout: float = 0.05,
        fall: int = 2,
        rise: int = 2,
        path: str = "/healthz",
        clock: Clock | None = None,
    ) -> None:
        check_positive("health check interval", interval)
        check_positive("health check timeout", timeout)
        check_positive("fall", fall, integer=True)
        check_positive("rise", rise, integer=True)
        self.balancer = balancer
        self.interval, self.timeout, self.fall, self.rise, self.path = interval, timeout, fall, rise, path
        self.clock: Clock = clock or balancer.clock
        self._streak: dict[str, int] = {}  # > 0: successes in a row, < 0: failures in a row
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def probe(self, backend: Backend) -> bool:
        """One probe: a response below 500 within the timeout."""
        return probe(backend.server, path=self.path, timeout=self.timeout)

    def probe_all(self) -> None:
        for backend in self.balancer.backends:
            ok = self.probe(backend)
            streak = self._streak.get(backend.name, 0)
            streak = max(streak, 0) + 1 if ok else min(streak, 0) - 1
            self._streak[backend.name] = streak
            if streak <= -self.fall:
                self.balancer.set_health(backend, False)
            elif streak >= self.rise:
                self.balancer.set_health(backend, True)

    def start(self) -> HealthCheck:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.balancer.name}-health", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self.clock.wait(self._stop, self.interval):
            self.probe_all()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
