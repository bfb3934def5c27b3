"""Cache nodes: Redis through the redis-py API.

By default the server is a ``fakeredis.FakeServer`` living in this process (one per cache node, shared
by every client of that node, so two web servers see the same keys); give ``url`` to use a real
Redis server instead, with the same client code. fakeredis does not evict under ``maxmemory``
(CONFIG SET is accepted and ignored), so experiments that need eviction implement it in the cache
layer on purpose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clock import Clock
from .errors import ConfigError
from .nodes import Node

if TYPE_CHECKING:
    import redis


class CacheNode(Node):
    """A Redis-compatible key-value store that fails like a node when crashed."""

    kind = "cache"

    def __init__(
        self, name: str, *, url: str | None = None, host: str | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__(name, host=host, clock=clock)
        if url is not None and not (isinstance(url, str) and url.startswith(("redis://", "rediss://", "unix://"))):
            raise ConfigError(f"{name}: a Redis URL starts with redis://, rediss:// or unix://, got {url!r}")
        self.url = url
        if url:
            self._server = None
        else:
            import fakeredis  # imported on first use: it is most of `import minicluster`'s time

            self._server = fakeredis.FakeServer()

    def client(self) -> redis.Redis:
        """A new redis-py client of this node (strings in, strings out)."""
        self.ensure_up()
        if self.url:
            import redis  # imported on first use, like fakeredis

            return redis.Redis.from_url(self.url, decode_responses=True)
        import fakeredis

        return fakeredis.FakeRedis(server=self._server, decode_responses=True)

    def on_crash(self) -> None:
        # A crashed cache loses everything it held. The fake server stays the same object, so clients
        # opened before the crash work again once it recovers (empty), as a real Redis restart behaves
        # for clients that reconnect. (A real server given by URL is not ours to crash: its clients
        # get NodeDown through the node, see minicluster.web.Remote.)
        if self._server is not None:
            self._server.connected = False
            with self._server.lock:
                for db in self._server.dbs.values():
                    db.clear()

    def on_recover(self) -> None:
        if self._server is not None:
            self._server.connected = True
