"""Tier 1: the variable-uncertainty selector (Žliobaitė et al. 2014) and the warm-up boost."""

from __future__ import annotations

import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsift.core.sampler import SELECTORS, Sampler
from streamsift.core.selection import (
    Selection,
    Selector,
    VariableUncertaintySelector,
    variable_uncertainty_probability,
)
from streamsift.core.selection.variable import THETA_MAX, THETA_MIN
from streamsift.core.types import CoreEvent, LabelledItem
from streamsift.errors import ConfigurationError

ARMS = {"active", "control", "bootstrap"}


def _run(
    selector: Selector, scores: list[float], *, cold: bool = False, warmup: bool = False
) -> list[Selection]:
    out = []
    for i, score in enumerate(scores):
        s = selector.decide(score, 1.0, float(i), cold=cold, warmup=warmup)
        if s.selected:
            selector.record(s, float(i))
        out.append(s)
    return out


# --- the probability -----------------------------------------------------------------------


def test_probability_exact_values() -> None:
    assert variable_uncertainty_probability(0.5, 0.5, 1.0) == 0.5
    # Phi(-2) and Phi(1): confidence three times the threshold, and certainty.
    assert variable_uncertainty_probability(0.9, 0.3, 1.0) == pytest.approx(0.0227501319, abs=1e-9)
    assert variable_uncertainty_probability(0.0, 0.3, 1.0) == pytest.approx(0.8413447461, abs=1e-9)
    assert variable_uncertainty_probability(0.6, 0.3, 0.5) == pytest.approx(0.0227501319, abs=1e-9)
    assert variable_uncertainty_probability(0.29, 0.3, 0.0) == 1.0
    assert variable_uncertainty_probability(0.3, 0.3, 0.0) == 0.0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    a=st.floats(0.0, 1.0),
    b=st.floats(0.0, 1.0),
    theta=st.floats(THETA_MIN, THETA_MAX),
    delta=st.floats(0.0, 3.0),
)
def test_probability_is_a_probability_decreasing_in_confidence(
    a: float, b: float, theta: float, delta: float
) -> None:
    lo, hi = min(a, b), max(a, b)
    p_lo = variable_uncertainty_probability(lo, theta, delta)
    p_hi = variable_uncertainty_probability(hi, theta, delta)
    assert 0.0 <= p_hi <= p_lo <= 1.0


# --- the selector ---------------------------------------------------------------------------


def test_doc_example_exact() -> None:
    selector = VariableUncertaintySelector.for_fraction(0.1, seed=1)
    sels = _run(selector, [(i * 37 % 100) / 100 for i in range(2000)])
    assert sum(s.selected for s in sels) == 203
    assert selector.selected_by_arm == {"active": 193, "control": 10, "bootstrap": 0}


def test_threshold_steps_down_after_a_query_and_up_after_a_skip() -> None:
    selector = VariableUncertaintySelector.for_fraction(
        0.5, vu_delta=0.0, vu_step=0.1, control_share=0.0, p_floor=1e-9, seed=0
    )
    first = selector.decide(1.0, 1.0, 0.0, cold=False)  # confidence 0 < theta 1: query
    assert first.selected and first.arm == "active" and first.p == 1.0
    selector.record(first, 0.0)
    assert selector.theta == pytest.approx(0.9)
    # confidence 1.0 is never below theta <= 1: skipped, the threshold rises (gate open:
    # one label over two events, discounted, is under w * 0.5 = 50).
    second = selector.decide(0.0, 1.0, 1.0, cold=False)
    assert not second.selected
    assert selector.theta == pytest.approx(0.99)
    assert second.threshold == pytest.approx(0.1)  # the score threshold it used: 1 - 0.9
    assert selector.threshold == pytest.approx(0.01)  # and the one now: 1 - 0.99


