"""Alerts: rules that watch a metric and page someone when it goes wrong, and not when it wiggles.

Think of a smoke detector. One that goes off at the first wisp from the toaster is switched off by the
end of the week; one that waits too long is useless. A rule therefore fires only when the metric has
been above ``fire_above`` for ``for_samples`` readings in a row, and, once firing, resolves only when
it has been back below a lower ``clear_below`` for as long (**hysteresis**: a metric hovering around
one threshold would otherwise page, resolve and page again).

:func:`assess` judges a rule the way an on-call team would: over many seeded runs, those with an
injected fault must fire (and how soon), those with noise only must stay quiet.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import ConfigError, check_positive
from .load import derive_seed


@dataclass(frozen=True)
class ThresholdRule:
    """Fire after ``for_samples`` readings above ``fire_above``; resolve after as many below ``clear_below``."""

    fire_above: float
    clear_below: float
    for_samples: int = 3

    def __post_init__(self) -> None:
        check_positive("for_samples", self.for_samples, integer=True)
        if self.clear_below > self.fire_above:
            raise ConfigError(f"clear_below ({self.clear_below!r}) must not be above fire_above ({self.fire_above!r})")

    def evaluate(self, values: Sequence[float]) -> list[tuple[int, int | None]]:
        """The alerts over ``values`` (one reading per interval): ``(fired at, resolved at or None)``."""
        alerts: list[tuple[int, int | None]] = []
        firing, streak, since = False, 0, 0
        for i, value in enumerate(values):
            bad = value > self.fire_above if not firing else value >= self.clear_below
            streak = streak + 1 if bad != firing else 0
            if not firing and streak >= self.for_samples:
                firing, streak, since = True, 0, i
            elif firing and streak >= self.for_samples:
                alerts.append((since, i))
                firing, streak = False, 0
        if firing:
            alerts.append((since, None))
        return alerts


def error_rates(
    *, samples: int = 120, base: float = 0.01, requests: int = 200, fault_at: int | None = None,
    fault_rate: float = 0.2, seed: int = 0,
) -> list[float]:  # fmt: skip
    """A seeded error-rate series: each reading is the share of ``requests`` that failed, each failing with
    probability ``base`` (noise), or ``fault_rate`` from reading ``fault_at`` on (an injected fault)."""
    rng = random.Random(derive_seed(seed, "error rates"))
    series = []
    for i in range(samples):
        p = fault_rate if fault_at is not None and i >= fault_at else base
        series.append(sum(rng.random() < p for _ in range(requests)) / requests)
    return series


@dataclass(frozen=True)
class Assessment:
    runs: int
    detected: int
    false_alarms: int
    mean_time_to_detect: float

    def __str__(self) -> str:
        return (
            f"{self.detected} of {self.runs} faults detected, mean {self.mean_time_to_detect:.1f} readings after they "
            f"began; {self.false_alarms} false alarms in {self.runs} quiet runs"
        )


def assess(
    rule, *, runs: int = 50, fault_at: int = 60, series: Callable[..., list[float]] = error_rates, seed: int = 0
) -> Assessment:
    """Run ``rule`` (anything with ``evaluate(values)``) over ``runs`` seeded series with a fault starting at
    ``fault_at`` and ``runs`` without: detections (an alert at or after the fault), false alarms (any alert
    in a quiet run, or before the fault), and the mean readings from the fault to its detection."""
    check_positive("runs", runs, integer=True)
    detected, false_alarms, delays = 0, 0, []
    for i in range(runs):
        faulty = rule.evaluate(series(fault_at=fault_at, seed=derive_seed(seed, "fault", i)))
        early = [a for a in faulty if a[0] < fault_at]
        late = [a for a in faulty if a[0] >= fault_at]
        false_alarms += len(early)
        if late:
            detected += 1
            delays.append(late[0][0] - fault_at)
        false_alarms += len(rule.evaluate(series(seed=derive_seed(seed, "quiet", i))))
    mean = sum(delays) / len(delays) if delays else float("inf")
    return Assessment(runs, detected, false_alarms, mean)
