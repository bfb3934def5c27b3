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


def _cache_down(error):
    return isinstance(error, ConnectionError) or type(error).__module__.startswith("redis")


class CachedUsers:
    """The users table read through a cache (cache-aside), shared by many threads at once."""

    def __init__(self, db, cache, ttl=60):
        """Keep ``db``, ``cache`` and ``ttl`` (seconds each cached user lives)."""
        self.db = db
        self.cache = cache
        self.ttl = ttl

    def get_user(self, user_id):
        """Return user ``user_id`` as a dict (``id``, ``name``, ``email``), or ``None`` if there is none.

        Read ``user:<id>`` from the cache (a JSON string). On a miss, only the request that takes the lock
        ``lock:user:<id>`` (``SET ... NX PX``, so that it expires if you crash) reads the database, stores
        the user with a TTL of ``self.ttl`` seconds and releases the lock, also when the database raises;
        the others wait for the entry to appear (a few milliseconds between looks), and ask the database
        themselves only if it does not come within a few seconds. If the cache is down, use the database.
        """
        key, lock = f"user:{user_id}", f"lock:user:{user_id}"
        try:
            hit = self.cache.get(key)
        except Exception as exc:
            if not _cache_down(exc):
                raise
            return _load(self.db, user_id)
        if hit is not None:
            return json.loads(hit)
        token = uuid.uuid4().hex
        try:
            leader = self.cache.set(lock, token, nx=True, px=LOCK_MS)
        except Exception as exc:
            if not _cache_down(exc):
                raise
            return _load(self.db, user_id)
        if leader:
            try:
                user = _load(self.db, user_id)
                if user is not None:
                    self.cache.set(key, json.dumps(user), ex=self.ttl)
                return user
            finally:
                if self.cache.get(lock) == token:
                    self.cache.delete(lock)
        return self._wait_for_leader(key, lock, user_id)

    def _wait_for_leader(self, key, lock, user_id):
        """What a request that did not get the lock does: look for the leader's answer every few ms, and
        ask the database itself when the leader is gone without one, or after WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            hit = self.cache.get(key)
            if hit is not None:
                return json.loads(hit)
            if self.cache.get(lock) is None:  # the leader is done: its answer is stored now, or never will be
                hit = self.cache.get(key)  # (it may have stored it between the two looks above)
                if hit is not None:
                    return json.loads(hit)
                break
            time.sleep(0.005)
        return _load(self.db, user_id)

    def update_user(self, user_id, name):
        """Rename user ``user_id`` in the database and drop the cached copy, so that the next read sees the
        new name, also when another request reads that user while you update. If the cache is down, the
        database write still counts."""
        self.db.execute("UPDATE users SET name = ? WHERE id = ?", [name, user_id])
        try:
            self.cache.delete(f"user:{user_id}")
        except Exception as exc:
            if not _cache_down(exc):
                raise


def _load(db, user_id):
    row = db.execute(USER_SQL, [user_id]).fetchone()
    return None if row is None else dict(zip(("id", "name", "email"), row))
