"""Exercise 09.alert_rule: an alert that pages on a real fault, soon, once, and not on noise.

Every 10 seconds the monitoring system hands your rule one reading: the share of the last interval's
requests that failed (0.0 to 1.0). Your rule answers ``"fire"`` (page the on-call engineer), ``"resolve"``
(tell them it is over) or ``None`` (nothing to say).

What the readings look like on this service (about 200 requests per interval):

- **normal**: about 1% of requests fail; readings wander between 0% and 3%, now and then a little more;
- **blips**: a deploy or a garbage-collection pause can push one or two readings in a row up to 15%,
  then it is over by itself. Nobody should be woken up for that;
- **faults**: a stretch where 8% or more of requests fail, possibly flapping (some readings back down near
  4%, then up again), until someone fixes it.

The on-call team asks for: a page within 5 readings of a fault's start, one page per fault however much it
flaps, a resolve within 5 readings of its end, and no page at all in runs with noise and blips only.

A rule that pages on one bad reading wakes people for blips; one that clears as soon as a reading dips
pages again and again through a flapping fault. Hence: fire after ``for_readings`` readings **in a row**
above ``fire_above``; once firing, resolve after ``for_readings`` readings in a row **below** a lower
``clear_below`` (hysteresis), and stay quiet in between.
"""

#: The rule the team gets when nothing is passed: your choice (the checker judges it on many seeded runs).
FIRE_ABOVE = 0.04  # yours to choose
CLEAR_BELOW = 0.025  # yours to choose
FOR_READINGS = 3  # yours to choose


class ErrorRateAlert:
    """Fires after ``for_readings`` readings in a row above ``fire_above``; resolves after as many below
    ``clear_below``."""

    def __init__(self, fire_above=FIRE_ABOVE, clear_below=CLEAR_BELOW, for_readings=FOR_READINGS):
        """A rule, not firing. ``for_readings`` is an int >= 1 and ``clear_below`` is not above ``fire_above``
        (raise ValueError otherwise)."""
        if isinstance(for_readings, bool) or not isinstance(for_readings, int) or for_readings < 1:
            raise ValueError(f"for_readings must be an int >= 1, got {for_readings!r}")
        if clear_below > fire_above:
            raise ValueError(f"clear_below ({clear_below!r}) must not be above fire_above ({fire_above!r})")
        self.fire_above = fire_above
        self.clear_below = clear_below
        self.for_readings = for_readings
        self.firing = False
        self.streak = 0

    def observe(self, reading):
        """Take the next reading: return ``"fire"`` when the alert starts, ``"resolve"`` when it ends, else
        None. A reading above ``fire_above`` counts towards firing (equal does not); once firing, a reading
        below ``clear_below`` counts towards resolving (equal does not). Any other reading breaks the streak."""
        if self.firing:
            self.streak = self.streak + 1 if reading < self.clear_below else 0
        else:
            self.streak = self.streak + 1 if reading > self.fire_above else 0
        if self.streak < self.for_readings:
            return None
        self.streak = 0
        self.firing = not self.firing
        return "fire" if self.firing else "resolve"
