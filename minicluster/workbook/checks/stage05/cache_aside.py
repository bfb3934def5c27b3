"""Checker of ``05.cache_aside``: hits, TTLs, invalidation (and its race), a stampede, a failing
database, a cache that is down."""

from __future__ import annotations

import threading

from ....apps import create_users
from ....cache import CacheNode
from ....cluster import Cluster
from ..base import Checker, Failure, describe


class _Database:
    """The users table as the learner's code sees it: ``execute(sql, params)``, one DuckDB connection
    per thread, every user lookup counted, with hooks to slow, hold, fail or interleave statements."""

    def __init__(self, node) -> None:
        self.node = node
        self._local = threading.local()
        self._lock = threading.Lock()
        self.lookups: dict[int, int] = {}
        self.fail_next_lookup = False
        #: Set while a lookup of ``hold`` waits for ``release``: the checker looks at the cache meanwhile.
        self.hold: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        #: Called (once) just before an UPDATE runs, on the learner's thread.
        self.before_update = None

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.node.connect()
        return conn

    def execute(self, sql, params=None):
        text = " ".join(str(sql).split()).upper()
        if text.startswith("UPDATE") and self.before_update is not None:
            hook, self.before_update = self.before_update, None
            hook()
        if text.startswith("SELECT") and params:
            user = params[0] if isinstance(params, (list, tuple)) else None
            with self._lock:
                self.lookups[user] = self.lookups.get(user, 0) + 1
                fail, self.fail_next_lookup = self.fail_next_lookup, False
            if fail:
                raise RuntimeError("the database is unavailable (injected by the checker)")
            if user == self.hold:
                self.holding.set()
                self.release.wait(10)
        return self._conn().execute(sql, params)

    def name(self, user: int) -> str:
        (name,) = self.node.execute("SELECT name FROM users WHERE id = ?", [user])[0]
        return name


