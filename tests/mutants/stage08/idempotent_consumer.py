"""Wrong answers to 08.idempotent_consumer: consumers as they are first written."""

from minicluster.workbook import load

_Solution = load("08.idempotent_consumer", tree="solutions")
MAX_DELIVERIES = 3
_SEEN_IN_THIS_PROCESS = set()


class _Checked(_Solution):
    """Dead-lettering and validation as the solution does them; the counting is each mutant's own."""

    def handle(self, message):
        if message.deliveries > MAX_DELIVERIES:
            self.queue.dead_letter(message, "too many deliveries")
            return
        size = message.payload.get("bytes")
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"bad size {size!r}")
        self.count(message, message.payload)

    def count(self, message, p):
        raise NotImplementedError


class NotIdempotent(_Checked):
    """Counts every delivery."""

    def count(self, message, p):
        self.redis.hincrby("storage", p["user"], p["bytes"])
        self.queue.ack(message)


class AckBeforeTheEffect(NotIdempotent):
    """Acknowledges first, then counts: a crash in between loses the job."""

    def count(self, message, p):
        self.queue.ack(message)
        done = f"done:{p['job']}"
        if self.redis.set(done, 1, nx=True):
            self.redis.hincrby("storage", p["user"], p["bytes"])


class DedupeInMemory(NotIdempotent):
    """Remembers the jobs done in the worker's memory: a redelivery to another worker counts again."""

    def __init__(self, queue, redis):
        super().__init__(queue, redis)
        self.done = set()

    def count(self, message, p):
        if p["job"] not in self.done:
            self.redis.hincrby("storage", p["user"], p["bytes"])
            self.done.add(p["job"])
        self.queue.ack(message)


class DedupeInModuleMemory(NotIdempotent):
    """The same, in a module-level set: still the process's memory."""

    def count(self, message, p):
        if p["job"] not in _SEEN_IN_THIS_PROCESS:
            self.redis.hincrby("storage", p["user"], p["bytes"])
            _SEEN_IN_THIS_PROCESS.add(p["job"])
        self.queue.ack(message)


class KeyWrittenAfterTheEffect(NotIdempotent):
    """Checks and writes the done key in Redis, but in two steps around the effect."""

    def count(self, message, p):
        done = f"done:{p['job']}"
        if not self.redis.exists(done):
            self.redis.hincrby("storage", p["user"], p["bytes"])
            self.redis.set(done, 1)
        self.queue.ack(message)


class KeyWrittenBeforeTheEffect(NotIdempotent):
    """Claims the job with SET NX, then counts: a crash in between marks it done, uncounted."""

    def count(self, message, p):
        if self.redis.set(f"done:{p['job']}", 1, nx=True):
            self.redis.hincrby("storage", p["user"], p["bytes"])
        self.queue.ack(message)


class NoRetryLimit(_Solution):
    """Never gives up on a message: a broken one comes back forever."""

    def handle(self, message):
        size = message.payload.get("bytes")
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"bad size {size!r}")
        done = f"done:{message.payload['job']}"
        with self.redis.pipeline() as pipe:
            pipe.watch(done)
            if not pipe.exists(done):
                pipe.multi()
                pipe.hincrby("storage", message.payload["user"], size)
                pipe.set(done, 1)
                pipe.execute()
            else:
                pipe.unwatch()
        self.queue.ack(message)


class NeverAcks(_Solution):
    """Counts exactly once and forgets to acknowledge: every job comes back until it is dead-lettered."""

    def handle(self, message):
        original = self.queue

        class NoAck:
            def __getattr__(self, name):
                return getattr(original, name)

            def ack(self, message):
                pass

        self.queue = NoAck()
        try:
            super().handle(message)
        finally:
            self.queue = original


MUTANTS = {
    cls.__name__: cls
    for cls in (
        NotIdempotent,
        AckBeforeTheEffect,
        DedupeInMemory,
        DedupeInModuleMemory,
        KeyWrittenAfterTheEffect,
        KeyWrittenBeforeTheEffect,
        NoRetryLimit,
        NeverAcks,
    )
}
