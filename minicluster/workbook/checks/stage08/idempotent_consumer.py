"""Checker of ``08.idempotent_consumer``: real workers on a Redis stream, crashed at every step of a job."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time

from ....cache import CacheNode
from ....queue import StreamQueue, WorkerCrash, WorkerPool
from ..base import Checker, Failure, describe

#: The write commands a consumer may use; the crash rules watch them.
_WRITES = {"hincrby", "incr", "incrby", "set", "setnx", "sadd", "hset", "hsetnx", "delete", "expire", "execute", "eval"}


class _Crashes:
    """Where workers die, each rule once: before the handler runs, on a job's HINCRBY, on the write right
    after it, when acknowledging, right after acknowledging."""

    def __init__(self, jobs: dict[str, int]) -> None:
        self.pending = dict(jobs)  # rule -> job number
        self.after_effect: int | None = None
        self.lock = threading.Lock()

    def take(self, rule: str, job) -> bool:
        with self.lock:
            if self.pending.get(rule) == job:
                del self.pending[rule]
                return True
            return False


class _Watched:
    """A redis-py client (or pipeline) whose write commands pass the crash rules first."""

    def __init__(self, target, crashes: _Crashes, sizes: dict[int, int]) -> None:
        self._target, self._crashes, self._sizes = target, crashes, sizes

    def __getattr__(self, name):
        attribute = getattr(self._target, name)
        if name == "pipeline":
            return lambda *a, **k: _Watched(attribute(*a, **k), self._crashes, self._sizes)
        if name not in _WRITES:
            return attribute

        def write(*args, **kwargs):
            c = self._crashes
            job = self._sizes.get(args[2]) if name == "hincrby" and len(args) > 2 else None
            with c.lock:
                pending_after = c.after_effect
                c.after_effect = None
            if pending_after is not None:
                raise WorkerCrash()  # the write right after the effect: the worker dies before it
            if job is not None and c.take("on the effect", job):
                raise WorkerCrash()
            result = attribute(*args, **kwargs)
            if job is not None and c.take("after the effect", job):
                with c.lock:
                    c.after_effect = job
            return result

        return write

    def __enter__(self):
        self._target.__enter__()
        return self

    def __exit__(self, *exc):
        return self._target.__exit__(*exc)


class _WatchedQueue:
    def __init__(self, queue: StreamQueue, crashes: _Crashes) -> None:
        self._queue, self._crashes = queue, crashes

    def ack(self, message):
        job = message.payload.get("job")
        if self._crashes.take("when acknowledging", job):
            raise WorkerCrash()
        self._queue.ack(message)
        if self._crashes.take("right after acknowledging", job):
            raise WorkerCrash()

    def __getattr__(self, name):
        return getattr(self._queue, name)


class IdempotentConsumerCheck(Checker):
    """Every job counted exactly once whatever step its worker dies at; the poison dead-lettered; drained."""

    exercise_id = "08.idempotent_consumer"
    jobs, users, poison = 40, 4, 31
    #: Which job's worker dies at which step.
    crash_rules = {
        "before the handler runs": 3,
        "on the effect": 11,
        "after the effect": 17,
        "when acknowledging": 23,
        "right after acknowledging": 29,
    }
    visibility_timeout, drain_within = 0.15, 5.0

    def verify(self, consumer_class) -> list[str]:
        if not callable(consumer_class):
            raise Failure(f"expected the class PhotoConsumer, got {describe(consumer_class)}")
        self.instance(consumer_class, None, None, on="PhotoConsumer(queue, redis)", methods=("handle",))
        on = f"{self.jobs} upload jobs through 3 workers, a worker dying at each step of a job"
        counted, expected, dead, depth, waited = self.call(self._run, consumer_class, on=on, within=30)
        if depth:
            raise Failure(
                f"{on}: after {waited:.0f} s the queue still held {depth} message(s). A message that fails every "
                "time must be given up on after MAX_DELIVERIES deliveries: dead-letter it"
            )
        wrong = {u: (counted.get(u, 0), n) for u, n in expected.items() if counted.get(u, 0) != n}
        if wrong:
            user, (got, want) = next(iter(wrong.items()))
            verdict = "more than once" if got > want else "never"
            raise Failure(
                f"{on}: {user}'s storage is {got} bytes where the photos add up to {want}: some job was counted "
                f"{verdict}. Workers died {', '.join(self.crash_rules)}; the job must be counted once whatever "
                "the step, and in whichever worker takes it next"
            )
        if [p.get("job") for p in dead] != [self.poison]:
            raise Failure(f"{on}: the dead-letter queue holds {describe(dead)}; expected the broken job {self.poison}")
        return [
            f"{self.jobs} jobs counted exactly once while workers died {', '.join(self.crash_rules)}",
            "the broken job was dead-lettered after MAX_DELIVERIES deliveries, and the queue drained",
        ]

    def _run(self, consumer_class):
        node = CacheNode("broker")
        raw = node.client()
        queue = StreamQueue(raw, "uploads", visibility_timeout=self.visibility_timeout, max_deliveries=None)
        sizes, expected = {}, {}
        for job in range(self.jobs):
            user, size = f"user{job % self.users}", 1000 + 7 * job
            payload = {"job": job, "user": user, "bytes": "huge" if job == self.poison else size}
            queue.put(payload)
            if job != self.poison:
                sizes[size] = job
                expected[user] = expected.get(user, 0) + size
        crashes = _Crashes({rule: job for rule, job in self.crash_rules.items() if rule != "before the handler runs"})
        before = self.crash_rules["before the handler runs"]
        local = threading.local()

        def handle(message):
            if not hasattr(local, "consumer"):  # a new worker process: a fresh class, nothing remembered
                local.consumer = _fresh(consumer_class)(_WatchedQueue(queue, crashes), _Watched(raw, crashes, sizes))
            if message.payload.get("job") == before and crashes.take("before", before):
                raise WorkerCrash()
            local.consumer.handle(message)

        crashes.pending["before"] = before
        pool = WorkerPool(queue, handle, workers=3, ack=False, name="checker")
        started = time.perf_counter()
        try:
            while queue.depth() and time.perf_counter() - started < self.drain_within:
                time.sleep(0.02)  # watching the queue drain (the workers run on their own)
        finally:
            pool.stop()
        counted = {u: int(v) for u, v in raw.hgetall("storage").items()}
        return counted, expected, queue.dead_letters(), queue.depth(), time.perf_counter() - started


def _fresh(cls):
    """``cls`` from a fresh import of its module (a restarted process forgets module and class state);
    ``cls`` itself when its module cannot be imported again (a notebook cell)."""
    module = sys.modules.get(cls.__module__)
    if module is None or getattr(module, "__file__", None) is None or cls.__module__ == "__main__":
        return cls
    spec = getattr(module, "__spec__", None)
    if spec is None or spec.loader is None:
        return cls
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return getattr(fresh, cls.__name__, cls)
