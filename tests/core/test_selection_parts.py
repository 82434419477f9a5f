"""Tier 1: the building blocks of selection (rate, budget, bucket, quantile, ramp, control,
diversity, window)."""

from __future__ import annotations

import itertools
import math
import pickle
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsift.core.selection import (
    BatchWindow,
    ControlArmEstimator,
    DecayingHistogram,
    DiversityReservoir,
    EwmaRate,
    LabelBudget,
    TokenBucket,
    calibrate_ramp,
    ramp_probability,
    select_batch,
    target_fraction,
    wilson_interval,
)
from streamsift.errors import ConfigurationError

# --- rate ---------------------------------------------------------------------------------


def test_rate_steady_state_matches_spacing() -> None:
    rate = EwmaRate(halflife_seconds=5.0)
    for i in range(10_000):
        rate.update(i * 0.02)
    assert rate.rate == pytest.approx(50.0, rel=2e-3)
    assert rate.total == 10_000


def test_rate_spread_batches_are_exact() -> None:
    rate = EwmaRate(halflife_seconds=5.0)
    for i in range(1, 2_000):
        rate.update(i * 0.5, 10.0, spread=True)
    assert rate.rate == pytest.approx(20.0, rel=1e-9)


def test_rate_at_decays_without_recording() -> None:
    rate = EwmaRate(halflife_seconds=10.0)
    for i in range(1000):
        rate.update(i * 0.1)
    before = rate.rate
    assert rate.rate_at(200.0) < rate.rate_at(110.0) < before
    assert rate.rate == before  # read-only


def test_rate_ignores_time_going_backwards() -> None:
    rate = EwmaRate(halflife_seconds=10.0)
    rate.update(10.0)
    rate.update(5.0)
    assert rate.total == 2.0
    assert rate.rate == 2.0  # two arrivals over the minimum exposure of one second


# --- budget -------------------------------------------------------------------------------


def test_capacity_3600_per_hour_at_100_events_per_second_is_one_percent() -> None:
    budget = LabelBudget(capacity_per_hour=3600.0)
    assert budget.configured_rate == 1.0
    assert target_fraction(budget.target_rate(now=0.0), 100.0) == 0.01


def test_money_cap_binds() -> None:
    budget = LabelBudget(capacity_per_hour=3600.0, cost_per_label=2.0, budget_per_day=86_400.0)
    assert budget.configured_rate == 0.5
    assert target_fraction(budget.configured_rate, 100.0) == 0.005
    loose = LabelBudget(capacity_per_hour=3600.0, cost_per_label=0.5, budget_per_day=86_400.0)
    assert loose.configured_rate == 1.0  # capacity binds instead


def test_target_fraction_caps() -> None:
    assert target_fraction(10.0, 5.0) == 1.0
    assert target_fraction(10.0, 5.0, max_fraction=0.3) == 0.3
    assert target_fraction(1.0, 0.0, max_fraction=0.4) == 0.4


def test_money_hard_stop_and_day_roll() -> None:
    budget = LabelBudget(capacity_per_hour=1e6, cost_per_label=10.0, budget_per_day=30.0)
    for _ in range(3):
        assert budget.can_afford(100.0)
        budget.charge(100.0)
    assert not budget.can_afford(200.0)
    assert budget.spent_today == 30.0 and budget.labels_today == 3
    assert budget.can_afford(86_400.0 + 1.0)  # next UTC day
    budget.charge(86_401.0)
    assert budget.spent_today == 10.0 and budget.labels_today == 1


def test_measured_arrivals_cap_target_after_min_arrivals() -> None:
    budget = LabelBudget(capacity_per_hour=36_000.0, min_arrivals=10, arrival_halflife_seconds=60.0)
    for i in range(9):
        budget.label_arrived(float(i))
    assert budget.target_rate(9.0) == 10.0  # not trusted yet
    for i in range(9, 2000):
        budget.label_arrived(float(i))  # one label per second, team far below 10/s
    assert budget.target_rate(2000.0) == pytest.approx(1.25, rel=1e-2)
    # a paused team never pushes the target below the floor share of the configuration
    assert budget.target_rate(100_000.0) == pytest.approx(1.0)


# --- token bucket -------------------------------------------------------------------------


def test_token_bucket_exact() -> None:
    bucket = TokenBucket(rate=2.0, burst=3.0)
    assert bucket.available(0.0) == 3.0
    for _ in range(3):
        assert bucket.allows(0.0)
        bucket.consume(0.0)
    assert not bucket.allows(0.0)
    assert bucket.available(0.25) == 0.5
    assert not bucket.allows(0.25)
    assert bucket.allows(0.5)
    assert bucket.available(1.0) == 2.0
    assert bucket.available(100.0) == 3.0  # capped at burst
    assert bucket.available(-5.0) == 0.0  # earlier time: no refill


