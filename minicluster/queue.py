"""A message queue on Redis Streams: at-least-once delivery, acknowledgements, a visibility timeout,
retries, a dead-letter queue, and a bound that pushes back on producers.

Think of a kitchen's order rail. Waiters (producers) clip orders to the rail and go back to their
tables; cooks (consumers) take an order, cook it and then spike the ticket (the **ack**). A cook who
collapses mid-dish never spikes the ticket: after a while (the **visibility timeout**) another cook
takes the same order again, so every order is cooked **at least once** and some twice. An order that
makes every cook ill (a **poison message**) goes to a separate board after a few tries (the
**dead-letter queue**). And when the rail is full, waiters must wait or turn guests away
(**back-pressure**), or the kitchen drowns.

The queue is a Redis stream with a consumer group, through any redis-py client: the same code runs
on fakeredis and on a real Redis by URL. A message is deleted from the stream when acknowledged, so
the stream's length is the queue's depth (waiting + in progress).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .clock import Clock, RealClock
from .errors import ConfigError, MiniclusterError, check_positive
from .nodes import Node


class QueueFull(MiniclusterError, RuntimeError):
    """The queue holds ``max_length`` messages: the producer is refused (back-pressure)."""


class WorkerCrash(BaseException):
    """Raised inside a worker to make it die on the spot (a crashed process): whatever it held is left
    unacknowledged. A ``BaseException``, so that a handler's ``except Exception`` does not swallow it."""


@dataclass(frozen=True)
class Message:
    """One delivery of a message: its id in the stream, its payload, and how many times it has been
    delivered (1 the first time; more after a consumer failed to acknowledge it in time)."""

    id: str
    payload: dict
    deliveries: int = 1


