"""The cluster: one object that wires nodes, network, DNS and the nemesis, and cleans up after itself.

It is the façade a notebook or script starts from::

    with Cluster(seed=42) as c:
        db = c.add_database("db", host="server1")
        web = c.add_web_server("web", handler, host="server1", database=db)
        c.expose("api.mysite.com", web)
        response = c.client().get("http://api.mysite.com/users/1")

Database files live in the cluster's work dir: a fresh temporary directory by default, removed by
:meth:`Cluster.close`. Every random choice inside the cluster derives from ``seed``.
"""

from __future__ import annotations

import functools
import random
import re
import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from .balancers import PolicyLike
from .cache import CacheNode
from .clock import Clock, RealClock
from .dns import DNS, Resolver
from .errors import ConfigError, check_positive
from .faults import Nemesis
from .load import derive_seed
from .loadbalancer import HealthCheck, LoadBalancer
from .logs import LogSink
from .network import Network
from .nodes import Node
from .postgres import engine as resolve_engine
from .proxy import SQLProxy
from .storage import DatabaseNode
from .timeline import Timeline
from .web import Handler, Request, Response, WebServer


class Cluster:
    """A running mini-cluster. Use it as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        *,
        seed: int = 42,
        workdir: str | Path | None = None,
        clock: Clock | None = None,
        latency: float = 0.0005,
        jitter: float = 0.0,
        dns_ttl: float = 300.0,
        cursor_secret: bytes | None = None,
        engine: str | None = None,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"seed must be an integer, got {seed!r}")
        if cursor_secret is not None and not (isinstance(cursor_secret, bytes) and len(cursor_secret) >= 16):
            raise ConfigError(f"cursor_secret must be at least 16 bytes, got {cursor_secret!r}")
        self.seed = seed
        #: Where database nodes live: "duckdb" (files in the work dir) or "postgres" (databases of the
        #: configured server); by default MINICLUSTER_ENGINE, the servers' config, else duckdb.
        self.engine = resolve_engine(engine)
        #: Signs page cursors. Random unless given: anyone can read the seed, nobody should forge cursors.
        self.cursor_secret = cursor_secret or secrets.token_bytes(32)
        self.clock: Clock = clock or RealClock()
        # Everything that can refuse its arguments is built before the work dir, which must not leak.
        self.network = Network(
            seed=derive_seed(seed, "network"), clock=self.clock, default_latency=latency, jitter=jitter
        )
        self._owns_workdir = workdir is None
        if not self._owns_workdir and not Path(workdir).is_dir():
            raise ConfigError(f"workdir {str(workdir)!r} is not an existing directory")
        self.workdir = Path(tempfile.mkdtemp(prefix="minicluster-")) if workdir is None else Path(workdir)
        # A script that forgets close() still gets its temp folder removed when the cluster is collected.
        self._cleanup = (
            weakref.finalize(self, shutil.rmtree, self.workdir, ignore_errors=True) if self._owns_workdir else None
        )
        self.dns = DNS(ttl=dns_ttl, clock=self.clock)
        #: Everything that happens to the cluster: faults, heals, reactions (ejections...), changes.
        self.timeline = Timeline(self.clock)
        #: The structured logs of every web server and balancer (off until ``cluster.logs.enable()``).
        self.logs = LogSink(self.clock)
        self.nemesis = Nemesis(self.clock, self.timeline, self.network)
        self.nodes: dict[str, Node] = {}
        #: Who talks to whom, for the architecture diagram: ``(from, to, label)``.
        self.links: list[tuple[str, str, str]] = []
        self._addresses: dict[str, Node] = {}
        #: Functions returning live links ``(from, to, label, working)`` for the diagram (replication...).
        self.link_sources: list = []
        self._on_close: list = []
        #: Running health checks, by balancer name (stopped by close()).
        self.health_checks: dict[str, HealthCheck] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- building -------------------------------------------------------------------------
    def rng(self, *labels: object) -> random.Random:
        """A random generator for one purpose, derived from the cluster's seed and ``labels``."""
        return random.Random(derive_seed(self.seed, *labels))

    def _add(self, node: Node) -> Node:
        with self._lock:
            self.nodes[node.name] = node
            node.address = f"10.0.0.{len(self.nodes) + 1}"
            self._addresses[node.address] = node
        return node

    def _check_new(self, name: str) -> None:
        self._check_open()
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigError(
                f"a node name is a plain name (letters, digits, _ and -, starting with a letter or digit), got {name!r}"
            )
        if name in self.nodes:
            raise ConfigError(f"there is already a node named {name!r}")

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this cluster is closed: build a new Cluster()")

    def add_database(
        self,
        name: str = "db",
        *,
        host: str | None = None,
        max_connections: int = 100,
        query_time: float = 0.0,
        cores: int | None = None,
        row_group_size: int = 4_096,
    ) -> DatabaseNode:
        """A DuckDB database stored in ``<workdir>/<name>.duckdb`` (see :class:`DatabaseNode`), or, when the
        cluster's engine is "postgres", a database of the configured PostgreSQL server (``row_group_size``
        is DuckDB's and does not apply there)."""
        self._check_new(name)
        if self.engine == "postgres":
            from .postgres import PostgresNode

            node = PostgresNode(name, max_connections=max_connections, query_time=query_time, cores=cores,
                                host=host, clock=self.clock)  # fmt: skip
            return self._add(node)
        node = DatabaseNode(
            name,
            self.workdir / f"{name}.duckdb",
            max_connections=max_connections,
            query_time=query_time,
            cores=cores,
            row_group_size=row_group_size,
            host=host,
            clock=self.clock,
        )
        return self._add(node)

    def add_cache(
        self,
        name: str = "cache",
        *,
        host: str | None = None,
        url: str | None = None,
        max_keys: int | None = None,
        policy=None,
    ) -> CacheNode:
        """A Redis-compatible cache: in-process fakeredis, or the real server at ``url``; with ``max_keys``, a
        budget enforced by evicting what ``policy`` (default LRU, see :mod:`minicluster.eviction`) names."""
        self._check_new(name)
        return self._add(CacheNode(name, url=url, host=host, clock=self.clock, max_keys=max_keys, policy=policy))

    def add_web_server(
        self,
        name: str,
        handler: Handler,
        *,
        host: str | None = None,
        workers: int = 4,
        queue_size: int = 1024,
        service_time: float = 0.0,
        database: DatabaseNode | None = None,
        cache: CacheNode | None = None,
    ) -> WebServer:
        """A web server with ``workers`` threads; ``database`` and ``cache`` are what its handler may use."""
        self._check_new(name)
        for role, backend, kind in (("database", database, DatabaseNode), ("cache", cache, CacheNode)):
            if backend is not None and not isinstance(backend, kind):
                raise ConfigError(f"{name}: {role} must be a {kind.__name__} of this cluster, got {backend!r}")
        server = WebServer(
            name,
            handler,
            workers=workers,
            queue_size=queue_size,
            service_time=service_time,
            database=database,
            cache=cache,
            network=self.network,
            host=host,
            clock=self.clock,
        )
        self._add(server)
        server.logs = self.logs
        if database is not None:
            self.links.append((name, database.name, "SQL"))
        if cache is not None:
            self.links.append((name, cache.name, "GET / SET"))
        return server

    def add_web_server_like(
        self, template: WebServer, name: str, *, handler: Handler | None = None, host: str | None = None
    ) -> WebServer:
        """A web server like ``template`` (workers, service time, database, cache) on host ``host`` (default:
        ``name``), running ``handler`` (default: the template's; another one is another version)."""
        return self.add_web_server(
            name,
            handler or template.handler,
            host=host or name,
            workers=template.workers,
            service_time=template.service_time,
            database=template.database,
            cache=template.cache,
        )

    def add_load_balancer(
        self,
        name: str,
        backends: Iterable[Node] = (),
        *,
        policy: PolicyLike | None = None,
        host: str | None = None,
        health_check: bool = True,
        interval: float = 0.1,
        probe_timeout: float = 0.05,
        fall: int = 2,
        rise: int = 2,
    ) -> LoadBalancer:
        """A load balancer in front of ``backends``, probing them every ``interval`` s when ``health_check``."""
        self._check_new(name)
        balancer = LoadBalancer(name, policy, network=self.network, host=host, clock=self.clock, timeline=self.timeline)
        balancer.logs = self.logs
        self._add(balancer)
        for server in backends:
            balancer.add_backend(server)
        if health_check:
            check = HealthCheck(balancer, interval=interval, timeout=probe_timeout, fall=fall, rise=rise)
            self.health_checks[name] = check.start()
        return balancer

    def add_proxy(
        self,
        name: str,
        primary: DatabaseNode,
        replicas: Iterable[DatabaseNode] = (),
        *,
        pool_size: int = 10,
        timeout: float = 2.0,
        host: str | None = None,
    ) -> SQLProxy:
        """A ProxySQL-style proxy (:class:`~minicluster.proxy.SQLProxy`) in front of ``primary`` and
        ``replicas``: a connection pool to each, writes routed to the primary, reads to the replicas."""
        self._check_new(name)
        proxy = SQLProxy(
            name, primary, list(replicas), pool_size=pool_size, timeout=timeout, host=host, clock=self.clock
        )
        self._add(proxy)
        self.link_sources.append(proxy.links)
        return proxy

    def expose(self, hostname: str, *nodes: Node) -> None:
        """Publish ``nodes`` under ``hostname`` in DNS (each gets a public address)."""
        self._check_open()
        if not nodes:
            raise ConfigError(f"expose({hostname!r}) needs at least one node")
        addresses = []
        for node in nodes:
            if self.nodes.get(node.name) is not node:
                raise ConfigError(f"cannot expose {node!r}: it is not a node of this cluster")
            public = f"203.0.113.{10 + list(self.nodes).index(node.name)}"
            self._addresses[public] = node
            addresses.append(public)
            self.links.append(("client", node.name, f"HTTP {hostname}"))
        self.dns.register(hostname, *addresses)

    # -- using ----------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        """The node called ``name``, or :class:`ConfigError` listing the nodes there are."""
        try:
            return self.nodes[name]
        except KeyError:
            raise ConfigError(f"no node named {name!r} (nodes: {', '.join(self.nodes) or 'none'})") from None

    def node_at(self, address: str) -> Node:
        try:
            return self._addresses[address]
        except KeyError:
            raise ConfigError(f"no node has address {address!r}") from None

    def client(self, name: str = "client", *, timeout: float = 30.0) -> Client:
        """A client on its own host (every request crosses the network) with its own DNS cache."""
        self._check_open()
        return Client(self, name, timeout=timeout)

    def diagram(self, title: str | None = None):
        """The architecture as it is now: nodes grouped by host, coloured by health (Mermaid)."""
        from .viz import architecture

        return architecture(self, title=title)

    # -- lifecycle --------------------------------------------------------------------------
    def on_close(self, stop) -> None:
        """Call ``stop()`` when the cluster closes, before its databases do (background threads)."""
        self._on_close.append(stop)

    def close(self) -> None:
        """Stop health checks and web servers, close the databases, remove the work dir (if it made one)."""
        if self._closed:
            return
        self._closed = True
        for check in self.health_checks.values():
            check.stop()
        for stop in reversed(self._on_close):
            stop()
        for node in self.nodes.values():
            if isinstance(node, WebServer):
                node.stop()
        for node in self.nodes.values():
            if isinstance(node, DatabaseNode):
                node.close()
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        nodes = ", ".join(f"{n.name}:{n.health.value}" for n in self.nodes.values())
        return f"<Cluster seed={self.seed} nodes=[{nodes}]>"