def test_budget_gate_closes_and_freezes_the_threshold() -> None:
    selector = VariableUncertaintySelector.for_fraction(
        0.05, vu_delta=0.0, vu_window=100.0, control_share=0.0, p_floor=1e-9, seed=0
    )
    sels = _run(selector, [1.0] * 40)  # every event maximally uncertain
    picked = sum(s.selected for s in sels)
    # u / w < 0.05 lets about 5 labels (discounted) into 100 events, then the gate holds.
    assert 5 <= picked <= 7
    theta = selector.theta
    more = _run(selector, [1.0] * 3)
    assert not any(s.selected for s in more)
    assert selector.theta == theta
    assert selector.budget_used == pytest.approx(0.05, rel=0.05)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    fraction=st.sampled_from([0.01, 0.05, 0.2]),
    delta=st.sampled_from([0.0, 1.0]),
    seed=st.integers(0, 2**16),
    shape=st.sampled_from(["uniform", "point", "trend-up", "trend-down", "cubed"]),
)
def test_fraction_mode_holds_the_budget(
    fraction: float, delta: float, seed: int, shape: str
) -> None:
    """Whatever the score distribution does, the realised fraction stays on target."""
    selector = VariableUncertaintySelector.for_fraction(fraction, vu_delta=delta, seed=seed)
    rnd = random.Random(seed)
    n = 20_000

    def score(i: int) -> float:
        if shape == "uniform":
            return rnd.random()
        if shape == "point":
            return 0.3 if rnd.random() < 0.8 else rnd.random()
        if shape == "trend-up":
            return 0.2 + 0.6 * i / n
        if shape == "trend-down":
            return 0.8 - 0.6 * i / n
        return rnd.random() ** 3

    sels = _run(selector, [score(i) for i in range(n)])
    labels = sum(s.selected for s in sels)
    assert abs(labels - fraction * n) <= 50 / 2 + 10  # the feedback horizon, as for rank


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    fraction=st.floats(0.005, 1.0),
    p_floor=st.floats(0.001, 1.0),
    control_share=st.floats(0.0, 0.5),
    delta=st.floats(0.0, 2.0),
    scores=st.lists(st.floats(-1.0, 5.0) | st.just(math.nan), min_size=1, max_size=300),
)
def test_p_is_a_probability_above_the_floor(
    fraction: float, p_floor: float, control_share: float, delta: float, scores: list[float]
) -> None:
    selector = VariableUncertaintySelector.for_fraction(
        fraction, p_floor=p_floor, control_share=control_share, vu_delta=delta, refresh_every=7
    )
    for i, score in enumerate(scores * 3):
        s = selector.decide(score, 1.0, float(i), cold=False)
        assert 0.0 < s.p <= 1.0
        assert s.p >= p_floor * s.target_fraction * (1 - 1e-12)
        assert s.selected == (s.arm in ARMS)
        assert THETA_MIN <= selector.theta <= THETA_MAX
        if s.selected:
            selector.record(s, float(i))


def test_rate_mode_token_bucket_still_caps() -> None:
    selector = VariableUncertaintySelector(3600.0, bucket_burst=5.0, seed=2)
    picked = 0
    for i in range(20_000):  # 100 events per second, 1 label per second of capacity
        now = i * 0.01
        s = selector.decide(1.0, 1.0, now, cold=False)
        if s.selected:
            selector.record(s, now)
            picked += 1
    assert picked <= 200 + 5 + 1


