"""Cache nodes (Redis through the redis-py API), and the three ways an application uses one.

By default the server is a ``fakeredis.FakeServer`` living in this process (one per cache node, shared
by every client of that node, so two web servers see the same keys); give ``url`` to use a real
Redis server instead, with the same client code. fakeredis does not evict under ``maxmemory``
(CONFIG SET is accepted and ignored), so a node given ``max_keys`` enforces that budget itself, in
the client every caller gets: a ``set`` of a new key into a full cache first drops the key its
eviction policy (:mod:`minicluster.eviction`) names. Every ``get`` is counted as a hit or a miss in
the node's metrics, so hit ratios are measured, not assumed. The budget counts keys written with
``set``; pipelines and other commands pass through uncounted.

The patterns, each a small function over any redis-py-like client:

==========================  =======================================  =======================================
pattern                     what happens                             use it when / beware
==========================  =======================================  =======================================
:func:`cache_aside`         the app asks the cache; on a miss it      the default: only what is read gets
                            loads and stores the answer (TTL)         cached; invalidate after writes
:class:`ReadThrough`        the cache object owns the loader: a       one loader per kind of key; same
                            ``get`` that misses loads by itself       staleness as cache-aside
:func:`write_through`       a write goes to the database, then the    read-after-write fresh for the writer;
                            same value into the cache                 caches what may never be read
==========================  =======================================  =======================================

A cache that is down is never an error for them: :func:`cache_is_down` recognises it, and the
database answers.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from types import MappingProxyType

from .clock import Clock
from .errors import ConfigError, check_positive
from .eviction import LRU, Entry, as_policy
from .nodes import Node

#: Databases 1-15 of the configured Redis, each held by one live cache node (0 is left to people).
_FREE_DATABASES = list(range(15, 0, -1))
_DATABASES_LOCK = threading.Lock()


def _database_of_its_own(url: str, node: CacheNode) -> str:
    """``url`` with a database number no other live cache node of this process uses, emptied first: the
    nodes of a cluster (cache, sessions, queue...) share the configured server without sharing keys. Give
    minicluster a Redis of its own (``minicluster servers up`` does): it empties databases 1 to 15."""
    from urllib.parse import urlsplit, urlunsplit

    import redis

    with _DATABASES_LOCK:
        if not _FREE_DATABASES:
            raise ConfigError(f"{node.name}: the 15 Redis databases minicluster uses are all held by live cache nodes")
        number = _FREE_DATABASES.pop()
    weakref.finalize(node, _release_database, number)
    parts = urlsplit(url)
    own = urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))
    with redis.Redis.from_url(own) as client:
        client.flushdb()
    return own


def _release_database(number: int) -> None:
    with _DATABASES_LOCK:
        _FREE_DATABASES.append(number)
        _FREE_DATABASES.sort(reverse=True)


class CacheNode(Node):
    """A Redis-compatible key-value store that fails like a node when crashed.

    Without ``url``, a Redis configured for the workbook (``minicluster servers up``, or the variable
    ``MINICLUSTER_REDIS_URL``) is used, one database per node; with none configured, an in-process
    fakeredis."""

    kind = "cache"

    def __init__(
        self,
        name: str,
        *,
        url: str | None = None,
        host: str | None = None,
        clock: Clock | None = None,
        max_keys: int | None = None,
        policy=None,
    ) -> None:
        super().__init__(name, host=host, clock=clock)
        if max_keys is not None:
            check_positive(f"{name}: max_keys", max_keys, integer=True)
        #: How many keys the node holds at most (``None``: no limit), and who goes when it is full.
        self.max_keys = max_keys
        self.policy = as_policy(policy if policy is not None else LRU())
        self._entries: dict[str, Entry] = {}
        self._tick = 0
        self._budget_lock = threading.Lock()
        # Counted under the budget's lock: a hit takes it once for both.
        self._hits = self.metrics.counter("hits", lock=self._budget_lock)
        self._misses = self.metrics.counter("misses", lock=self._budget_lock)
        if url is not None and not (isinstance(url, str) and url.startswith(("redis://", "rediss://", "unix://"))):
            raise ConfigError(f"{name}: a Redis URL starts with redis://, rediss:// or unix://, got {url!r}")
        self.url = url
        if url is None:
            from .servers import redis_url

            configured = redis_url()  # `minicluster servers up`, or MINICLUSTER_REDIS_URL
            if configured:
                self.url = _database_of_its_own(configured, self)
        if self.url:
            self._server = None
        else:
            import fakeredis  # imported on first use: it is most of `import minicluster`'s time

            self._server = fakeredis.FakeServer()

    def client(self) -> CacheClient:
        """A new client of this node: redis-py's API (strings in, strings out), hits and misses counted,
        the key budget enforced."""
        self.ensure_up()
        if self.url:
            import redis  # imported on first use, like fakeredis

            return CacheClient(redis.Redis.from_url(self.url, decode_responses=True), self)
        import fakeredis

        return CacheClient(fakeredis.FakeRedis(server=self._server, decode_responses=True), self)

    @property
    def keys_held(self) -> int:
        """Keys written through ``set`` and not yet dropped, as the budget counts them."""
        return len(self._entries)

    def hit_ratio(self) -> float:
        """Hits over all ``get`` calls so far (0 before any)."""
        hits, misses = self.metrics.counter("hits").value, self.metrics.counter("misses").value
        return hits / (hits + misses) if hits + misses else 0.0

    # -- the budget (called by CacheClient) ---------------------------------------------------------
    def _touch(self, key: str, hit: bool) -> None:
        with self._budget_lock:
            (self._hits if hit else self._misses).inc_held()
            self._tick += 1
            entry = self._entries.get(key)
            if entry is not None and hit:
                entry.last_used, entry.uses = self._tick, entry.uses + 1
            elif entry is not None:
                del self._entries[key]  # it expired, or was dropped by someone else

    def _store(self, raw, key: str, value, ttl: float | None, **options):
        """``SET`` under the budget: a new key into a full cache first evicts the policy's victim."""
        with self._budget_lock:
            self._tick += 1
            if self.max_keys is not None and key not in self._entries and len(self._entries) >= self.max_keys:
                now = self.clock.now()
                for stale in [k for k, e in self._entries.items() if e.expires_at is not None and e.expires_at <= now]:
                    del self._entries[stale]
                if len(self._entries) >= self.max_keys:
                    victim = self.policy.victim(MappingProxyType(self._entries))  # read-only, not copied
                    if victim is None:
                        self.metrics.counter("rejected").inc()
                        return None
                    if victim not in self._entries:
                        raise ConfigError(
                            f"{self.name}: the eviction policy chose {victim!r}, a key the cache does not hold"
                        )
                    raw.delete(victim)
                    del self._entries[victim]
                    self.metrics.counter("evictions").inc()
            stored = raw.set(key, value, **options)
            if stored:
                expires = None if ttl is None else self.clock.now() + ttl
                old = self._entries.get(key)
                uses = old.uses if old else 0
                self._entries[key] = Entry(old.inserted if old else self._tick, self._tick, uses + 1, expires)
            return stored

    def _forget(self, keys) -> None:
        with self._budget_lock:
            for key in keys:
                self._entries.pop(key, None)

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
        with self._budget_lock:
            self._entries.clear()

    def on_recover(self) -> None:
        if self._server is not None:
            self._server.connected = True


