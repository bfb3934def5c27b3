"""Clocks: where the mini-cluster reads the time and waits.

Every component takes a ``clock`` so that tests can drive time by hand instead of sleeping.
:class:`RealClock` is the wall clock; :class:`ManualClock` only moves when told to, and its
``sleep`` returns at once after moving time forward, which makes timing-dependent code exact and
fast under test. Do not use a :class:`ManualClock` for load experiments: real threads need real time
to overlap.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` or until ``event`` is set, whichever comes first; return whether it is set."""


class RealClock:
    """The machine's monotonic clock and ``time.sleep``."""

    def now(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class ManualClock:
    """A clock that moves only by :meth:`advance` or :meth:`sleep` (which advances instead of waiting)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards: advance({seconds!r})")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Time jumps ``seconds`` ahead unless ``event`` is already set (nothing else can set it meanwhile)."""
        if not event.is_set():
            self.sleep(seconds)
        return event.is_set()
