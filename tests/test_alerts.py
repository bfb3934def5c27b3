"""Alert rules: fire after a streak, resolve with hysteresis, judged over seeded runs."""

import pytest

from minicluster.alerts import ThresholdRule, assess, error_rates
from minicluster.errors import ConfigError


def test_a_rule_fires_after_a_streak_and_resolves_below_the_lower_threshold():
    rule = ThresholdRule(fire_above=0.05, clear_below=0.02, for_samples=2)
    values = [0.01, 0.09, 0.01, 0.09, 0.09, 0.04, 0.03, 0.01, 0.01, 0.2]
    assert rule.evaluate(values) == [(4, 8)], "one spike is not enough; 0.04 and 0.03 do not clear it"


def test_without_hysteresis_a_hovering_metric_pages_again_and_again():
    hovering = [0.06, 0.06, 0.04, 0.06, 0.06, 0.04, 0.06, 0.06, 0.04, 0.04]
    once = ThresholdRule(fire_above=0.05, clear_below=0.02, for_samples=2).evaluate(hovering)
    flapping = ThresholdRule(fire_above=0.05, clear_below=0.05, for_samples=1).evaluate(hovering)
    assert len(once) == 1 and len(flapping) == 3


def test_error_rate_series_are_seeded_and_carry_the_fault():
    quiet = error_rates(seed=3)
    assert quiet == error_rates(seed=3) and max(quiet) < 0.06
    faulty = error_rates(seed=3, fault_at=50)
    assert min(faulty[50:]) > 0.1


def test_assessing_rules_over_many_runs():
    careful = assess(ThresholdRule(fire_above=0.05, clear_below=0.03, for_samples=3), runs=20)
    jumpy = assess(ThresholdRule(fire_above=0.02, clear_below=0.02, for_samples=1), runs=20)
    assert careful.detected == 20 and careful.false_alarms == 0 and careful.mean_time_to_detect == 2
    assert jumpy.false_alarms > 10, "an alert on a single reading above the noise pages all the time"
    assert "20 of 20 faults detected" in str(careful)


def test_a_rule_must_clear_below_where_it_fires():
    with pytest.raises(ConfigError, match="clear_below \\(0.1\\) must not be above fire_above \\(0.05\\)"):
        ThresholdRule(fire_above=0.05, clear_below=0.1)