def test_token_bucket_debt_is_repaid() -> None:
    bucket = TokenBucket(rate=1.0, burst=1.0)
    bucket.consume(0.0)
    bucket.consume(0.0)  # sent although no token was left
    assert bucket.available(0.0) == -1.0
    assert not bucket.allows(1.5)
    assert bucket.allows(2.0)


# --- running quantile ---------------------------------------------------------------------


def test_histogram_quantiles_of_uniform() -> None:
    rnd = random.Random(3)
    hist = DecayingHistogram(bins=200, upper=1.0, window=50_000)
    for _ in range(50_000):
        hist.update(rnd.random())
    hist.refresh()
    for q in (0.1, 0.5, 0.9, 0.99):
        assert hist.quantile(q) == pytest.approx(q, abs=0.01)


def test_histogram_forgets() -> None:
    hist = DecayingHistogram(bins=100, upper=1.0, window=1000)
    for _ in range(20_000):
        hist.update(0.1)
    for _ in range(10_000):
        hist.update(0.9)
    hist.refresh()
    assert hist.quantile(0.5) > 0.85
    assert hist.count == 30_000


def test_histogram_clamps_and_handles_empty() -> None:
    hist = DecayingHistogram(bins=10, upper=1.0)
    assert not hist.ready and hist.quantile(0.5) == 0.0 and hist.rank(0.3, 0.25) == 0.25
    hist.update(-3.0)
    hist.update(7.0)
    hist.refresh()
    assert hist.bin_of(-3.0) == 0 and hist.bin_of(7.0) == 9
    assert hist.rank(7.0, 0.0) == pytest.approx(0.5, abs=1e-3)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from([0.0, 0.2, 0.2, 0.5, 0.999]), min_size=50, max_size=300))
def test_randomised_rank_is_uniform_even_with_ties(values: list[float]) -> None:
    hist = DecayingHistogram(bins=64, upper=1.0, window=10**9)
    for v in values:
        hist.update(v)
    hist.refresh()
    # integrate the rank over v in [0, 1) and over the sample: mean 1/2, in [0, 1]
    grid = [(i + 0.5) / 64 for i in range(64)]
    ranks = [hist.rank(x, v) for x in values for v in grid]
    assert all(0.0 <= r <= 1.0 for r in ranks)
    assert sum(ranks) / len(ranks) == pytest.approx(0.5, abs=1e-6)


# --- ramp ---------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    q=st.floats(0.001, 1.0),
    floor_share=st.floats(0.0, 1.0),
    ramp=st.floats(0.05, 20.0),
)
def test_ramp_is_calibrated_monotone_and_floored(q: float, floor_share: float, ramp: float) -> None:
    floor = q * floor_share
    u_top, slope = calibrate_ramp(q, floor, ramp)
    n = 4_000
    ps = [ramp_probability((i + 0.5) / n, u_top, slope, floor) for i in range(n)]
    assert sum(ps) / n == pytest.approx(q, abs=2e-3 + 0.02 * q)
    assert all(floor <= p <= 1.0 for p in ps)
    assert all(a <= b for a, b in itertools.pairwise(ps))


# --- control arm --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_wilson_confidence_widens() -> None:
    assert wilson_interval(5, 10, 0.99)[0] < wilson_interval(5, 10, 0.9)[0]
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_control_estimator() -> None:
    est = ControlArmEstimator()
    assert math.isnan(est.production_accuracy.value) and est.lift.n == 0
    for i in range(40):
        est.update("control", production_correct=i % 4 != 0, online_correct=i % 2 == 0)
    for i in range(40):
        est.update("active", production_correct=i % 2 == 0)
    est.update("bootstrap", production_correct=False)  # ignored by every estimate
    est.update("control", production_correct=None, online_correct=True)  # online only
    prod, online = est.production_accuracy, est.online_accuracy
    assert (prod.value, prod.n) == (0.75, 40)
    assert (online.value, online.n) == (21 / 41, 41)
    assert (prod.low, prod.high) == wilson_interval(30, 40)
    lift = est.lift
    assert lift.n == 40 and lift.value == pytest.approx(0.5 - 0.75)
    assert lift.low < lift.value < lift.high
    ratio = est.error_lift  # active error rate 0.5 over control error rate 0.25
    assert ratio.value == pytest.approx(2.0)
    assert ratio.low < 2.0 < ratio.high


# --- diversity and batch ------------------------------------------------------------------


def test_identical_vector_has_maximal_penalty() -> None:
    rnd = np.random.default_rng(0)
    res = DiversityReservoir(capacity=50, strength=0.8)
    vectors = rnd.normal(size=(50, 4))
    for v in vectors:
        res.add(v)
    penalties = [res.penalty(v) for v in rnd.normal(size=(100, 4))]
    assert all(0.0 <= p < 1.0 for p in penalties)
    assert res.penalty(vectors[7]) == 1.0
    assert res.factor(vectors[7]) == pytest.approx(0.2)
    assert DiversityReservoir().penalty([1.0, 2.0]) == 0.0


