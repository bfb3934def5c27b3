"""Faults: the nemesis that breaks the cluster on purpose, kept apart from the workloads.

A load test answers "how does the system behave under this traffic?"; a fault schedule answers
"...and when this breaks at that moment?". Keeping the two apart (as Jepsen and Maelstrom do) lets
any workload be replayed with any fault schedule.

A fault is a small strategy with one method, ``inject()``, which breaks something and hands back how
to heal it (a function of no arguments). Like a circuit breaker that you trip and that gives you the
key to reset it. The faults side by side:

==================  ==========================================  ==============================================
fault               use it to show                              avoid it when
==================  ==========================================  ==============================================
:class:`Crash`      failover, ejection, a single point of       you mean "slow": a crashed node fails fast,
                    failure, a cache restarting empty           a slow one makes everyone wait
:class:`Slow`       tail latency, policies that route around    you need the node's state lost (use Crash)
                    a slow server, timeouts
:class:`Partition`  split brain, stale replicas, a region cut   the nodes share a host: a host talks to
                    off while every node stays up               itself without the network
:class:`Lag`        replication lag: stale reads, writes lost   you want the replica unreachable (Partition)
                    when a primary dies, slow sync writes       or gone (Crash)
==================  ==========================================  ==============================================

A plain function works too: ``def flush(): cache.clear(); return lambda: None`` is a fault. Later
stages add theirs here (region loss, cache flush, a consumer crashing mid-job, pool
exhaustion) without changing the :class:`Nemesis`: it only calls ``inject`` and the heal it got back,
and writes both on the cluster's :class:`~minicluster.timeline.Timeline`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from .clock import Clock, RealClock
from .errors import ConfigError, check_positive
from .nodes import Node
from .timeline import Timeline

Heal = Callable[[], object]


@runtime_checkable
class Fault(Protocol):
    """Something the nemesis can break: ``inject()`` breaks it and returns how to heal it."""

    def inject(self) -> Heal: ...


def _node(node: object, fault: str) -> Node:
    if not isinstance(node, Node):
        raise ConfigError(f"{fault} needs a node of the cluster (cluster.node(name) finds one), got {node!r}")
    return node


class Crash:
    """The node stops answering: requests to it raise :class:`~minicluster.errors.NodeDown`.

    A crashed node loses what it held in memory (a cache comes back empty); a database keeps what it
    committed (DuckDB replays its write-ahead log).
    """

    action, heal_action = "crash", "recover"

    def __init__(self, node: Node) -> None:
        self.node = _node(node, "Crash")
        self.target = self.node.name

    def inject(self) -> Heal:
        self.node.crash()
        return self.node.recover


class Slow:
    """Everything the node does takes ``factor`` times longer (a noisy neighbour, a failing disk)."""

    action, heal_action = "slow", "restore"

    def __init__(self, node: Node, factor: float) -> None:
        self.node = _node(node, "Slow")
        check_positive("slowdown factor", factor)
        if factor < 1:
            raise ConfigError(f"a slowdown factor is >= 1 (1 means normal speed), got {factor!r}")
        self.factor = float(factor)
        self.target = self.node.name
        self.detail = f"x{factor:g}"

    def inject(self) -> Heal:
        before = self.node.slowdown
        self.node.slow(self.factor)
        return lambda: self.node.slow(before)


class Partition:
    """The network between two hosts is cut, both ways; each side stays up and believes the other died."""

    action, heal_action = "partition", "heal"

    def __init__(self, network, a: str, b: str) -> None:
        if not hasattr(network, "partition"):
            raise ConfigError(f"Partition needs the cluster's network, got {network!r}")
        for end in (a, b):
            if not isinstance(end, str) or not end:
                raise ConfigError(f"a partition is between two host names, got {end!r}")
        if a == b:
            raise ConfigError(f"a partition separates two different hosts, got {a!r} twice")
        self.network, self.a, self.b = network, a, b
        self.target = f"{a}<->{b}"

    def inject(self) -> Heal:
        self.network.partition(self.a, self.b)
        return lambda: self.network.heal(self.a, self.b)


class Lag:
    """A replica applies each change only ``seconds`` after its primary committed it (a busy replica,
    a long-running query holding back replay, a slow link): its reads are that far behind."""

    action, heal_action = "lag", "catch up"

    def __init__(self, replica, seconds: float) -> None:
        if not hasattr(replica, "lag") or not hasattr(replica, "upstream"):
            raise ConfigError(f"Lag needs a replication member (replica_set.replicas[i]), got {replica!r}")
        check_positive("lag seconds", seconds)
        self.replica = replica
        self.seconds = float(seconds)
        self.target = replica.name
        self.detail = f"{seconds * 1000:g} ms"

    def inject(self) -> Heal:
        before = self.replica.lag
        self.replica.lag = self.seconds

        def heal() -> None:
            self.replica.lag = before

        return heal


def _describe(fault: Fault | Callable[[], Heal]) -> tuple[str, str, str, str]:
    """(action, heal action, target, detail) of a fault, for the timeline."""
    name = getattr(fault, "__name__", type(fault).__name__.lower())
    return (
        getattr(fault, "action", name),
        getattr(fault, "heal_action", "heal"),
        getattr(fault, "target", ""),
        getattr(fault, "detail", ""),
    )


class Injected:
    """A fault in force; :meth:`heal` undoes it once (later calls do nothing)."""

    def __init__(self, nemesis: Nemesis, fault, heal: Heal) -> None:
        self.fault = fault
        self._nemesis = nemesis
        self._heal: Heal | None = heal

    @property
    def active(self) -> bool:
        return self._heal is not None

    def heal(self) -> None:
        heal, self._heal = self._heal, None
        if heal is not None:
            self._nemesis._forget(self)
            heal()
            _, action, target, _ = _describe(self.fault)
            self._nemesis.timeline.record("heal", action, target, source="nemesis")


class Nemesis:
    """Injects faults and heals them, writing both on the timeline."""

    def __init__(self, clock: Clock | None = None, timeline: Timeline | None = None, network=None) -> None:
        self.clock: Clock = clock or RealClock()
        self.timeline = timeline if timeline is not None else Timeline(self.clock)
        self.network = network
        self._active: dict[tuple[str, str], Injected] = {}
        self._lock = threading.Lock()

    @property
    def events(self):
        """What the nemesis did so far (faults and heals)."""
        return self.timeline.events(source="nemesis")

    def inject(self, fault: Fault | Callable[[], Heal]) -> Injected:
        """Break something now; returns the :class:`Injected` fault, whose ``heal()`` undoes it."""
        run = fault.inject if isinstance(fault, Fault) else fault
        if not callable(run):
            raise ConfigError(f"a fault has inject() or is a function returning its heal, got {fault!r}")
        heal = run()
        if not callable(heal):
            raise ConfigError(f"{fault!r} must return how to heal it (a function of no arguments), got {heal!r}")
        action, _, target, detail = _describe(fault)
        injected = Injected(self, fault, heal)
        with self._lock:
            self._active[(action, target)] = injected
        self.timeline.record("fault", action, target, source="nemesis", detail=detail)
        return injected

    def heal(self, action: str, target: str) -> None:
        """Heal the fault ``action`` (e.g. "crash") in force on ``target`` (a node or "a<->b")."""
        with self._lock:
            injected = self._active.get((action, target))
        if injected is None:
            raise ConfigError(f"no {action} in force on {target!r} to heal")
        injected.heal()

    def _forget(self, injected: Injected) -> None:
        action, _, target, _ = _describe(injected.fault)
        with self._lock:
            if self._active.get((action, target)) is injected:
                del self._active[(action, target)]

    # -- the common faults by name --------------------------------------------------------------
    def crash(self, node: Node) -> Injected:
        """Crash ``node`` now (a :class:`Crash` fault); :meth:`recover` heals it."""
        return self.inject(Crash(node))

    def recover(self, node: Node) -> None:
        self.heal("crash", _node(node, "recover").name)

    def slow(self, node: Node, factor: float) -> Injected:
        return self.inject(Slow(node, factor))

    def restore(self, node: Node) -> None:
        self.heal("slow", _node(node, "restore").name)

    def lag(self, replica, seconds: float) -> Injected:
        """Make a replication member apply changes ``seconds`` late (a :class:`Lag` fault)."""
        return self.inject(Lag(replica, seconds))

    def partition(self, a: str, b: str) -> Injected:
        """Cut the network between hosts ``a`` and ``b``."""
        return self.inject(Partition(self.network, a, b))

    def reconnect(self, a: str, b: str) -> None:
        """Heal the partition between hosts ``a`` and ``b`` (either order)."""
        either = (f"{a}<->{b}", f"{b}<->{a}")
        target = next((t for (action, t) in self._active if action == "partition" and t in either), either[0])
        self.heal("partition", target)

    @contextmanager
    def injected(self, fault: Fault | Callable[[], Heal]) -> Iterator[Injected]:
        """The fault in force for the ``with`` block, healed on the way out (also on an exception)."""
        injected = self.inject(fault)
        try:
            yield injected
        finally:
            injected.heal()

    def schedule(self, plan: Iterable[tuple]) -> Schedule:
        """Run a plan on a background thread, each step ``delay`` seconds after the start.

        A step is ``(delay, action)`` with ``action`` a function of no arguments,
        ``(delay, fault)`` to inject a fault, or ``(delay, duration, fault)`` to inject it and heal it
        ``duration`` seconds later. Example: ``nemesis.schedule([(0.5, 0.8, Crash(web))])``.
        """
        steps: list[tuple[float, Callable[[], object]]] = []
        for step in plan:
            if not isinstance(step, tuple) or len(step) not in (2, 3):
                raise ConfigError(f"a fault plan step is (delay, action) or (delay, duration, fault), got {step!r}")
            delay, what = step[0], step[-1]
            if not (isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay >= 0):
                raise ConfigError(f"a fault plan step starts at a delay >= 0 seconds, got {delay!r}")
            if len(step) == 3:
                duration = step[1]
                check_positive("fault duration", duration)
                steps.extend(self._timed(delay, duration, what))
            elif isinstance(what, Fault):
                steps.append((delay, lambda f=what: self.inject(f)))
            elif callable(what):
                steps.append((delay, what))
            else:
                raise ConfigError(f"a fault plan step runs a function or injects a fault, got {what!r}")
        return Schedule(sorted(steps, key=lambda s: s[0]), self.clock)

    def _timed(self, delay: float, duration: float, fault) -> list[tuple[float, Callable[[], object]]]:
        if not (isinstance(fault, Fault) or callable(fault)):
            raise ConfigError(f"(delay, duration, fault) needs a fault, got {fault!r}")
        held: list[Injected] = []
        return [(delay, lambda: held.append(self.inject(fault))), (delay + duration, lambda: held[0].heal())]


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
            if self._clock.wait(self._cancelled, max(0.0, wait)):
                return
            try:
                action()
            except BaseException as exc:  # handed to join(): a failed step must not vanish with its thread
                self.error = exc
                return

    #: What a step raised (the plan stops there); :meth:`join` raises it again.
    error: BaseException | None = None

    def cancel(self) -> None:
        self._cancelled.set()
        self._thread.join()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the plan to end; if a step raised, raise that here."""
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