class CacheClient:
    """A redis-py client of one :class:`CacheNode`: ``get``, ``set`` and ``delete`` keep the node's hit
    counts and key budget; every other command goes straight to redis-py."""

    def __init__(self, raw, node: CacheNode) -> None:
        self._raw = raw
        self._node = node

    def get(self, key: str):
        value = self._raw.get(key)
        self._node._touch(key, value is not None)
        return value

    def set(self, key: str, value, ex=None, px=None, **options):
        """Redis ``SET`` (``ex`` seconds or ``px`` milliseconds of TTL, ``nx``, ``xx``...), under the budget."""
        ttl = ex if ex is not None else (px / 1000 if px is not None else None)
        return self._node._store(self._raw, key, value, ttl, ex=ex, px=px, **options)

    def delete(self, *keys: str) -> int:
        removed = self._raw.delete(*keys)
        self._node._forget(keys)
        return removed

    def __getattr__(self, name: str):
        return getattr(self._raw, name)

    def close(self) -> None:
        self._raw.close()


def cache_is_down(error: BaseException) -> bool:
    """Whether ``error`` says the cache cannot be reached: the node is down, the network cut, or redis-py
    lost its connection (a real server restarting)."""
    return isinstance(error, ConnectionError) or (
        type(error).__module__.startswith("redis") and type(error).__name__ in ("ConnectionError", "TimeoutError")
    )


def unless_cache_down(call: Callable[[], object]):
    """``call()``, or ``None`` when the cache is down: the cache is an optimisation, the database answers."""
    try:
        return call()
    except Exception as exc:
        if cache_is_down(exc):
            return None
        raise


def cache_aside(cache, key: str, load: Callable[[], object], *, ttl: float):
    """The value of ``key``: from the cache, else ``load()`` (kept ``ttl`` seconds unless ``None``)."""
    hit = unless_cache_down(lambda: cache.get(key))
    if hit is not None:
        return hit
    value = load()
    if value is not None:
        unless_cache_down(lambda: cache.set(key, value, px=round(ttl * 1000)))
    return value


class ReadThrough:
    """A cache that loads what it misses itself: ``ReadThrough(client, load, ttl).get(key)`` calls
    ``load(key)`` on a miss and keeps the answer ``ttl`` seconds."""

    def __init__(self, cache, load: Callable[[str], object], *, ttl: float) -> None:
        check_positive("ttl", ttl)
        self.cache, self.load, self.ttl = cache, load, ttl

    def get(self, key: str):
        return cache_aside(self.cache, key, lambda: self.load(key), ttl=self.ttl)


def write_through(cache, key: str, value, store: Callable[[object], object], *, ttl: float) -> None:
    """Write ``value`` to the database (``store(value)``), then the same value into the cache."""
    store(value)
    unless_cache_down(lambda: cache.set(key, value, px=round(ttl * 1000)))