class StreamQueue:
    """A Redis stream ``name`` with the consumer group ``group``.

    ``visibility_timeout``: seconds a delivered message may stay unacknowledged before another consumer
    may take it. ``max_deliveries``: after that many deliveries a message is moved to the dead-letter
    stream ``<name>:dead`` instead of being delivered again (``None``: the consumer decides, see
    :meth:`dead_letter`). ``max_length``: the most messages the queue holds (``None``: no bound).
    """

    def __init__(
        self,
        client,
        name: str = "jobs",
        *,
        group: str = "workers",
        visibility_timeout: float = 1.0,
        max_deliveries: int | None = 3,
        max_length: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        check_positive("visibility_timeout", visibility_timeout)
        if max_deliveries is not None:
            check_positive("max_deliveries", max_deliveries, integer=True)
        if max_length is not None:
            check_positive("max_length", max_length, integer=True)
        self.client, self.name, self.group = client, name, group
        self.visibility_timeout, self.max_deliveries, self.max_length = visibility_timeout, max_deliveries, max_length
        self.clock: Clock = clock or RealClock()
        self.refused = 0
        self._lock = threading.Lock()
        try:
            client.xgroup_create(name, group, id="0", mkstream=True)
        except Exception as exc:  # the group exists already (another producer or worker made it)
            if "BUSYGROUP" not in str(exc):
                raise

    @property
    def dead_name(self) -> str:
        return f"{self.name}:dead"

    # -- producers --------------------------------------------------------------------------------
    def put(self, payload: dict, *, timeout: float = 0.0) -> str:
        """Add a message; returns its id. When the queue is full, wait up to ``timeout`` seconds for room,
        then raise :class:`QueueFull`."""
        if not isinstance(payload, dict):
            raise ConfigError(f"a message's payload is a dict, got {payload!r}")
        if self.max_length is not None:
            deadline = self.clock.now() + timeout
            while self.depth() >= self.max_length:
                if self.clock.now() >= deadline:
                    with self._lock:
                        self.refused += 1
                    raise QueueFull(f"queue {self.name!r} holds {self.max_length} messages: try again later")
                self.clock.sleep(0.005)  # a producer backing off while the consumers make room
        return self.client.xadd(self.name, {"payload": json.dumps(payload)})

    def depth(self) -> int:
        """Messages in the queue: waiting, or delivered and not yet acknowledged."""
        return self.client.xlen(self.name)

    # -- consumers --------------------------------------------------------------------------------
    def get(self, consumer: str, *, count: int = 1, block: float = 0.05) -> list[Message]:
        """Up to ``count`` messages for ``consumer``: first any whose visibility timeout has passed
        (redeliveries), else new ones, waiting up to ``block`` seconds for one."""
        messages = self._reclaim(consumer, count)
        if messages:
            return messages
        answer = self.client.xreadgroup(
            self.group, consumer, {self.name: ">"}, count=count, block=max(1, round(block * 1000))
        )
        return [Message(mid, json.loads(fields["payload"])) for _, entries in answer or [] for mid, fields in entries]

    def _reclaim(self, consumer: str, count: int) -> list[Message]:
        idle_ms = round(self.visibility_timeout * 1000)
        _, claimed, *_ = self.client.xautoclaim(self.name, self.group, consumer, idle_ms, "0-0", count=count)
        messages = []
        for mid, fields in claimed:
            if fields is None:  # deleted while pending
                continue
            pending = self.client.xpending_range(self.name, self.group, min=mid, max=mid, count=1)
            deliveries = pending[0]["times_delivered"] if pending else 1
            message = Message(mid, json.loads(fields["payload"]), deliveries)
            if self.max_deliveries is not None and deliveries > self.max_deliveries:
                self.dead_letter(message, f"delivered {deliveries - 1} times without an acknowledgement")
                continue
            messages.append(message)
        return messages

    def ack(self, message: Message) -> None:
        """Done: the message leaves the queue for good."""
        self.client.xack(self.name, self.group, message.id)
        self.client.xdel(self.name, message.id)

    def dead_letter(self, message: Message, reason: str) -> None:
        """Move ``message`` to the dead-letter stream (for a human to look at) and out of the queue."""
        self.client.xadd(self.dead_name, {"payload": json.dumps(message.payload), "reason": reason})
        self.ack(message)

    def dead_letters(self) -> list[dict]:
        """The payloads in the dead-letter stream, oldest first."""
        return [json.loads(fields["payload"]) for _, fields in self.client.xrange(self.dead_name)]


class WorkerNode(Node):
    """A pool of workers as the live diagram draws it: one node on a host of its own (its threads take
    what the queue hands out)."""

    kind = "web"

    def __init__(self, name: str, *, host: str, workers: int) -> None:
        super().__init__(name, host=host)
        self.workers = workers


class WorkerPool:
    """``workers`` threads, each a consumer taking messages from ``queue`` and calling ``handle(message)``.

    A handler that returns acknowledges the message (unless ``ack=False``: then the handler acks itself).
    One that raises an ``Exception`` leaves it unacknowledged (it comes back after the visibility
    timeout). One that raises :class:`WorkerCrash` kills its worker, which is replaced by a new one (a
    restarted process, under a new consumer name). :meth:`resize` changes the number of workers.
    """

    def __init__(self, queue: StreamQueue, handle: Callable[[Message], object], *, workers: int = 2,
                 ack: bool = True, name: str = "worker") -> None:  # fmt: skip
        check_positive("workers", workers, integer=True)
        self.queue, self.handle, self.ack, self.name = queue, handle, ack, name
        self.processed = 0
        self.failures = 0
        self.crashes = 0
        self._lock = threading.Lock()
        self._threads: dict[int, tuple[threading.Thread, threading.Event]] = {}
        self._next = 0
        self.resize(workers)

    @property
    def size(self) -> int:
        return len(self._threads)

    def resize(self, workers: int) -> None:
        """Start or stop workers until there are ``workers`` (a stopped one finishes its message first)."""
        check_positive("workers", workers, integer=True)
        with self._lock:
            while len(self._threads) < workers:
                self._start()
            while len(self._threads) > workers:
                _, (_, stop) = self._threads.popitem()
                stop.set()

    def _start(self) -> None:
        self._next += 1
        number, stop = self._next, threading.Event()
        thread = threading.Thread(target=self._work, args=(number, stop), name=f"{self.name}-{number}", daemon=True)
        self._threads[number] = (thread, stop)
        thread.start()

    def _work(self, number: int, stop: threading.Event) -> None:
        consumer = f"{self.name}-{number}"
        while not stop.is_set():
            for message in self.queue.get(consumer, block=0.02):
                try:
                    self.handle(message)
                except WorkerCrash:
                    with self._lock:
                        self.crashes += 1
                        if self._threads.pop(number, None) is not None and not stop.is_set():
                            self._start()  # the process manager restarts it, under a new name
                    return
                except Exception:
                    with self._lock:
                        self.failures += 1
                    continue
                if self.ack:
                    self.queue.ack(message)
                with self._lock:
                    self.processed += 1

    def stop(self) -> None:
        with self._lock:
            threads = list(self._threads.values())
            self._threads.clear()
        for _, stop in threads:
            stop.set()
        for thread, _ in threads:
            thread.join(5)


def apply_once(redis, done_key: str, effect: Callable[[object], object]) -> bool:
    """Apply ``effect(pipe)`` (Redis commands queued on a transaction) unless ``done_key`` exists, and set
    ``done_key`` in the same transaction: a job's effect happens once however often it is delivered.
    Returns whether it was applied now (False: it had been already)."""
    with redis.pipeline() as pipe:
        while True:
            try:
                pipe.watch(done_key)
                if pipe.exists(done_key):
                    return False
                pipe.multi()
                effect(pipe)
                pipe.set(done_key, 1)
                pipe.execute()
                return True
            except Exception as exc:  # another worker touched the key between WATCH and EXEC: try again
                if type(exc).__name__ != "WatchError":
                    raise
