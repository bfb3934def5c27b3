"""Snowflake ids: globally unique, roughly time-ordered 64-bit integers made without coordination.

Layout (most significant bit first), as in Twitter's Snowflake::

    0 | 41 bits: milliseconds since EPOCH | 10 bits: node | 12 bits: sequence

Sorting ids sorts them by creation time (to the millisecond), which is why the capstone can break
ties between posts with the same ``created_at`` by ``post_id``. Each node makes up to 4,096 ids per
millisecond; 41 bits of milliseconds last about 69 years from the epoch.

Two things a real generator must survive, and this one does:

* **the sequence runs out** within one millisecond: the generator moves on to the next millisecond;
* **the clock goes backwards** (an NTP correction, a VM migration): ids must still grow, so the
  generator keeps using the last millisecond it issued until the clock catches up, and counts how
  often that happened. It never issues an id smaller than one it already issued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import ConfigError

#: 2020-01-01T00:00:00Z in milliseconds since the Unix epoch: the custom epoch of our ids.
EPOCH_MS = 1_577_836_800_000
TIMESTAMP_BITS, NODE_BITS, SEQUENCE_BITS = 41, 10, 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_TIMESTAMP = (1 << TIMESTAMP_BITS) - 1


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class SnowflakeParts:
    timestamp_ms: int  #: milliseconds since the Unix epoch
    node: int
    sequence: int

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)


def compose(timestamp_ms: int, node: int, sequence: int) -> int:
    """The id for a Unix-epoch millisecond, a node and a sequence number."""
    offset = timestamp_ms - EPOCH_MS
    if not 0 <= offset <= MAX_TIMESTAMP:
        raise ConfigError(f"timestamp {timestamp_ms} ms is outside the id's range (epoch {EPOCH_MS} ms + 41 bits)")
    if not 0 <= node <= MAX_NODE:
        raise ConfigError(f"node must be between 0 and {MAX_NODE}, got {node!r}")
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ConfigError(f"sequence must be between 0 and {MAX_SEQUENCE}, got {sequence!r}")
    return (offset << (NODE_BITS + SEQUENCE_BITS)) | (node << SEQUENCE_BITS) | sequence


def decompose(snowflake: int) -> SnowflakeParts:
    """The parts of an id (the inverse of :func:`compose`)."""
    if not isinstance(snowflake, int) or not 0 <= snowflake < (1 << 63):
        raise ConfigError(f"not a Snowflake id: {snowflake!r}")
    return SnowflakeParts(
        (snowflake >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS,
        (snowflake >> SEQUENCE_BITS) & MAX_NODE,
        snowflake & MAX_SEQUENCE,
    )


class SnowflakeGenerator:
    """Ids for one node; thread-safe. ``clock_ms`` returns Unix milliseconds (injectable for tests)."""

    def __init__(self, node: int, clock_ms: Callable[[], int] = _wall_ms) -> None:
        if not isinstance(node, int) or isinstance(node, bool) or not 0 <= node <= MAX_NODE:
            raise ConfigError(f"node must be an integer between 0 and {MAX_NODE}, got {node!r}")
        self.node = node
        self._clock_ms = clock_ms
        self._last_ms = -1
        self._sequence = 0
        #: How many ids were issued while the clock read earlier than an id already issued.
        self.clock_went_backwards = 0
        self._lock = threading.Lock()

    def next_id(self) -> int:
        """A new id for now, by the clock."""
        with self._lock:
            return self._issue(self._clock_ms(), from_clock=True)

    def id_at(self, timestamp_ms: int) -> int:
        """A new id for a given millisecond (to generate data sets in time order)."""
        with self._lock:
            return self._issue(timestamp_ms, from_clock=False)

    def _issue(self, now: int, *, from_clock: bool) -> int:
        if now < self._last_ms:
            # Never go back: keep issuing from the last millisecond until the clock catches up.
            self.clock_went_backwards += from_clock
            now = self._last_ms
        if now == self._last_ms:
            self._sequence += 1
            if self._sequence > MAX_SEQUENCE:
                # 4,096 ids in this millisecond already: borrow the next one.
                now += 1
                self._sequence = 0
        else:
            self._sequence = 0
        self._last_ms = now
        return compose(now, self.node, self._sequence)
