"""Exercise 06.session_store: the shared session store that makes web servers stateless.

Every web server keeps its sessions here, in Redis, so that any server can serve any user and a
server can die without logging anyone out. A session is a small dict (who the user is, the cart...)
stored as JSON under ``session:<id>``. It expires after ``ttl`` seconds **without use**: every read
and every update starts its TTL again (sliding expiry), so an active user stays logged in and an
abandoned session goes away on its own.

Two requests of one user can reach two servers at once (two browser tabs): each reads the session,
changes it and writes it back. Done naively, the second write erases the first one's change. Make an
update atomic: Redis ``WATCH`` / ``MULTI`` / ``EXEC`` (retry when the watched key changed underneath),
or a Lua script.

``client`` is a redis-py client (``get``, ``set(..., px=...)``, ``pexpire``, ``delete``, ``pipeline()``...).
"""

import json
import secrets

import redis


class SessionStore:
    """Sessions in Redis with a sliding TTL and atomic updates."""

    def __init__(self, client, ttl=1800):
        """Keep the redis-py ``client`` and ``ttl``, the seconds a session lives without use."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 06.session_store
        raise NotImplementedError

    def create(self, user):
        """Start a session for ``user``: store ``{"user": user}`` under a new id that nobody can guess
        (``secrets.token_urlsafe``, 16 characters or more), with the TTL; return the id."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 06.session_store
        raise NotImplementedError

    def get(self, sid):
        """The session's dict, or ``None`` if there is none (never created, expired or deleted). Reading
        a session is using it: its TTL starts again."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 06.session_store
        raise NotImplementedError

    def update(self, sid, change):
        """Replace the session's dict by ``change(dict)`` and return the new dict, atomically: two
        updates at the same moment both take effect. The TTL starts again. ``None`` (and nothing
        stored) if there is no such session."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 06.session_store
        raise NotImplementedError

    def delete(self, sid):
        """End the session (log out)."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 06.session_store
        raise NotImplementedError
