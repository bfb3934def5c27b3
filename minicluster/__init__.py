"""minicluster: scale from zero to millions of users, hands-on.

A real mini-cluster in one process: DuckDB database files, a Redis-compatible cache, web servers
made of worker threads, a network latency model, DNS, a load generator and a nemesis that breaks
things. The notebooks in ``notebooks/`` use it stage by stage; scripts can too::

    from minicluster import Cluster, closed_loop

Everything a script needs is importable from here (``__all__``); each stage's topology and
experiments live in ``minicluster.stages.<module>`` (see ``minicluster.workbook.stages()``), and the
pictures in ``minicluster.viz``.
"""

from .balancers import (
    POLICIES,
    Backend,
    Balancer,
    ConsistentHash,
    LeastConnections,
    NoHealthyBackend,
    PowerOfTwoChoices,
    RandomChoice,
    RoundRobin,
    WeightedRoundRobin,
)
from .cache import CacheNode
from .clock import ManualClock, RealClock
from .cluster import Client, Cluster
from .dns import DNS
from .errors import (
    ConfigError,
    MiniclusterError,
    NetworkPartition,
    NodeDown,
    Overloaded,
    TooManyConnections,
    UnknownHost,
)
from .experiment import Run, Topology, under_faults
from .faults import Crash, Fault, Nemesis, Partition, Slow
from .load import LoadResult, UniformKeys, ZipfKeys, closed_loop, derive_seed, open_loop
from .loadbalancer import HealthCheck, LoadBalancer
from .metrics import Counter, Gauge, Histogram, Metrics, TimeSeries, merge_histograms
from .network import Network
from .nodes import Health, Node
from .posts import Page, Post, PostsSpec, ShardedPosts
from .storage import DatabaseConnection, DatabaseNode
from .timeline import Event, Timeline
from .web import Context, Request, Response, Router, WebServer

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "Balancer",
    "CacheNode",
    "Client",
    "Cluster",
    "ConfigError",
    "ConsistentHash",
    "Context",
    "Counter",
    "Crash",
    "DatabaseConnection",
    "DatabaseNode",
    "DNS",
    "Event",
    "Fault",
    "Gauge",
    "Health",
    "HealthCheck",
    "Histogram",
    "LeastConnections",
    "LoadBalancer",
    "LoadResult",
    "ManualClock",
    "Metrics",
    "MiniclusterError",
    "Nemesis",
    "Network",
    "NetworkPartition",
    "Node",
    "NodeDown",
    "NoHealthyBackend",
    "Overloaded",
    "Page",
    "Partition",
    "POLICIES",
    "Post",
    "PostsSpec",
    "PowerOfTwoChoices",
    "RandomChoice",
    "RealClock",
    "Request",
    "Response",
    "RoundRobin",
    "Router",
    "Run",
    "ShardedPosts",
    "Slow",
    "Timeline",
    "TimeSeries",
    "TooManyConnections",
    "Topology",
    "UniformKeys",
    "UnknownHost",
    "WebServer",
    "WeightedRoundRobin",
    "ZipfKeys",
    "closed_loop",
    "derive_seed",
    "merge_histograms",
    "open_loop",
    "under_faults",
]
