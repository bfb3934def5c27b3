"""Wrong answers to 06.session_store: session stores as they are first written."""

import itertools
import json

from minicluster.workbook import load

_Solution = load("06.session_store", tree="solutions")


class RefreshedOnReadOnly(_Solution):
    """Renews the TTL on get, forgets it on update (SET ... KEEPTTL)."""

    def update(self, sid, change):
        key = self._key(sid)
        left = self.client.pttl(key)
        new = super().update(sid, change)
        if new is not None and left > 0:
            self.client.pexpire(key, left)
        return new


class TTLNeverRefreshed(RefreshedOnReadOnly):
    """Sets the TTL at login only: an active user is logged out ttl seconds after logging in."""

    def get(self, sid):
        raw = self.client.get(self._key(sid))
        return None if raw is None else json.loads(raw)


class ReadModifyWrite(_Solution):
    """get, change, set: two updates at once, and one is lost."""

    def update(self, sid, change):
        raw = self.client.get(self._key(sid))
        if raw is None:
            return None
        new = change(json.loads(raw))
        self.client.set(self._key(sid), json.dumps(new), px=round(self.ttl * 1000))
        return new


class KeptInTheServersMemory(_Solution):
    """A dict in the web server: fast, and gone with it (and invisible to every other server)."""

    def __init__(self, client, ttl=1800):
        super().__init__(client, ttl)
        self.memory = {}

    def create(self, user):
        sid = super().create(user)
        self.client.delete(self._key(sid))
        self.memory[sid] = {"user": user}
        return sid

    def get(self, sid):
        return self.memory.get(sid)

    def update(self, sid, change):
        if sid not in self.memory:
            return None
        self.memory[sid] = change(self.memory[sid])
        return self.memory[sid]

    def delete(self, sid):
        self.memory.pop(sid, None)


class UpdateRecreatesAnExpiredSession(ReadModifyWrite):
    """Treats a missing session as empty and writes it back: logged-out users come back to life."""

    def update(self, sid, change):
        raw = self.client.get(self._key(sid))
        new = change(json.loads(raw) if raw is not None else {})
        self.client.set(self._key(sid), json.dumps(new), px=round(self.ttl * 1000))
        return new


class NoTTL(_Solution):
    def create(self, user):
        sid = super().create(user)
        self.client.persist(self._key(sid))
        return sid


class SequentialIds(_Solution):
    """Session ids 1, 2, 3...: anyone can try the next one."""

    _ids = itertools.count(1)

    def create(self, user):
        sid = str(next(self._ids))
        self.client.set(self._key(sid), json.dumps({"user": user}), px=round(self.ttl * 1000))
        return sid


class DeleteDoesNothing(_Solution):
    def delete(self, sid):
        pass


class TTLInSecondsAsMilliseconds(_Solution):
    """Passes the TTL in seconds where Redis expects milliseconds: sessions last 1/1000 as long."""

    def create(self, user):
        sid = super().create(user)
        self.client.pexpire(self._key(sid), self.ttl)
        return sid


MUTANTS = {
    cls.__name__: cls
    for cls in (
        TTLNeverRefreshed,
        RefreshedOnReadOnly,
        ReadModifyWrite,
        KeptInTheServersMemory,
        UpdateRecreatesAnExpiredSession,
        NoTTL,
        SequentialIds,
        DeleteDoesNothing,
        TTLInSecondsAsMilliseconds,
    )
}