#: What a node may be called: its name becomes a file name (``<name>.duckdb``) in the work dir.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@functools.lru_cache(maxsize=4096)
def _host_and_path(url: str) -> tuple[str, str]:
    """``(hostname, path)`` of an http URL; ConfigError naming it otherwise. Kept: clients ask the same
    URLs again and again, and parsing one costs more than a cache hit through the whole cluster's path."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"not an http URL: {url!r}")
    return parts.hostname, parts.path or "/"


class Client:
    """A user's device: resolves hostnames through DNS (cached for the TTL) and sends requests."""

    def __init__(self, cluster: Cluster, name: str, *, timeout: float = 30.0) -> None:
        check_positive("client timeout", timeout)
        self.cluster = cluster
        self.name = name
        self.timeout = timeout
        self.resolver = Resolver(cluster.dns)

    def request(self, method: str, url: str, body: str = "", headers: dict[str, str] | None = None) -> Response:
        self.cluster._check_open()
        if not isinstance(url, str):
            raise ConfigError(f"not an http URL: {url!r}")
        hostname, path = _host_and_path(url)
        node = self.cluster.node_at(self.resolver.resolve(hostname))
        net = self.cluster.network
        net.hop(self.name, node.host)
        request = Request(method.upper(), path, dict(headers or {}), body, client=self.name)
        response = node.handle(request, timeout=self.timeout)
        net.hop(node.host, self.name)
        return response

    def get(self, url: str) -> Response:
        return self.request("GET", url)