def test_reservoir_is_bounded_and_keeps_the_latest() -> None:
    res = DiversityReservoir(capacity=5)
    for i in range(100):
        res.add([float(i), 0.0])
    assert len(res) == 5
    assert sorted(res.stored()[:, 0].tolist()) == [95.0, 96.0, 97.0, 98.0, 99.0]
    with pytest.raises(ValueError):
        res.add([1.0, 2.0, 3.0])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 2**31), st.integers(1, 60), st.integers(0, 80))
def test_batch_selection_distinct_and_deterministic(seed: int, m: int, n: int) -> None:
    rnd = np.random.default_rng(seed)
    prio = rnd.random(m).tolist()
    vectors = rnd.normal(size=(m, 3))
    first = select_batch(prio, vectors, n, strength=0.7)
    assert first == select_batch(prio, vectors, n, strength=0.7)
    assert len(first) == min(n, m) == len(set(first))
    assert all(0 <= i < m for i in first)
    if n:
        assert first[0] == int(np.argmax(prio))


def test_batch_selection_avoids_reservoir_and_duplicates() -> None:
    vectors = [[0.0, 0.0], [0.0, 0.0], [3.0, 3.0], [-3.0, 3.0]]
    assert select_batch([1.0, 1.0, 0.6, 0.5], vectors, 2, strength=1.0) == [0, 2]
    res = DiversityReservoir()
    for v in ([0.0, 0.0], [3.0, 3.0], [1.0, -1.0]):
        res.add(v)
    assert select_batch([1.0, 1.0, 0.6, 0.5], vectors, 2, reservoir=res, strength=1.0)[0] == 3


def test_batch_window_closes_on_time() -> None:
    window: BatchWindow[str] = BatchWindow(max_events=100, max_seconds=5.0)
    assert window.add("a", 0.0) is None
    assert window.add("b", 4.9) is None
    assert window.add("c", 5.0) == ["a", "b"]
    assert len(window) == 1 and window.flush() == ["c"] and window.flush() == []


# --- validation and pickling --------------------------------------------------------------

BAD_PARAMETERS: list[tuple[type, dict[str, Any]]] = [  # the last key is the bad one
    (EwmaRate, {"halflife_seconds": 0.0}),
    (EwmaRate, {"halflife_seconds": math.nan}),
    (EwmaRate, {"min_exposure_seconds": -1.0}),
    (TokenBucket, {"burst": 5.0, "rate": 0.0}),
    (TokenBucket, {"rate": 1.0, "burst": 0.5}),
    (TokenBucket, {"burst": 5.0, "rate": "fast"}),
    (LabelBudget, {"capacity_per_hour": 0.0}),
    (LabelBudget, {"capacity_per_hour": 10.0, "cost_per_label": -1.0}),
    (LabelBudget, {"capacity_per_hour": 10.0, "budget_per_day": 0.0}),
    (LabelBudget, {"capacity_per_hour": 10.0, "arrival_headroom": 0.9}),
    (LabelBudget, {"capacity_per_hour": 10.0, "arrival_floor": 0.0}),
    (LabelBudget, {"capacity_per_hour": 10.0, "min_arrivals": -1}),
    (LabelBudget, {"capacity_per_hour": 10.0, "arrival_halflife_seconds": 0.0}),
    (DecayingHistogram, {"bins": 1}),
    (DecayingHistogram, {"upper": 0.0}),
    (DecayingHistogram, {"window": 0}),
    (DecayingHistogram, {"bins": 2.5}),
    (ControlArmEstimator, {"confidence": 1.0}),
    (ControlArmEstimator, {"confidence": 0.0}),
    (DiversityReservoir, {"capacity": 0}),
    (DiversityReservoir, {"bandwidth": 0.0}),
    (DiversityReservoir, {"strength": 1.5}),
    (BatchWindow, {"max_events": 0}),
    (BatchWindow, {"max_seconds": 0.0}),
]


@pytest.mark.parametrize(("cls", "kwargs"), BAD_PARAMETERS)
def test_parameter_validation(cls: type, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=list(kwargs)[-1]):
        cls(**kwargs)


def test_select_batch_validates() -> None:
    with pytest.raises(ConfigurationError, match="n"):
        select_batch([1.0], [[0.0]], -1)
    with pytest.raises(ConfigurationError, match="strength"):
        select_batch([1.0], [[0.0]], 1, strength=2.0)


@pytest.mark.parametrize(
    "obj",
    [
        EwmaRate(),
        TokenBucket(1.0, 5.0),
        LabelBudget(10.0, 1.0, 100.0),
        DecayingHistogram(),
        ControlArmEstimator(),
        DiversityReservoir(),
        BatchWindow(),
    ],
)
def test_parts_pickle_and_repr(obj: object) -> None:
    clone = pickle.loads(pickle.dumps(obj))
    assert repr(clone) == repr(obj)
    assert type(obj).__name__ in repr(obj)
