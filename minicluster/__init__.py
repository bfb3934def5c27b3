"""minicluster: scale from zero to millions of users, hands-on.

A real mini-cluster in one process: DuckDB database files, a Redis-compatible cache, web servers
made of worker threads, a network latency model, DNS, a load generator and a nemesis that breaks
things. The notebooks in ``notebooks/`` use it stage by stage; scripts can too::

    from minicluster import Cluster, closed_loop
"""

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
from .faults import Crash, Fault, Nemesis, Partition, Slow
from .load import LoadResult, UniformKeys, ZipfKeys, closed_loop, derive_seed, open_loop
from .metrics import Counter, Gauge, Histogram, Metrics, TimeSeries, merge_histograms
from .network import Network
from .nodes import Health, Node
from .storage import DatabaseConnection, DatabaseNode
from .timeline import Event, Timeline
from .web import Request, Response, Router, WebServer

__version__ = "0.1.0"

__all__ = [
    "CacheNode",
    "Client",
    "Cluster",
    "ConfigError",
    "Counter",
    "Crash",
    "DNS",
    "DatabaseConnection",
    "DatabaseNode",
    "Event",
    "Fault",
    "Gauge",
    "Health",
    "Histogram",
    "LoadResult",
    "ManualClock",
    "Metrics",
    "MiniclusterError",
    "Nemesis",
    "Network",
    "NetworkPartition",
    "Node",
    "NodeDown",
    "Overloaded",
    "Partition",
    "RealClock",
    "Request",
    "Response",
    "Router",
    "Slow",
    "TimeSeries",
    "Timeline",
    "TooManyConnections",
    "UniformKeys",
    "UnknownHost",
    "WebServer",
    "ZipfKeys",
    "closed_loop",
    "derive_seed",
    "merge_histograms",
    "open_loop",
]
