"""Wrong answers to 09.alert_rule: alert rules as they are first written."""

from minicluster.workbook import load

_Solution = load("09.alert_rule", tree="solutions")


class FiresOnOneReading(_Solution):
    """Pages on the first bad reading: every blip wakes someone."""

    def __init__(self, fire_above=0.04, clear_below=0.025, for_readings=1):
        super().__init__(fire_above, clear_below, for_readings)


class NoHysteresis(_Solution):
    """Clears at the threshold it fires at: a flapping fault pages again and again."""

    def __init__(self, fire_above=0.04, clear_below=0.04, for_readings=3):
        super().__init__(fire_above, clear_below, for_readings)


class PagesOnEveryBadReading(_Solution):
    """Answers "fire" on every reading while the fault lasts, not once."""

    def observe(self, reading):
        answer = super().observe(reading)
        return "fire" if answer is None and self.firing else answer


class NeverResolves(_Solution):
    def observe(self, reading):
        answer = super().observe(reading)
        return None if answer == "resolve" else answer


class WaitsTooLong(_Solution):
    """Ten readings in a row: quiet, but the page comes after the on-call deadline."""

    def __init__(self, fire_above=0.04, clear_below=0.025, for_readings=10):
        super().__init__(fire_above, clear_below, for_readings)


class ThresholdTooHigh(_Solution):
    """Fires above 10%: misses the milder faults."""

    def __init__(self, fire_above=0.10, clear_below=0.025, for_readings=3):
        super().__init__(fire_above, clear_below, for_readings)


class ThresholdInTheNoise(_Solution):
    """Fires above 2%: a busy hour pages."""

    def __init__(self, fire_above=0.02, clear_below=0.015, for_readings=3):
        super().__init__(fire_above, clear_below, for_readings)


class CountsBadReadingsNotStreaks(_Solution):
    """Adds up bad readings without resetting on a good one: blips add up to a page."""

    def observe(self, reading):
        bad = reading < self.clear_below if self.firing else reading > self.fire_above
        self.streak += bad
        if self.streak < self.for_readings:
            return None
        self.streak = 0
        self.firing = not self.firing
        return "fire" if self.firing else "resolve"


class ResolvesOnOneGoodReading(_Solution):
    """Needs a streak to fire but resolves on the first reading below clear_below."""

    def observe(self, reading):
        if self.firing and reading < self.clear_below:
            self.firing, self.streak = False, 0
            return "resolve"
        return super().observe(reading)


class EqualCountsAsAbove(_Solution):
    def observe(self, reading):
        if self.firing:
            self.streak = self.streak + 1 if reading <= self.clear_below else 0
        else:
            self.streak = self.streak + 1 if reading >= self.fire_above else 0
        if self.streak < self.for_readings:
            return None
        self.streak = 0
        self.firing = not self.firing
        return "fire" if self.firing else "resolve"


class ChecksNothing(_Solution):
    """Takes any configuration, even a clear threshold above the fire one."""

    def __init__(self, fire_above=0.04, clear_below=0.025, for_readings=3):
        self.fire_above, self.clear_below, self.for_readings = fire_above, clear_below, for_readings
        self.firing, self.streak = False, 0


class ReturnsBooleans(_Solution):
    """Answers True while firing, False otherwise: the pager cannot tell a change from a state."""

    def observe(self, reading):
        super().observe(reading)
        return self.firing


MUTANTS = {
    cls.__name__: cls
    for cls in (
        FiresOnOneReading,
        NoHysteresis,
        PagesOnEveryBadReading,
        NeverResolves,
        WaitsTooLong,
        ThresholdTooHigh,
        ThresholdInTheNoise,
        CountsBadReadingsNotStreaks,
        ResolvesOnOneGoodReading,
        EqualCountsAsAbove,
        ChecksNothing,
        ReturnsBooleans,
    )
}
