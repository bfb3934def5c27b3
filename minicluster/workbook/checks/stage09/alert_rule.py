"""Checker of ``09.alert_rule``: the rule's mechanics step by step, then its defaults judged as an on-call
team would, over seeded runs of readings: noise, blips and busy hours (no page), faults, some flapping
(one page each, soon, resolved soon after they end)."""

from __future__ import annotations

import bisect
import functools
import inspect
import random
from dataclasses import dataclass

from ..base import Checker, Failure, describe

#: Requests behind each reading (one reading per 10 s on a service of 100 requests/s).
REQUESTS = 1000
_ANSWERS = (None, "fire", "resolve")


@functools.cache
def _cdf(p: float) -> tuple[float, ...]:
    """The binomial distribution of failures among :data:`REQUESTS` requests, each failing with chance ``p``."""
    pmf, total, out = (1 - p) ** REQUESTS, 0.0, []
    for k in range(REQUESTS + 1):
        total += pmf
        out.append(total)
        if total >= 1 - 1e-12:
            break
        pmf *= (REQUESTS - k) / (k + 1) * p / (1 - p)
    return tuple(out)


def _reading(rng: random.Random, p: float) -> float:
    return min(bisect.bisect_left(_cdf(p), rng.random()), REQUESTS) / REQUESTS


@dataclass(frozen=True)
class Scenario:
    readings: tuple[float, ...]
    #: The first reading of the fault and the first reading after it (None in a quiet run).
    start: int | None = None
    end: int | None = None
    flapping: bool = False


def scenario(seed: int, *, faulty: bool, length: int = 160) -> Scenario:
    """One run: a base error rate near 1%, a busy hour near 2%, three blips of one or two readings up to
    15%, and (``faulty``) a fault of 8-30% from reading 60-80 for 30-50 readings, flapping in half the runs
    (down to about 4% for 4-6 readings, then up again)."""
    rng = random.Random(seed)
    base = round(rng.uniform(0.008, 0.012), 4)
    p = [base] * length
    busy = rng.randrange(5, 30)
    for i in range(busy, busy + rng.randrange(15, 25)):
        p[i] = round(rng.uniform(0.018, 0.022), 4)
    start = end = None
    flapping = False
    if faulty:
        start = rng.randrange(60, 81)
        end = start + rng.randrange(30, 51)
        level = round(rng.uniform(0.08, 0.3), 3)
        flapping = rng.random() < 0.5
        i, high = start, True
        while i < end:
            run = rng.randrange(6, 9) if i == start else (rng.randrange(3, 6) if high else rng.randrange(4, 7))
            for j in range(i, min(i + run, end)):
                p[j] = level if high or not flapping else round(rng.uniform(0.037, 0.043), 4)
            i, high = i + run, not high
    blips, last = 0, (start - 4 if faulty else length - 4)
    while blips < 3:
        at = rng.randrange(2, last)
        width = rng.randrange(1, 3)
        if all(p[j] < 0.05 and p[j - 1] < 0.05 for j in range(at, at + width + 1)):
            for j in range(at, at + width):
                p[j] = round(rng.uniform(0.10, 0.15), 3)
            blips += 1
    return Scenario(tuple(_reading(rng, x) for x in p), start, end, flapping)


def _percent(values) -> str:
    return "[" + ", ".join(f"{v:.1%}" for v in values) + "]"


