"""Wrong answers to 05.cache_aside: cache-aside as it is often written, one thing missing at a time."""

import json
import uuid

from minicluster.workbook import load

_Solution = load("05.cache_aside", tree="solutions")
_KEY, _LOCK = "user:{}", "lock:user:{}"
_SQL = "SELECT id, name, email FROM users WHERE id = ?"


def _row(db, user_id):
    row = db.execute(_SQL, [user_id]).fetchone()
    return None if row is None else dict(zip(("id", "name", "email"), row))


class NoInvalidation(_Solution):
    """Renames the user in the database and leaves the cached copy as it was."""

    def update_user(self, user_id, name):
        self.db.execute("UPDATE users SET name = ? WHERE id = ?", [name, user_id])


class InvalidatesBeforeTheWrite(_Solution):
    """Drops the cached copy first, then writes: a reader in between puts the old row back."""

    def update_user(self, user_id, name):
        self.cache.delete(_KEY.format(user_id))
        self.db.execute("UPDATE users SET name = ? WHERE id = ?", [name, user_id])


class NoTTL(_Solution):
    """Caches users forever."""

    def __init__(self, db, cache, ttl=60):
        super().__init__(db, cache, ttl=None)


def _or_the_database(get_user):
    """The mutant's get_user, falling back to the database when the cache is down (so that it fails the
    check for its own mistake, not for that one)."""

    def tolerant(self, user_id):
        try:
            return get_user(self, user_id)
        except Exception as exc:
            if "connection" not in str(exc).lower():
                raise
            return _row(self.db, user_id)

    return tolerant


def _plain_get(self, user_id):
    """Cache-aside without single flight: every miss asks the database."""
    hit = self.cache.get(_KEY.format(user_id))
    if hit is not None:
        return json.loads(hit)
    user = _row(self.db, user_id)
    if user is not None:
        self.cache.set(_KEY.format(user_id), json.dumps(user), ex=self.ttl)
    return user


class PlainCacheAside(_Solution):
    """No single flight: every miss asks the database."""

    get_user = _or_the_database(_plain_get)


class LockNeverReleasedOnError(_Solution):
    """Releases the lock after a successful load only: a database error leaves it behind."""

    def get_user(self, user_id):
        key, lock = _KEY.format(user_id), _LOCK.format(user_id)
        hit = self.cache.get(key)
        if hit is not None:
            return json.loads(hit)
        if self.cache.set(lock, "1", nx=True, px=3000):
            user = _row(self.db, user_id)
            if user is not None:
                self.cache.set(key, json.dumps(user), ex=self.ttl)
            self.cache.delete(lock)
            return user
        return self._wait_for_leader(key, lock, user_id)


class LockWithoutExpiry(_Solution):
    """Takes the stampede lock with SET NX but no PX: if its holder dies, nobody loads the user again."""

    @_or_the_database
    def get_user(self, user_id):
        key, lock = _KEY.format(user_id), _LOCK.format(user_id)
        hit = self.cache.get(key)
        if hit is not None:
            return json.loads(hit)
        token = uuid.uuid4().hex
        if self.cache.set(lock, token, nx=True):
            try:
                user = _row(self.db, user_id)
                if user is not None:
                    self.cache.set(key, json.dumps(user), ex=self.ttl)
                return user
            finally:
                self.cache.delete(lock)
        return self._wait_for_leader(key, lock, user_id)


class CrashesWhenTheCacheIsDown(_Solution):
    """Treats the cache as always there."""

    get_user = _plain_get

    def update_user(self, user_id, name):
        self.db.execute("UPDATE users SET name = ? WHERE id = ?", [name, user_id])
        self.cache.delete(_KEY.format(user_id))


class ReadsDownCacheButUpdateCrashes(_Solution):
    """Falls back to the database for reads, but the update's delete raises when the cache is down."""

    def update_user(self, user_id, name):
        self.db.execute("UPDATE users SET name = ? WHERE id = ?", [name, user_id])
        self.cache.delete(_KEY.format(user_id))


class AlwaysTheDatabase(_Solution):
    """Never uses the cache at all."""

    def get_user(self, user_id):
        return _row(self.db, user_id)


class CachesMissingUsersForever(_Solution):
    """Caches "no such user" as an empty JSON object, without a TTL."""

    def get_user(self, user_id):
        key = _KEY.format(user_id)
        hit = self.cache.get(key)
        if hit is not None:
            return json.loads(hit) or None
        user = _row(self.db, user_id)
        self.cache.set(key, json.dumps(user or {}), ex=self.ttl if user else None)
        return user


class ReturnsTheJSONString(_Solution):
    def get_user(self, user_id):
        user = super().get_user(user_id)
        return None if user is None else json.dumps(user)


MUTANTS = {
    cls.__name__: cls
    for cls in (
        NoInvalidation,
        InvalidatesBeforeTheWrite,
        NoTTL,
        PlainCacheAside,
        LockNeverReleasedOnError,
        LockWithoutExpiry,
        CrashesWhenTheCacheIsDown,
        ReadsDownCacheButUpdateCrashes,
        AlwaysTheDatabase,
        CachesMissingUsersForever,
        ReturnsTheJSONString,
    )
}