class CacheAsideCheck(Checker):
    """``get_user`` and ``update_user`` against a real DuckDB table and a Redis-compatible cache."""

    exercise_id = "05.cache_aside"
    #: 50 requests at once for one cold user, while the database takes this long to answer.
    herd = {"clients": 50, "query_time": 0.1}
    time_limit = 120.0

    def verify(self, users_class) -> list[str]:
        if not callable(users_class):
            raise Failure(f"expected the class CachedUsers, got {describe(users_class)}")
        with Cluster(seed=5) as cluster:
            node = cluster.add_database("db", host="db1")
            create_users(node, 50, seed=5)
            cache_node = cluster.add_cache("cache", host="cache1")
            db, cache = _Database(node), cache_node.client()
            users = self._new(users_class, db, cache, 60)
            self._hits_and_misses(users, db, cache)
            self._ttls(users_class, db, cache)
            self._invalidation(users, db)
            self._invalidation_race(users, db)
            self._failing_database(users, db, cache)
            self._cache_down(users_class, db, cache_node)
        self._stampede(users_class)
        return [
            "a hit never reaches the database; a missing user is None",
            "every key the cache holds has a TTL, the user entries the one asked for",
            "an update is visible at once, even when a reader comes between the database write and the delete",
            "a database error releases the lock: the next request loads the user at once",
            "with the cache down, users are read and renamed through the database",
            f"{self.herd['clients']} requests at once for one cold user reach the database at most twice",
        ]

    # -- helpers ------------------------------------------------------------------------------------
    def _new(self, users_class, db, cache, ttl):
        return self.instance(
            users_class, db, cache, ttl, on=f"CachedUsers(db, cache, ttl={ttl})", methods=("get_user", "update_user")
        )

    def _get(self, users, user, on):
        got = self.call(users.get_user, user, on=on)
        if got is not None and not isinstance(got, dict):
            raise Failure(f"{on}: returned {describe(got)}; return the user as a dict (or None)")
        return got

    def _expect_user(self, users, user, db, on):
        got = self._get(users, user, on)
        name = db.name(user)
        if got is None or got.get("id") != user or got.get("name") != name:
            raise Failure(f"{on}: returned {describe(got)}; user {user} is named {name!r}")
        return got

    def _keys_without_ttl(self, cache) -> list[str]:
        return [key for key in cache.keys("*") if cache.ttl(key) < 0]

    # -- the checks ---------------------------------------------------------------------------------
    def _hits_and_misses(self, users, db, cache) -> None:
        self._expect_user(users, 1, db, "get_user(1) on an empty cache")
        before = db.lookups.get(1, 0)
        self._expect_user(users, 1, db, "get_user(1) again")
        if db.lookups.get(1, 0) != before:
            raise Failure(
                "get_user(1) asked the database again right after the first call: keep the answer in the "
                "cache (under user:1) and answer the next call from there"
            )
        got = self._get(users, 999, "get_user(999) for a user that does not exist")
        if got is not None:
            raise Failure(f"get_user(999) returned {describe(got)} for a user that does not exist; return None")

    def _ttls(self, users_class, db, cache) -> None:
        users = self._new(users_class, db, cache, 30)
        self._expect_user(users, 2, db, "get_user(2) with ttl=30")
        ttl = cache.ttl("user:2")
        if not 0 < ttl <= 30:
            shown = "no TTL at all" if ttl == -1 else ("no entry" if ttl == -2 else f"a TTL of {ttl} s")
            raise Failure(f"after get_user(2) with ttl=30 the cache holds user:2 with {shown}; give it the ttl")
        lasting = self._keys_without_ttl(cache)
        if lasting:
            raise Failure(f"the key {lasting[0]!r} has no TTL: a key that never expires can outlive the truth")

    def _invalidation(self, users, db) -> None:
        self._expect_user(users, 3, db, "get_user(3)")
        self.call(users.update_user, 3, "Grace Renamed", on="update_user(3, 'Grace Renamed')")
        if db.name(3) != "Grace Renamed":
            raise Failure("update_user(3, 'Grace Renamed') did not change the name in the database")
        got = self._get(users, 3, "get_user(3) right after update_user(3, 'Grace Renamed')")
        if got is None or got.get("name") != "Grace Renamed":
            raise Failure(
                f"get_user(3) right after renaming user 3 returned {describe(got)}: the cache still held the "
                "old copy. An update must drop the cached entry"
            )

    def _invalidation_race(self, users, db) -> None:
        """Another reader asks for user 4 at the moment the UPDATE reaches the database (after whatever
        update_user did before it). If the entry was dropped before the write, that reader puts the old
        row back and it stays until the TTL ends."""
        self._expect_user(users, 4, db, "get_user(4)")

        def reader_arrives() -> None:
            thread = threading.Thread(target=lambda: users.get_user(4), daemon=True)
            thread.start()
            thread.join(10)

        db.before_update = reader_arrives
        on = "update_user(4, 'Ada Renamed') while another request reads user 4"
        self.call(users.update_user, 4, "Ada Renamed", on=on, within=15)
        got = self._get(users, 4, f"get_user(4) after {on}")
        if got is None or got.get("name") != "Ada Renamed":
            raise Failure(
                f"{on}: afterwards get_user(4) returned {describe(got)}. The other request came in just before your "
                "UPDATE ran, missed the cache and stored the row it read: the old one. Think about when the entry "
                "is dropped relative to the write"
            )

    def _failing_database(self, users, db, cache) -> None:
        db.fail_next_lookup = True
        on = "get_user(8) while the database raises RuntimeError"
        try:
            self.call(users.get_user, 8, on=on)
        except Failure as failure:
            if "RuntimeError" not in str(failure):
                raise
        leftover = [key for key in cache.keys("*") if not key.startswith("user:")]
        if leftover:
            raise Failure(
                f"{on}: afterwards the cache still held {leftover[0]!r}, so the next requests for user 8 wait "
                "for it to expire. Release what you took, also when the database raises"
            )
        self._expect_user(users, 8, db, "get_user(8) once the database is back")

    def _cache_down(self, users_class, db, cache_node) -> None:
        users = self._new(users_class, db, cache_node.client(), 60)
        cache_node.crash()
        try:
            self._expect_user(users, 5, db, "get_user(5) while the cache is down")
            self.call(
                users.update_user, 5, "Linus Renamed", on="update_user(5, 'Linus Renamed') while the cache is down"
            )
            if db.name(5) != "Linus Renamed":
                raise Failure("update_user(5, ...) while the cache is down did not rename user 5 in the database")
        finally:
            cache_node.recover()

    def _stampede(self, users_class) -> None:
        herd = self.herd
        on = f"{herd['clients']} calls of get_user(7) at the same moment on an empty cache"
        lookups, wrong, lasting = self.call(self._herd, users_class, on=on, within=30)
        if wrong:
            raise Failure(f"{on}: {wrong[0]}")
        if lasting:
            raise Failure(
                f"{on}: while the first request was reading the database, the cache held {lasting[0]!r} with no "
                "TTL. If that request dies, the key stays forever and nobody loads user 7 again"
            )
        if lookups > 2:
            raise Failure(
                f"{on}: the database was asked for user 7 {lookups} times. Let one request load it while the "
                "others wait for its answer (a lock taken with SET NX PX)"
            )

    def _herd(self, users_class):
        herd = self.herd
        with Cluster(seed=5) as cluster:
            node = cluster.add_database("db", host="db1", query_time=herd["query_time"])
            create_users(node, 10, seed=5)
            db, cache = _Database(node), CacheNode("herd-cache").client()
            users = users_class(db, cache, 60)
            db.hold = 7
            start = threading.Barrier(herd["clients"])
            results, errors = [], []

            def one() -> None:
                try:
                    start.wait(10)
                    results.append(users.get_user(7))
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=one, daemon=True) for _ in range(herd["clients"])]
            for t in threads:
                t.start()
            lasting = self._keys_without_ttl(cache) if db.holding.wait(10) else []
            db.release.set()
            for t in threads:
                t.join(20)
            wrong = [f"a call raised {type(e).__name__}: {e}" for e in errors[:1]]
            name = db.name(7)
            wrong += [f"a call returned {describe(r)}" for r in results if not (r and r.get("name") == name)][:1]
            if len(results) + len(errors) < herd["clients"]:
                wrong.append(f"{herd['clients'] - len(results) - len(errors)} calls had not returned after 20 s")
            return db.lookups.get(7, 0), wrong, lasting
