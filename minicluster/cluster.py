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

import random
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from .balancers import Balancer
from .cache import CacheNode
from .clock import Clock, RealClock
from .dns import DNS, Resolver
from .errors import ConfigError, check_positive
from .faults import Nemesis
from .load import derive_seed
from .loadbalancer import HealthCheck, LoadBalancer
from .network import Network
from .nodes import Node
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
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigError(f"seed must be an integer, got {seed!r}")
        self.seed = seed
        self.clock: Clock = clock or RealClock()
        self._owns_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="minicluster-")) if workdir is None else Path(workdir)
        if not self._owns_workdir and not self.workdir.is_dir():
            raise ConfigError(f"workdir {str(self.workdir)!r} is not an existing directory")
        self.network = Network(
            seed=derive_seed(seed, "network"), clock=self.clock, default_latency=latency, jitter=jitter
        )
        self.dns = DNS(ttl=dns_ttl, clock=self.clock)
        #: Everything that happens to the cluster: faults, heals, reactions (ejections...), changes.
        self.timeline = Timeline(self.clock)
        self.nemesis = Nemesis(self.clock, self.timeline, self.network)
        self.nodes: dict[str, Node] = {}
        #: Who talks to whom, for the architecture diagram: ``(from, to, label)``.
        self.links: list[tuple[str, str, str]] = []
        self._addresses: dict[str, Node] = {}
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
        if name in self.nodes:
            raise ConfigError(f"there is already a node named {name!r}")

    def add_database(
        self,
        name: str = "db",
        *,
        host: str | None = None,
        max_connections: int = 100,
        query_time: float = 0.0,
        cores: int | None = None,
        row_group_size: int = 16_384,
    ) -> DatabaseNode:
        """A DuckDB database stored in ``<workdir>/<name>.duckdb`` (see :class:`DatabaseNode`)."""
        self._check_new(name)
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

    def add_cache(self, name: str = "cache", *, host: str | None = None, url: str | None = None) -> CacheNode:
        """A Redis-compatible cache: in-process fakeredis, or the real server at ``url``."""
        self._check_new(name)
        return self._add(CacheNode(name, url=url, host=host, clock=self.clock))

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
        if database is not None:
            self.links.append((name, database.name, "SQL"))
        if cache is not None:
            self.links.append((name, cache.name, "GET / SET"))
        return server

    def add_load_balancer(
        self,
        name: str,
        backends: Iterable[Node] = (),
        *,
        policy: Balancer | None = None,
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
        self._add(balancer)
        for server in backends:
            balancer.add_backend(server)
        if health_check:
            check = HealthCheck(balancer, interval=interval, timeout=probe_timeout, fall=fall, rise=rise)
            self.health_checks[name] = check.start()
        return balancer

    def expose(self, hostname: str, *nodes: Node) -> None:
        """Publish ``nodes`` under ``hostname`` in DNS (each gets a public address)."""
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
        return Client(self, name, timeout=timeout)

    def diagram(self, title: str | None = None):
        """The architecture as it is now: nodes grouped by host, coloured by health (Mermaid)."""
        from .viz import architecture

        return architecture(self, title=title)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for check in self.health_checks.values():
            check.stop()
        for node in self.nodes.values():
            if isinstance(node, WebServer):
                node.stop()
        for node in self.nodes.values():
            if isinstance(node, DatabaseNode):
                node.close()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        nodes = ", ".join(f"{n.name}:{n.health.value}" for n in self.nodes.values())
        return f"<Cluster seed={self.seed} nodes=[{nodes}]>"


class Client:
    """A user's device: resolves hostnames through DNS (cached for the TTL) and sends requests."""

    def __init__(self, cluster: Cluster, name: str, *, timeout: float = 30.0) -> None:
        check_positive("client timeout", timeout)
        self.cluster = cluster
        self.name = name
        self.timeout = timeout
        self.resolver = Resolver(cluster.dns)

    def request(self, method: str, url: str, body: str = "", headers: dict[str, str] | None = None) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"not an http URL: {url!r}")
        node = self.cluster.node_at(self.resolver.resolve(parts.hostname))
        net = self.cluster.network
        net.hop(self.name, node.host)
        request = Request(method.upper(), parts.path or "/", dict(headers or {}), body, client=self.name)
        response = node.handle(request, timeout=self.timeout)
        net.hop(node.host, self.name)
        return response

    def get(self, url: str) -> Response:
        return self.request("GET", url)
