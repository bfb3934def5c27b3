"""Checker of ``06.session_store``: shared, unguessable, sliding TTL, no resurrection, no lost update."""

from __future__ import annotations

import threading

from ....cache import CacheNode
from ..base import Checker, Failure, describe


class SessionStoreCheck(Checker):
    """A Redis session store: any server sees a session, TTLs slide on use, updates are atomic."""

    exercise_id = "06.session_store"
    ttl = 60
    #: The stress: threads each adding items to one session.
    stress = {"threads": 8, "updates": 25}

    def verify(self, store_class) -> list[str]:
        if not callable(store_class):
            raise Failure(f"expected the class SessionStore, got {describe(store_class)}")
        node = CacheNode("sessions")
        web1, web2 = self._new(store_class, node), self._new(store_class, node)
        sid = self._created(web1, node)
        self._shared(web2, sid)
        self._sliding(web1, node, sid)
        self._ended(store_class, node)
        self._interleaved_updates(store_class, node)
        self._stress(store_class, node)
        return [
            "a new session has an id of 16+ characters, a TTL of at most ttl, and is seen by every web server",
            "reading and updating a session both start its TTL again",
            "a deleted or expired session stays gone: get and update answer None and store nothing",
            "two updates at the same moment, bytecode by bytecode, both take effect",
            f"{self.stress['threads']} threads x {self.stress['updates']} updates on one session lose none",
        ]

    def _new(self, store_class, node):
        return self.instance(
            store_class,
            node.client(),
            self.ttl,
            on=f"SessionStore(client, ttl={self.ttl})",
            methods=("create", "get", "update", "delete"),
        )

    def _key_of(self, node, sid, on):
        keys = [k for k in node.client().keys("*") if sid in k]
        if len(keys) != 1:
            raise Failure(f"{on}: expected one Redis key holding session {sid!r}, found {keys}")
        return keys[0]

    def _created(self, store, node) -> str:
        on = "create('ada')"
        sid = self.call(store.create, "ada", on=on)
        if not isinstance(sid, str):
            raise Failure(f"{on}: returned {describe(sid)}; return the new session's id (a str)")
        other = self.call(store.create, "grace", on="create('grace')")
        if other == sid or len(sid) < 16:
            raise Failure(
                f"{on}: returned the id {sid!r} (and {other!r} for the next one): an id must be long and random "
                "(16+ characters from secrets.token_urlsafe), or anyone can guess another user's session"
            )
        key = self._key_of(node, sid, on)
        ttl_ms = node.client().pttl(key)
        if not (self.ttl - 5) * 1000 < ttl_ms <= self.ttl * 1000:
            shown = "no TTL" if ttl_ms == -1 else f"a TTL of {ttl_ms} ms"
            raise Failure(
                f"{on} with ttl={self.ttl}: the session is stored with {shown}; it must expire {self.ttl} s after "
                "its last use (px takes milliseconds, ex seconds)"
            )
        got = self.call(store.get, sid, on=f"get({sid!r}) right after {on}")
        if got != {"user": "ada"}:
            raise Failure(f"get(...) right after {on} returned {describe(got)}; expected {{'user': 'ada'}}")
        return sid

    def _shared(self, other_server, sid) -> None:
        on = f"get({sid!r}) on another web server's SessionStore (same Redis, its own client)"
        got = self.call(other_server.get, sid, on=on)
        if got != {"user": "ada"}:
            raise Failure(
                f"{on}: returned {describe(got)}. A session kept in one server's memory is lost when that "
                "server dies or the balancer sends the user elsewhere: keep it in Redis only"
            )

    def _sliding(self, store, node, sid) -> None:
        client = node.client()
        key = self._key_of(node, sid, "the session")
        for what, call in (
            (f"get({sid!r})", lambda: store.get(sid)),
            (f"update({sid!r}, ...)", lambda: store.update(sid, lambda d: {**d, "seen": True})),
        ):
            client.pexpire(key, 500)  # as if the session had been idle for ttl - 0.5 s
            self.call(call, on=f"{what} with half a second of its TTL left")
            left = client.pttl(key)
            if left <= 1000:
                raise Failure(
                    f"{what} with half a second of the session's TTL left: afterwards {left} ms remained. Using a "
                    f"session must start its TTL ({self.ttl} s) again, or active users get logged out"
                )

    def _ended(self, store_class, node) -> None:
        store = self._new(store_class, node)
        sid = self.call(store.create, "linus", on="create('linus')")
        self.call(store.delete, sid, on=f"delete({sid!r})")
        got = self.call(store.get, sid, on=f"get({sid!r}) after delete({sid!r})")
        if got is not None:
            raise Failure(f"get({sid!r}) after delete({sid!r}) returned {describe(got)}; the session has ended: None")
        sid = self.call(store.create, "barbara", on="create('barbara')")
        node.client().delete(self._key_of(node, sid, "create('barbara')"))  # what Redis does when the TTL runs out
        on = f"update({sid!r}, ...) after the session expired"
        got = self.call(store.update, sid, lambda d: {**d, "cart": ["book"]}, on=on)
        if got is not None or [k for k in node.client().keys("*") if sid in k]:
            raise Failure(
                f"{on}: returned {describe(got)} and left the session stored. An expired session must stay "
                "expired: answer None and write nothing"
            )
        if self.call(store.get, "no-such-session", on="get('no-such-session')") is not None:
            raise Failure("get('no-such-session') returned something; a session that never existed is None")

    def _interleaved_updates(self, store_class, node) -> None:
        for delay in (0, 3, 6, 9):
            a, b = self._new(store_class, node), self._new(store_class, node)
            sid = self.call(a.create, "ken", on="create('ken')")
            on = f"update({sid!r}, add 'pen') and update({sid!r}, add 'ink') at the same moment on two servers"
            self.interleaved(_adding(a, sid, "pen"), _adding(b, sid, "ink"), on, delay)
            cart = (self.call(a.get, sid, on=f"get({sid!r}) after {on}") or {}).get("cart", [])
            if sorted(cart) != ["ink", "pen"]:
                raise Failure(
                    f"{on}: the cart ended as {cart}. Both read the session, both wrote it back, and the second "
                    "write erased the first one's item; make the read-change-write atomic (WATCH/MULTI/EXEC)"
                )

    def _stress(self, store_class, node) -> None:
        s = self.stress
        stores = [self._new(store_class, node) for _ in range(s["threads"])]
        sid = self.call(stores[0].create, "radia", on="create('radia')")
        on = f"{s['threads']} threads each adding {s['updates']} items to one session"

        def run():
            errors = []

            def add(store, t):
                try:
                    for i in range(s["updates"]):
                        store.update(sid, lambda d, item=f"{t}-{i}": {**d, "cart": [*d.get("cart", []), item]})
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=add, args=(st, t), daemon=True) for t, st in enumerate(stores)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            if errors:
                raise errors[0]
            return stores[0].get(sid)

        data = self.call(run, on=on, within=30)
        cart = (data or {}).get("cart", [])
        expected = s["threads"] * s["updates"]
        if len(cart) != expected or len(set(cart)) != expected:
            raise Failure(f"{on}: the cart holds {len(set(cart))} distinct items of {expected}: updates were lost")


def _adding(store, sid: str, item: str):
    """A call of ``store.update`` that adds ``item`` to the session's cart."""
    return lambda: store.update(sid, lambda d: {**d, "cart": [*d.get("cart", []), item]})
