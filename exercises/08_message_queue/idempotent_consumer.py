"""Exercise 08.idempotent_consumer: exactly-once effects over at-least-once delivery.

A queue delivers every message at least once: a worker that dies after doing the work but before
acknowledging it (a crash, a deploy, a timeout) gets its message delivered again, to another worker.
The work must therefore be **idempotent**: doing it twice must have the effect of doing it once.

The job here: a user uploaded a photo; add its size to the user's storage total, kept in the Redis hash
``storage`` (``HINCRBY storage <user> <bytes>``). Counting a photo twice bills the user twice.

Workers are separate processes: anything a worker remembers in memory is gone when it dies, and the
next delivery may go to another worker. What survives is what is in Redis.

``queue`` is a :class:`minicluster.queue.StreamQueue` (``ack(message)``, ``dead_letter(message,
reason)``); ``message`` has ``.id``, ``.payload`` (``{"job": ..., "user": ..., "bytes": ...}``) and
``.deliveries`` (1 the first time). ``redis`` is a redis-py client.
"""

import redis as redis_py

#: A message delivered more times than this is given up on: moved to the dead-letter queue.
MAX_DELIVERIES = 3


class PhotoConsumer:
    """Counts each uploaded photo into its user's storage exactly once."""

    def __init__(self, queue, redis):
        """Keep the ``queue`` and the ``redis`` client (one consumer per worker process)."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 08.idempotent_consumer
        raise NotImplementedError

    def handle(self, message):
        """Process one delivery of ``message``.

        - Delivered more than ``MAX_DELIVERIES`` times: dead-letter it (``queue.dead_letter``) and stop.
        - A payload whose ``bytes`` is not an int >= 0: raise ``ValueError`` (the delivery fails and the
          message comes back, until it is dead-lettered).
        - Otherwise add ``bytes`` to ``storage[user]`` unless job ``job`` was counted already, and record
          that it was (a key such as ``done:<job>``) **in the same transaction** as the addition: a crash
          between two separate writes would count it twice, or never.
        - Then acknowledge the message (``queue.ack``), never before the work is done.
        """
        # TODO: write this (the docstring says what it must do), then run: minicluster check 08.idempotent_consumer
        raise NotImplementedError
