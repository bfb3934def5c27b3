"""Exercise 05.cache_aside: read users through a cache, keep it honest, and survive a stampede.

Cache-aside: the application asks the cache first; on a miss it asks the database and puts the
answer in the cache for next time, with a TTL. Four things make it production-worthy:

- **invalidation**: after a user changes, the cached copy must go, or readers see the old one;
- **expiry**: every key gets a TTL, so that a forgotten key cannot live (and lie) forever;
- **single flight**: when a popular entry expires, a thousand requests miss at once and all ask the
  database (a *thundering herd*); let one of them load it while the others wait for its answer;
- **the cache is optional**: when it is down, the database still answers.

``db`` has ``execute(sql, params)`` (DB-API, ``?`` placeholders); ``db.execute(...).fetchone()`` returns
a row or ``None``. ``cache`` has redis-py's API (``get``, ``set(key, value, ex=..., px=..., nx=...)``,
``delete``); when the cache is down, its methods raise ``ConnectionError`` (or redis-py's).
"""

import json
import time
import uuid

USER_SQL = "SELECT id, name, email FROM users WHERE id = ?"
#: How long the single-flight lock lives if its holder never removes it (it crashed), in milliseconds.
LOCK_MS = 3000
#: How long a request waits for another one's answer before asking the database itself, in seconds.
WAIT_S = 3.0


class CachedUsers:
    """The users table read through a cache (cache-aside), shared by many threads at once."""

    def __init__(self, db, cache, ttl=60):
        """Keep ``db``, ``cache`` and ``ttl`` (seconds each cached user lives)."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 05.cache_aside
        raise NotImplementedError

    def get_user(self, user_id):
        """Return user ``user_id`` as a dict (``id``, ``name``, ``email``), or ``None`` if there is none.

        Read ``user:<id>`` from the cache (a JSON string). On a miss, only the request that takes the lock
        ``lock:user:<id>`` (``SET ... NX PX``, so that it expires if you crash) reads the database, stores
        the user with a TTL of ``self.ttl`` seconds and releases the lock, also when the database raises;
        the others wait for the entry to appear (a few milliseconds between looks), and ask the database
        themselves only if it does not come within a few seconds. If the cache is down, use the database.
        """
        # TODO: write this (the docstring says what it must do), then run: minicluster check 05.cache_aside
        raise NotImplementedError

    def update_user(self, user_id, name):
        """Rename user ``user_id`` in the database and drop the cached copy, so that the next read sees the
        new name, also when another request reads that user while you update. If the cache is down, the
        database write still counts."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 05.cache_aside
        raise NotImplementedError
