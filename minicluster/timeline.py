"""The timeline: one log of everything that happens to the cluster, in the order it happened.

Think of a flight recorder. The nemesis writes what it breaks and heals (``fault`` and ``heal``
events); the system writes how it reacts (``reaction``: a balancer ejecting or re-admitting a
server, a replica being promoted, a region evacuated); operators and scripts write what they change
(``change``: a server added or removed). A plot marks these moments on the load it disturbed, and a
test waits for one of them instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .clock import Clock, RealClock
from .errors import ConfigError

#: The kinds of event, and what writes them.
KINDS = {
    "fault": "the nemesis broke something",
    "heal": "the nemesis undid a fault",
    "reaction": "the system reacted on its own (ejection, promotion, failover)",
    "change": "someone changed the topology (a server added or removed)",
}


@dataclass(frozen=True)
class Event:
    """One thing that happened. ``at`` is a clock reading: subtract a run's ``started_at`` to place it."""

    at: float
    kind: str  #: one of :data:`KINDS`
    action: str  #: "crash", "recover", "partition", "eject", "add", ...
    target: str  #: the node (or "a<->b" for a link) it happened to
    source: str  #: who wrote it: "nemesis", a balancer's name, ...
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.action} {self.target}{extra}"


class Timeline:
    """A thread-safe, append-only list of :class:`Event`, with a way to wait for one."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self._events: list[Event] = []
        self._changed = threading.Condition()

    def record(self, kind: str, action: str, target: str, *, source: str, detail: str = "") -> Event:
        if kind not in KINDS:
            raise ConfigError(f"an event's kind is one of {', '.join(KINDS)}, got {kind!r}")
        event = Event(self.clock.now(), kind, action, target, source, detail)
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()
        return event

    def events(self, *, since: float | None = None, kind: str | None = None, source: str | None = None) -> list[Event]:
        """The events so far, optionally only those at or after ``since`` / of one ``kind`` / ``source``."""
        with self._changed:
            events = list(self._events)
        return [
            e
            for e in events
            if (since is None or e.at >= since)
            and (kind is None or e.kind == kind)
            and (source is None or e.source == source)
        ]

    def wait_for(self, action: str, target: str, timeout: float) -> Event | None:
        """Block until an ``action`` event for ``target`` is logged; ``None`` after ``timeout`` seconds."""
        return self.wait_until(lambda e: e.action == action and e.target == target, timeout)

    def wait_until(self, predicate: Callable[[Event], bool], timeout: float) -> Event | None:
        def found() -> Event | None:
            return next((e for e in self._events if predicate(e)), None)

        with self._changed:
            self._changed.wait_for(found, timeout)
            return found()

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def __len__(self) -> int:
        with self._changed:
            return len(self._events)
