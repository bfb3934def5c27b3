"""The errors minicluster raises on purpose.

Every one of them is something a learner can cause (a wrong configuration, an unknown exercise,
a node that is down), so each carries one sentence that names the offending value. In a notebook
they print as that one line instead of a traceback: IPython calls ``_render_traceback_`` when an
exception defines it.
"""

from __future__ import annotations


class MiniclusterError(Exception):
    """Base class: a one-line, learner-facing explanation."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class ConfigError(MiniclusterError, ValueError):
    """A cluster or component was configured with a value that cannot work."""


class NodeDown(MiniclusterError, ConnectionError):
    """A request reached a node that has crashed."""


class NetworkPartition(MiniclusterError, ConnectionError):
    """Two nodes cannot reach each other: the link between them is cut."""


class UnknownHost(MiniclusterError, LookupError):
    """DNS has no record for a hostname."""


class TooManyConnections(MiniclusterError, ConnectionError):
    """A database refused a connection because ``max_connections`` are already open."""


class PoolTimeout(MiniclusterError, TimeoutError):
    """No connection became free within a connection pool's timeout."""


class Bottleneck(MiniclusterError, ValueError):
    """A plan asks more of one tier (the database, say) than it can give: no number of servers elsewhere helps."""


class ReadOnly(MiniclusterError, RuntimeError):
    """A write reached a read-only replica: writes go to the primary."""


class Fenced(MiniclusterError, RuntimeError):
    """A former primary refused a write: a newer epoch has begun (another member was promoted)."""


class ReplicationTimeout(MiniclusterError, TimeoutError):
    """A synchronous write is on the primary, but not every replica applied it within the timeout."""


class NoReplicaToPromote(MiniclusterError, RuntimeError):
    """The primary is lost and no replica can take its place (every replica is down or unreachable)."""


class Overloaded(MiniclusterError, RuntimeError):
    """A web server's request queue is full, so the request was rejected (HTTP 503)."""


def check_positive(name: str, value: object, *, integer: bool = False, allow_zero: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a positive number (an int if ``integer``)."""
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        what = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {what} {bound}, got {value!r}")
