"""Web servers: a pool of worker threads in front of a request queue, with a request handler.

Picture a bank with ``workers`` tellers and one queue. A request waits in the queue until a teller
is free, then holds that teller for its service time (an injected delay plus whatever real work the
handler does: a DuckDB query, a cache read). When requests arrive faster than the tellers finish
them, the queue grows and so does latency: that is the knee every load test looks for.

Every request is measured: time waiting in the queue, time in service, total, and its status code.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from .clock import Clock
from .errors import ConfigError, NodeDown, Overloaded, check_positive
from .nodes import Node

JSON = "application/json"


@dataclass(frozen=True)
class Request:
    """An HTTP request as the handler sees it. ``path_params`` holds the raw text of ``{name}`` segments."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    client: str = "client"
    path_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """An HTTP response: a status code, a text body and headers."""

    status: int
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        """A response whose body is ``data`` as JSON, with ``Content-Type: application/json``."""
        return cls(status, json.dumps(data, default=str), {"Content-Type": JSON})

    @property
    def content_type(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value
        return None

    def data(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


Handler = Callable[[Request, "Context"], Response]


class Router:
    """Maps ``METHOD /path/{param}`` patterns to handlers; answers 404 and 405 itself."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def route(self, method: str, pattern: str, handler: Handler) -> Router:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]*)", re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}"))
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), pattern, handler))
        return self

    def __call__(self, request: Request, ctx: Context) -> Response:
        allowed = []
        for method, regex, _, handler in self._routes:
            match = regex.match(request.path)
            if match is None:
                continue
            if method != request.method.upper():
                allowed.append(method)
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            return handler(replace(request, path_params=params), ctx)
        if allowed:
            return Response.json({"error": f"method {request.method} not allowed"}, 405)
        return Response.json({"error": f"no route for {request.path}"}, 404)


class Context:
    """What a handler may use, per worker thread: ``db`` (a database connection) and ``cache``.

    Both are opened on first use by that worker and kept, the way an app server keeps one pooled
    connection per worker. Both are :class:`Remote`: when the database or the cache sits on another
    host, every call crosses the network, and a call to a crashed node raises
    :class:`~minicluster.errors.NodeDown`.
    """

    def __init__(self, server: WebServer) -> None:
        self.server = server
        #: The id of the request this worker serves now (``X-Request-Id``), for the logs of its calls.
        self.request_id: str | None = None
        self._db: Remote | None = None
        self._cache: Remote | None = None

    @property
    def db(self) -> Remote:
        if self._db is None:
            database = self.server.database
            if database is None:
                raise ConfigError(f"web server {self.server.name!r} has no database attached")
            self._db = Remote(database.connect(), database, self.server, self)
        return self._db

    @property
    def cache(self) -> Remote:
        if self._cache is None:
            cache = self.server.cache
            if cache is None:
                raise ConfigError(f"web server {self.server.name!r} has no cache attached")
            self._cache = Remote(cache.client(), cache, self.server, self)
        return self._cache

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class Remote:
    """A client of another node, seen from a web server: each call pays a round trip when remote.

    Wraps a database connection (``execute``) or a redis-py client (``get``, ``set``, ...) alike: any
    method called through it checks that the node is up, crosses the network there, runs, and crosses
    back. What the call returns (a result set, a pipeline) is used locally.
    """

    def __init__(self, client, node: Node, server: WebServer, ctx: Context | None = None) -> None:
        self._client = client
        self._node = node
        self._server = server
        self._ctx = ctx

    def __getattr__(self, name: str):
        """Called once per method name: the wrapper is kept on the instance, off the request's hot path."""
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        server, node = self._server, self._node  # kept by the closure: read on every call, never replaced

        def call(*args, **kwargs):
            net, logs = server.network, server.logs
            started = server.clock.now() if logs is not None and logs.enabled else None
            if net is not None:
                net.hop(server.host, node.host)
            node.ensure_up()
            result = attribute(*args, **kwargs)
            if net is not None:
                net.hop(node.host, server.host)
            if started is not None:
                request_id = self._ctx.request_id if self._ctx is not None else None
                latency = server.clock.now() - started
                logs.emit(node.name, name, request_id, latency=latency, detail=f"from {server.name}")
            return result

        setattr(self, name, call)
        return call

    def close(self) -> None:
        self._client.close()


class Reply:
    """A response on its way back to the caller who submitted the request.

    A :class:`concurrent.futures.Future` would do, but every hand-off between threads costs here
    (two per request), and a lock the worker releases is the cheapest one CPython has.
    """

    __slots__ = ("_ready", "_value", "_error")

    def __init__(self) -> None:
        self._ready = threading.Lock()
        self._ready.acquire()
        self._value: Response | None = None
        self._error: BaseException | None = None

    def set_result(self, value: Response) -> None:
        self._value = value
        self._ready.release()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._ready.release()

    def done(self) -> bool:
        return not self._ready.locked()

    def result(self, timeout: float | None = None) -> Response:
        """The response, waiting up to ``timeout`` s (forever if None); raises what the request raised,
        or :class:`TimeoutError` if it is not done in time."""
        if not self._ready.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise TimeoutError(f"no response within {timeout} s")
        self._ready.release()  # done for good: later calls return at once
        if self._error is not None:
            raise self._error
        return self._value


class _Inbox:
    """A web server's request queue: first in, first out, at most ``maxsize`` waiting.

    ``queue.Queue`` would do, but its locks and conditions are Python code on both sides of every
    request (~10% of a cache hit's path through the cluster); this is a ``queue.SimpleQueue`` (C code).
    Adding takes a lock, so that two callers cannot both see room for one; taking needs none (it only
    makes room).
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: queue.SimpleQueue = queue.SimpleQueue()
        self._adding = threading.Lock()

    def put_nowait(self, item) -> None:
        """Add ``item``, or raise ``queue.Full`` if ``maxsize`` are waiting."""
        with self._adding:
            if self._items.qsize() >= self.maxsize:
                raise queue.Full
            self._items.put(item)

    def put(self, item) -> None:
        """Add ``item`` whatever the count (a worker's stop signal is never refused)."""
        self._items.put(item)

    def get(self):
        """The oldest item, waiting for one."""
        return self._items.get()

    def qsize(self) -> int:
        return self._items.qsize()


class WebServer(Node):
    """A web/app server: ``workers`` threads serving a bounded queue with ``handler``."""

    kind = "web"
    #: The latest completions (and errors) kept in the ``completion_times`` and ``error_times`` series: a few
    #: seconds at full speed, and a bound on what a server that runs for hours holds (~90 bytes a point).
    series_kept = 50_000

    def __init__(
        self,
        name: str,
        handler: Handler,
        *,
        workers: int = 4,
        queue_size: int = 1024,
        service_time: float = 0.0,
        database=None,
        cache=None,
        network=None,
        host: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, host=host, clock=clock)
        # The per-request metrics, looked up once and sharing one lock: recording them is on every request's
        # path, and _record takes the lock once for all of them.
        m, lock = self.metrics, threading.Lock()
        self._stats = lock
        #: Requests inside this server, queued or in service (Little's L here).
        self._inside = m.occupancy("in_server", lock=lock)
        self._requests, self._errors = m.counter("requests", lock=lock), m.counter("errors", lock=lock)
        self._by_status = {status: m.counter(f"status_{status}xx", lock=lock) for status in range(1, 6)}
        self._queue_wait, self._service, self._latency = (
            m.histogram("queue_wait", lock=lock), m.histogram("service_time", lock=lock),
            m.histogram("latency", lock=lock),
        )  # fmt: skip
        self._completions = m.series("completion_times", keep=self.series_kept, lock=lock)
        self._error_times = m.series("error_times", keep=self.series_kept, lock=lock)
        check_positive(f"{name}: workers", workers, integer=True)
        check_positive(f"{name}: queue_size", queue_size, integer=True)
        check_positive(f"{name}: service_time", service_time, allow_zero=True)
        if not callable(handler):
            raise ConfigError(f"{name}: the handler must be callable (request, ctx) -> Response, got {handler!r}")
        self.handler = handler
        self.workers = workers
        self.service_time = float(service_time)
        self.database = database
        self.cache = cache
        self.network = network
        #: Where this server writes a record per request (a cluster's :class:`~minicluster.logs.LogSink`).
        self.logs = None
        self._queue = _Inbox(queue_size)
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-worker-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()
        self._stopped = False

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def submit(self, request: Request) -> Reply:
        """Queue a request; its :class:`Reply` resolves to its :class:`Response`.

        Raises :class:`NodeDown` if this server has crashed or stopped, :class:`Overloaded` if its queue is full.
        """
        if self._stopped:
            raise NodeDown(f"web server {self.name!r} is stopped (its cluster was closed)")
        self.ensure_up()
        reply = Reply()
        now, inside = self.clock.now(), self._inside
        inside.change(now, +1)  # queued or in service, until a worker is done with it
        try:
            self._queue.put_nowait((request, reply, now))
        except queue.Full:
            inside.change(self.clock.now(), -1)
            self.metrics.counter("rejected").inc()
            raise Overloaded(
                f"web server {self.name!r} rejected a request: its queue of {self._queue.maxsize} is full"
            ) from None
        return reply

    def handle(self, request: Request, timeout: float | None = None) -> Response:
        """Submit ``request`` and wait for its response."""
        return self.submit(request).result(timeout)

    def _serve(self) -> None:
        ctx = Context(self)
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                request, reply, enqueued = item
                started = self.clock.now()
                counted_out = False
                try:  # (counted out of the server by _record, or else by the finally below, whatever happens)
                    self.ensure_up()
                    ctx.request_id = request.headers.get("X-Request-Id")
                    if self.service_time:
                        self.work(self.service_time)
                    response = self._respond(request, ctx)
                    self._record(response.status, enqueued, started)
                    counted_out = True
                    if self.logs is not None and self.logs.enabled:
                        self._log(request, ctx.request_id, response.status, enqueued)
                except NodeDown as exc:  # crashed while the request waited: the connection drops
                    self.metrics.counter("dropped").inc()
                    reply.set_exception(exc)
                except BaseException as exc:  # never leave a caller waiting on a dead worker
                    reply.set_exception(exc)
                    raise
                else:
                    reply.set_result(response)
                finally:
                    if not counted_out:
                        self._inside.change(self.clock.now(), -1)
        finally:
            ctx.close()

    def _respond(self, request: Request, ctx: Context) -> Response:
        try:
            response = self.handler(request, ctx)
        except Exception as exc:  # a handler bug is a 500 for that request, not a dead worker
            self.metrics.counter("handler_exceptions").inc()
            return Response.json({"error": f"internal server error ({type(exc).__name__})"}, 500)
        if not isinstance(response, Response):
            self.metrics.counter("handler_exceptions").inc()
            return Response.json({"error": f"handler returned {type(response).__name__}, not a Response"}, 500)
        return response

    def _log(self, request: Request, request_id: str | None, status: int, enqueued: float) -> None:
        detail = f"{request.method} {request.path}"
        self.logs.emit(
            self.name, "request", request_id, status=status, latency=self.clock.now() - enqueued, detail=detail
        )

    def _record(self, status: int, enqueued: float, started: float) -> None:
        """Count a request answered with ``status`` and out of the server, under one lock."""
        done = self.clock.now()
        by_status = self._by_status.get(status // 100)
        if by_status is None:  # a status outside 1xx-5xx: its counter is made on first use
            by_status = self.metrics.counter(f"status_{status // 100}xx", lock=self._stats)
            self._by_status[status // 100] = by_status
        with self._stats:
            self._requests.inc_held()
            by_status.inc_held()
            self._queue_wait.record_held(max(0.0, started - enqueued))
            self._service.record_held(max(0.0, done - started))
            self._latency.record_held(max(0.0, done - enqueued))
            self._completions.add_held(done)
            if status >= 500:
                self._errors.inc_held()
                self._error_times.add_held(done)
            self._inside.change_held(done, -1)

    def stop(self) -> None:
        """Finish queued requests, then end the worker threads."""
        if self._stopped:
            return
        self._stopped = True
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()
