"""savings_vs_random: exact values of the definition in issue 3, item 8."""

from __future__ import annotations

import math

import pytest

from streamsift.sim.savings import RANDOM_BUDGETS, random_budget_for, savings_vs_random

CURVE = {0.01: 0.70, 0.02: 0.75, 0.05: 0.80, 0.10: 0.85, 0.20: 0.88, 0.40: 0.90}


def test_random_budgets_are_the_documented_ones() -> None:
    assert RANDOM_BUDGETS == (0.01, 0.02, 0.05, 0.10, 0.20, 0.40)


def test_exact_hit_on_a_measured_budget() -> None:
    assert random_budget_for(0.85, CURVE) == pytest.approx(0.10)
    assert savings_vs_random(0.85, 0.05, CURVE) == pytest.approx(2.0)


def test_interpolation_is_linear_in_log_budget() -> None:
    # Halfway between 0.80 (5%) and 0.85 (10%): the geometric mean of the budgets.
    assert random_budget_for(0.825, CURVE) == pytest.approx(math.sqrt(0.05 * 0.10))
    assert savings_vs_random(0.825, 0.05, CURVE) == pytest.approx(math.sqrt(2.0))


def test_capped_when_random_never_reaches_it() -> None:
    assert random_budget_for(0.95, CURVE) is None
    assert savings_vs_random(0.95, 0.05, CURVE) == pytest.approx(0.40 / 0.05)


def test_below_one_when_random_does_better() -> None:
    assert savings_vs_random(0.60, 0.05, CURVE) == pytest.approx(0.01 / 0.05)
    assert savings_vs_random(0.78, 0.05, CURVE) < 1.0


def test_every_label_counted_in_the_denominator() -> None:
    # Same accuracy, twice the labels: half the savings.
    assert savings_vs_random(0.85, 0.10, CURVE) == pytest.approx(1.0)


def test_smallest_budget_wins_on_a_non_monotone_curve() -> None:
    bumpy = {0.01: 0.60, 0.02: 0.55, 0.05: 0.62, 0.10: 0.70, 0.20: 0.72, 0.40: 0.74}
    # 0.58 is first reached between 1% and 2%? No: 0.60 at 1% already exceeds it.
    assert random_budget_for(0.58, bumpy) == pytest.approx(0.01)
    # 0.61 is first reached between 2% (0.55) and 5% (0.62).
    t = (0.61 - 0.55) / (0.62 - 0.55)
    expected = math.exp(math.log(0.02) + t * (math.log(0.05) - math.log(0.02)))
    assert random_budget_for(0.61, bumpy) == pytest.approx(expected)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError):
        savings_vs_random(0.8, 0.0, CURVE)
    with pytest.raises(ValueError):
        random_budget_for(0.8, {})
