"""Exercise 09.percentiles: a latency histogram that many servers can merge, accurate to 1%.

A dashboard shows the p99 latency of a whole tier of servers. Each server cannot keep every latency it
has ever measured (millions a minute), and the tier's p99 cannot be computed from the servers' p99s
(their average is not the p99 of anything). What works is a **histogram**: each server counts its
latencies into buckets, the buckets of all servers are added up, and the p99 is read off the sum.

For the answer to be accurate to ``accuracy`` (1% by default) *relative* to the value — 1% of 2 ms
and 1% of 2 s alike — the buckets grow geometrically: with ``gamma = (1 + accuracy) / (1 - accuracy)``,
bucket ``i`` holds the values ``v`` with ``gamma**(i - 1) < v <= gamma**i``, so ``i = ceil(log(v) /
log(gamma))``. Reported as ``2 * gamma**i / (gamma + 1)``, any value of the bucket is within
``accuracy`` of it. (This is DDSketch, the sketch behind Datadog's percentiles.) Zero has no logarithm:
count zeros apart.

Percentiles use the **nearest rank**: the ``p``-th percentile of ``n`` values is the ``k``-th smallest,
``k = ceil(p / 100 * n)`` (at least 1).
"""

import math


class LatencyHistogram:
    """Counts of values (seconds, >= 0) in geometric buckets; percentiles within ``accuracy``."""

    def __init__(self, accuracy=0.01):
        """An empty histogram. ``accuracy`` is a float strictly between 0 and 1 (raise ValueError
        otherwise). Keep the bucket counts in ``self.counts`` (bucket index -> count)."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 09.percentiles
        raise NotImplementedError

    def record(self, value):
        """Count one value (an int or float >= 0; raise ValueError otherwise) in its bucket."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 09.percentiles
        raise NotImplementedError

    def percentile(self, p):
        """The ``p``-th percentile (0 <= p <= 100, else ValueError) of the values counted, within
        ``accuracy``; ValueError if nothing was counted."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 09.percentiles
        raise NotImplementedError

    def merge(self, other):
        """A new histogram counting the values of both (same accuracy, else ValueError); both unchanged."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 09.percentiles
        raise NotImplementedError