def test_pickle_and_clone() -> None:
    selector = VariableUncertaintySelector.for_fraction(0.1, vu_step=0.02, vu_window=50.0, seed=3)
    scores = [random.Random(1).random() for _ in range(3000)]
    _run(selector, scores[:1500])
    twin = pickle.loads(pickle.dumps(selector))
    a = [(s.selected, s.arm, s.p) for s in _run(selector, scores[1500:])]
    b = [(s.selected, s.arm, s.p) for s in _run(twin, scores[1500:])]
    assert a == b
    fresh = selector.clone()
    assert isinstance(fresh, VariableUncertaintySelector)
    assert (fresh.vu_step, fresh.vu_window, fresh.vu_delta) == (0.02, 50.0, 1.0)
    assert fresh.theta == 1.0 and fresh.selected_by_arm["active"] == 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"vu_step": 0.0}, "vu_step"),
        ({"vu_step": 1.0}, "vu_step"),
        ({"vu_delta": -0.1}, "vu_delta"),
        ({"vu_window": 0.5}, "vu_window"),
        ({"vu_theta": 3.0}, "vu_theta"),
    ],
)
def test_parameter_validation(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        VariableUncertaintySelector.for_fraction(0.1, **kwargs)


# --- the warm-up boost ------------------------------------------------------------------------


def test_warmup_boost_multiplies_the_uniform_probability() -> None:
    selector = Selector.for_fraction(0.05, warmup_boost=4.0, control_share=0.0, seed=0)
    s = selector.decide(0.5, 1.0, 0.0, cold=True, warmup=True)
    assert s.p == pytest.approx(0.2)
    s = selector.decide(0.5, 1.0, 0.0, cold=True)  # cold without warm-up: plain uniform
    assert s.p == pytest.approx(0.05)
    capped = Selector.for_fraction(0.5, warmup_boost=4.0, control_share=0.0)
    assert capped.decide(0.5, 1.0, 0.0, cold=True, warmup=True).p == 1.0
    with pytest.raises(ConfigurationError, match="warmup_boost"):
        Selector.for_fraction(0.05, warmup_boost=0.5)


def test_warmup_surplus_is_worked_off() -> None:
    """1,000 boosted warm-up events, then 19,000 warm: the total is back near target."""
    selector = Selector.for_fraction(0.05, warmup_boost=4.0, feedback_labels=200.0, seed=5)
    rnd = random.Random(5)
    labels = warm_labels = 0
    for i in range(20_000):
        warm = i < 1000
        s = selector.decide(rnd.random(), 1.0, float(i), cold=warm, warmup=warm)
        if s.selected:
            selector.record(s, float(i))
            labels += 1
            warm_labels += warm
    # 50 for a uniform warm-up; the boost stops at a surplus of feedback_labels / 4 = 50
    assert 90 <= warm_labels <= 115
    assert abs(labels - 1000) <= 30


# --- the Sampler's configuration ------------------------------------------------------------


def _drive(sampler: Sampler, n: int, seed: int) -> int:
    rng = random.Random(seed)
    picked = 0
    for i in range(n):
        x = {"a": rng.random(), "b": rng.random()}
        d = sampler.decide(CoreEvent(f"e{i}", x, i * 0.01))
        if d.selected:
            picked += 1
            sampler.confirm(d, i * 0.01)
            sampler.label_arrived(i * 0.01)
            sampler.learn(LabelledItem(f"e{i}", x, x["a"] > x["b"], p=d.p, arm=d.arm))
    return picked


def test_sampler_selects_the_rule_by_name() -> None:
    assert set(SELECTORS) == {"rank", "variable-uncertainty"}
    s = Sampler(fraction=0.05, selector="variable-uncertainty", vu_delta=0.0, seed=1)
    assert isinstance(s._selector, VariableUncertaintySelector)
    assert s._selector.vu_delta == 0.0
    picked = _drive(s, 6000, seed=2)
    assert abs(picked / 6000 / 0.05 - 1.0) < 0.1
    assert s.state.selected_by_arm["active"] > 0
    c = s.clone()
    assert c._params() == s._params() and c.state.events_seen == 0
    assert type(Sampler(fraction=0.05)._selector) is Selector
    with pytest.raises(ConfigurationError, match="selector"):
        Sampler(selector="nope")
    with pytest.raises(ConfigurationError, match="warmup_boost"):
        Sampler(warmup_boost=0.5)


def test_sampler_warmup_boost_buys_the_cold_start_sooner() -> None:
    plain = Sampler(fraction=0.05, warmup_boost=1.0, seed=4)
    boosted = Sampler(fraction=0.05, warmup_boost=20.0, seed=4)
    _drive(plain, 300, seed=3)
    _drive(boosted, 300, seed=3)
    assert plain.state.labels_seen < 30 and not plain.state.warm
    assert boosted.state.warm
    # pickled mid-stream, a boosted sampler goes on identically
    twin = pickle.loads(pickle.dumps(boosted))
    assert _drive(boosted, 500, seed=9) == _drive(twin, 500, seed=9)


@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), boost=st.sampled_from([2.0, 4.0, 20.0]))
def test_endless_warmup_overspends_at_most_a_quarter_of_the_feedback(
    seed: int, boost: float
) -> None:
    """A model that never warms: the boost pauses once the surplus reaches
    feedback_labels / 4, so the count stays within that (and noise) of the target."""
    selector = Selector.for_fraction(0.05, warmup_boost=boost, feedback_labels=200.0, seed=seed)
    labels = sum(s.selected for s in _run(selector, [0.5] * 20_000, cold=True, warmup=True))
    assert 1000 <= labels <= 1000 + 50 + 15


def test_no_boost_without_feedback() -> None:
    selector = Selector.for_fraction(
        0.05, warmup_boost=4.0, feedback_labels=0.0, control_share=0.0, seed=0
    )
    assert selector.decide(0.5, 1.0, 0.0, cold=True, warmup=True).p == pytest.approx(0.05)


def test_sampler_defaults_boost_the_warmup_in_fraction_mode_only() -> None:
    s = Sampler(fraction=0.05)
    assert (s.warmup_boost, s.min_labels, s.stability_window) == (4.0, 30, 15)
    d = s.decide(CoreEvent("e0", {"a": 0.1}, 0.0))
    assert d.arm in {"none", "bootstrap", "control"}
    assert d.p == pytest.approx(0.05 * 0.05 + (1 - 0.05 * 0.05) * 4 * (0.05 - 0.0025) / 0.9975)
    rate = Sampler(capacity_per_hour=3600.0)
    events = [rate.decide(CoreEvent(f"e{i}", {"a": 0.1}, i * 0.01)) for i in range(3000)]
    # rate mode: 1 label/s of capacity over 100 events/s, no boost of the 1 % target
    assert events[-1].p == pytest.approx(0.01, rel=0.05)
