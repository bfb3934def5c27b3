"""Faults: the nemesis that crashes, recovers and slows nodes, kept apart from the workloads.

A load test answers "how does the system behave under this traffic?"; a fault schedule answers
"...and when this breaks at that moment?". Keeping the two apart (as Jepsen and Maelstrom do) lets
any workload be replayed with any fault schedule. Every fault the nemesis applies is logged with the
clock reading, so a plot can mark the moment it happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .clock import Clock, RealClock
from .errors import ConfigError
from .nodes import Node


@dataclass(frozen=True)
class FaultEvent:
    at: float  #: clock reading when the fault was applied
    action: str  #: "crash", "recover", "slow" or "restore"
    node: str
    detail: str = ""


class Nemesis:
    """Applies faults to nodes and keeps a log of them."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self.events: list[FaultEvent] = []
        self._lock = threading.Lock()

    def _log(self, action: str, node: Node, detail: str = "") -> None:
        with self._lock:
            self.events.append(FaultEvent(self.clock.now(), action, node.name, detail))

    def crash(self, node: Node) -> None:
        """The node stops answering: requests to it raise :class:`~minicluster.errors.NodeDown`."""
        node.crash()
        self._log("crash", node)

    def recover(self, node: Node) -> None:
        node.recover()
        self._log("recover", node)

    def slow(self, node: Node, factor: float) -> None:
        """Everything the node does takes ``factor`` times longer."""
        node.slow(factor)
        self._log("slow", node, f"x{factor:g}")

    def restore(self, node: Node) -> None:
        """Back to normal speed."""
        node.slow(1.0)
        self._log("restore", node)

    @contextmanager
    def crashed(self, node: Node) -> Iterator[Node]:
        self.crash(node)
        try:
            yield node
        finally:
            self.recover(node)

    @contextmanager
    def slowed(self, node: Node, factor: float) -> Iterator[Node]:
        self.slow(node, factor)
        try:
            yield node
        finally:
            self.restore(node)

    def schedule(self, plan: Iterable[tuple[float, Callable[[], object]]]) -> Schedule:
        """Run ``(delay, action)`` pairs on a background thread, each ``delay`` seconds after the start.

        Example: ``nemesis.schedule([(0.5, lambda: nemesis.crash(web)), (1.5, lambda: nemesis.recover(web))])``.
        """
        steps = sorted(plan, key=lambda step: step[0])
        for delay, action in steps:
            if not (isinstance(delay, (int, float)) and delay >= 0) or not callable(action):
                raise ConfigError(f"a fault plan step is (delay >= 0, callable), got ({delay!r}, {action!r})")
        return Schedule(steps, self.clock)


class Schedule:
    """A running fault plan; :meth:`cancel` stops the steps not yet applied, :meth:`join` waits."""

    def __init__(self, steps: list[tuple[float, Callable[[], object]]], clock: Clock) -> None:
        self._steps = steps
        self._clock = clock
        self._cancelled = threading.Event()
        self.started_at = clock.now()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for delay, action in self._steps:
            wait = self.started_at + delay - self._clock.now()
            if isinstance(self._clock, RealClock):
                if self._cancelled.wait(max(0.0, wait)):
                    return
            else:
                self._clock.sleep(wait)
            if self._cancelled.is_set():
                return
            action()

    def cancel(self) -> None:
        self._cancelled.set()
        self._thread.join()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