class AlertRuleCheck(Checker):
    """Streaks, hysteresis and one answer per change; the defaults page on every fault, once, and never on noise."""

    exercise_id = "09.alert_rule"
    quiet_runs, faulty_runs, seed = 40, 40, 9
    #: Readings the team allows from a fault's start to the page, and from its end to the resolve.
    page_within = resolve_within = 5

    def verify(self, rule_class) -> list[str]:
        if not callable(rule_class):
            raise Failure(f"expected the class ErrorRateAlert, got {describe(rule_class)}")
        self._refusals(rule_class)
        self._steps(rule_class)
        defaults = self._defaults(rule_class)
        quiet = [scenario(self.seed * 1000 + i, faulty=False) for i in range(self.quiet_runs)]
        faulty = [scenario(self.seed * 1000 + 500 + i, faulty=True) for i in range(self.faulty_runs)]
        for i, run in enumerate(quiet):
            self._judge_quiet(rule_class, defaults, i, run)
        delays = [self._judge_fault(rule_class, defaults, i, run) for i, run in enumerate(faulty)]
        return [
            "refuses for_readings that is not an int >= 1, and clear_below above fire_above",
            "fires after for_readings readings in a row strictly above fire_above, resolves after as many strictly "
            "below clear_below, answers each change once, and a reading in between breaks a streak",
            f"with your defaults ({defaults}): no page in {self.quiet_runs} runs of noise, busy hours and blips",
            f"{self.faulty_runs} faults ({sum(r.flapping for r in faulty)} flapping) each paged once, "
            f"{max(delays)} readings after they began at worst, and resolved within {self.resolve_within} readings "
            "of their end",
        ]

    # -- the mechanics ----------------------------------------------------------------------------------
    def _refusals(self, rule_class) -> None:
        for args, why in (
            ((0.05, 0.03, 0), "for_readings 0"), ((0.05, 0.03, -2), "a negative for_readings"),
            ((0.05, 0.03, 2.5), "a fractional for_readings"), ((0.05, 0.03, True), "for_readings True"),
            ((0.05, 0.06, 3), "clear_below above fire_above"),
        ):  # fmt: skip
            self.expect_raises(
                ValueError, rule_class, *args, on=f"ErrorRateAlert{args!r}", instead=f"{why} is a mistake in the "
                "rule's configuration: raise ValueError naming it",
            )  # fmt: skip

    def _steps(self, rule_class) -> None:
        cases = (
            ((0.05, 0.03, 3),
             [0.10, 0.10, 0.01, 0.10, 0.10, 0.05, 0.10, 0.10, 0.10, 0.20, 0.04, 0.03, 0.01, 0.01, 0.01, 0.01, 0.06],
             [None, None, None, None, None, None, None, None, "fire", None, None, None, None, None, "resolve", None,
              None]),
            ((0.05, 0.05, 1), [0.06, 0.07, 0.05, 0.06, 0.01], ["fire", None, None, None, "resolve"]),
            ((0.05, 0.03, 2), [0.06, 0.06, 0.02, 0.04, 0.02, 0.02, 0.06, 0.06],
             [None, "fire", None, None, None, "resolve", None, "fire"]),
        )  # fmt: skip
        for args, readings, expected in cases:
            rule = self.instance(rule_class, *args, on=f"ErrorRateAlert{args!r}", methods=("observe",))
            for i, reading in enumerate(readings):
                on = f"ErrorRateAlert{args!r} given the readings {_percent(readings[: i + 1])}"
                got = self.call(rule.observe, reading, on=on)
                if got != expected[i] or got not in _ANSWERS:
                    why = _why(args, readings, expected, i)
                    raise Failure(f"{on}: the last one returned {describe(got)}, expected {expected[i]!r} ({why})")

    def _defaults(self, rule_class) -> str:
        try:
            parameters = inspect.signature(rule_class).parameters
        except (TypeError, ValueError):
            parameters = {}
        chosen = {name: p.default for name, p in parameters.items() if p.default is not inspect.Parameter.empty}
        if any(v is None for v in chosen.values()):
            raise Failure(
                "ErrorRateAlert() has no rule yet: choose FIRE_ABOVE, CLEAR_BELOW and FOR_READINGS at the top of "
                f"the file (now {', '.join(f'{k}={v!r}' for k, v in chosen.items())}); the docstring describes "
                "the readings they must tell apart"
            )
        self.instance(rule_class, on="ErrorRateAlert() with your defaults", methods=("observe",))
        return ", ".join(f"{k}={v!r}" for k, v in chosen.items()) or "its defaults"

    # -- the runs ---------------------------------------------------------------------------------------
    def _answers(self, rule_class, run: Scenario, what: str) -> list:
        def feed():
            rule = rule_class()
            return [rule.observe(r) for r in run.readings]

        answers = self.call(feed, on=what)
        bad = next((a for a in answers if a not in _ANSWERS), _ANSWERS)
        if bad is not _ANSWERS:
            raise Failure(f"{what}: observe returned {describe(bad)}; return 'fire', 'resolve' or None")
        return answers

    def _judge_quiet(self, rule_class, defaults, i, run: Scenario) -> None:
        what = f"run {i + 1} of {self.quiet_runs} with no fault, only noise, a busy hour and blips"
        answers = self._answers(rule_class, run, what)
        if "fire" in answers:
            at = answers.index("fire")
            raise Failure(
                f"{what}: with your defaults ({defaults}) the rule paged at reading {at} after the readings "
                f"{_percent(run.readings[max(0, at - 5) : at + 1])}. Nothing was wrong: that is a false alarm, and "
                "an on-call engineer woken for it learns to ignore the pager"
            )

    def _judge_fault(self, rule_class, defaults, i, run: Scenario) -> int:
        kind = "a flapping fault" if run.flapping else "a fault"
        what = f"run {i + 1} of {self.faulty_runs}: {kind} from reading {run.start} to {run.end - 1}"
        answers = self._answers(rule_class, run, what)
        fires = [j for j, a in enumerate(answers) if a == "fire"]
        resolves = [j for j, a in enumerate(answers) if a == "resolve"]
        shown = lambda a, b: _percent(run.readings[max(0, a) : b])  # noqa: E731
        early = [j for j in fires if j < run.start]
        if early:
            raise Failure(
                f"{what}: with your defaults ({defaults}) the rule paged at reading {early[0]}, before the fault, "
                f"after the readings {shown(early[0] - 5, early[0] + 1)}: a false alarm"
            )
        late = _late(fires, run.start + self.page_within - 1)
        if late:
            raise Failure(
                f"{what}: the rule paged {late[0]}; the team needs the page by reading {late[1]} (readings from the "
                f"start: {shown(run.start, late[1] + 1)}). With your defaults ({defaults}) it waits too long, or "
                "its threshold is above a real fault"
            )
        if len(fires) > 1:
            raise Failure(
                f"{what}: the rule paged {len(fires)} times (readings {', '.join(map(str, fires))}) for one fault"
                f"{' that flapped' if run.flapping else ''}: readings {shown(fires[0], fires[1] + 1)}. Page once, "
                "stay firing while the fault is on: resolve only below a lower threshold (hysteresis), and answer "
                "a change once"
            )
        during = [j for j in resolves if j < run.end]
        if during:
            raise Failure(
                f"{what}: the rule resolved at reading {during[0]} while the fault was still on (readings "
                f"{shown(during[0] - 5, during[0] + 1)}): the engineer stops looking at a live fault"
            )
        late = _late(resolves, run.end + self.resolve_within - 1)
        if late:
            raise Failure(
                f"{what}: the fault ended at reading {run.end}, and the rule resolved {late[0]}; the team needs it by "
                f"reading {late[1]} (readings after the end: {shown(run.end, late[1] + 1)})"
            )
        return fires[0] - run.start + 1


def _late(answers: list[int], deadline: int) -> tuple[str, int] | None:
    """``(when it came, the deadline)`` if the first of ``answers`` missed ``deadline``, else None."""
    if answers and answers[0] <= deadline:
        return None
    return (f"only at reading {answers[0]}" if answers else "never"), deadline


def _why(args, readings, expected, i) -> str:
    fire_above, clear_below, n = args
    value = readings[i]
    if expected[i] == "fire":
        return f"{n} readings in a row above {fire_above:.0%}"
    if expected[i] == "resolve":
        return f"{n} readings in a row below {clear_below:.0%} while firing"
    if value == fire_above or value == clear_below:
        return "a reading equal to a threshold is neither above nor below it"
    return "no streak is complete here, or the change was already answered"
