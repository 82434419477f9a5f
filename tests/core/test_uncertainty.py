"""Uncertainty scores and strategies: exact values, properties, the strategy contract."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsift.core.types import Label, Proba, ScoringInputs
from streamsift.core.uncertainty import (
    STRATEGIES,
    Combined,
    CommitteeBALD,
    CommitteeKL,
    CommitteeVoteEntropy,
    OnlineEntropy,
    OnlineMargin,
    ProductionEntropy,
    ProductionLeastConfidence,
    ProductionMargin,
    bald,
    consensus_kl,
    entropy,
    least_confidence,
    make_strategy,
    margin,
    vote_entropy,
)
from streamsift.errors import ConfigurationError

SINGLE = [least_confidence, margin, entropy]
COMMITTEE = [vote_entropy, consensus_kl, bald]

# -- exact values of the single-distribution scores ----------------------------------------


@pytest.mark.parametrize("k", [2, 3, 7, 10, 20])
@pytest.mark.parametrize("score", SINGLE)
def test_uniform_is_one_and_one_hot_is_zero(score: Any, k: int) -> None:
    uniform = {f"c{i}": 1.0 / k for i in range(k)}
    one_hot = {f"c{i}": float(i == 0) for i in range(k)}
    assert score(uniform) == pytest.approx(1.0)
    assert score(one_hot) == 0.0


@pytest.mark.parametrize(
    ("proba", "lc", "mg", "en"),
    [
        ({"a": 0.7, "b": 0.3}, 0.6, 0.6, 0.8812908992306927),
        ({"a": 0.9, "b": 0.1}, 0.2, 0.2, 0.4689955935892812),
        ({"a": 0.5, "b": 0.3, "c": 0.2}, 0.75, 0.8, 0.9372305632161294),
        ({"a": 0.6, "b": 0.4, "c": 0.0}, 0.6, 0.8, 0.6126016192893442),
    ],
)
def test_known_values(proba: dict[Label, float], lc: float, mg: float, en: float) -> None:
    assert least_confidence(proba) == pytest.approx(lc)
    assert margin(proba) == pytest.approx(mg)
    assert entropy(proba) == pytest.approx(en)


def test_n_classes_counts_missing_classes_at_zero() -> None:
    assert entropy({"a": 0.5, "b": 0.5}, n_classes=4) == pytest.approx(0.5)
    assert least_confidence({"a": 0.5, "b": 0.5}, n_classes=4) == pytest.approx(2 / 3)
    assert margin({"a": 1.0}, n_classes=2) == 0.0
    # n_classes smaller than the mapping is ignored
    assert entropy({"a": 0.5, "b": 0.5}, n_classes=1) == 1.0


@pytest.mark.parametrize("score", SINGLE)
@pytest.mark.parametrize("proba", [{}, {"a": 1.0}, {"a": 0.0, "b": 0.0}, {"a": -1.0, "b": 0.0}])
def test_nothing_known_scores_one(score: Any, proba: dict[Label, float]) -> None:
    assert score(proba) == 1.0


@pytest.mark.parametrize("score", SINGLE)
def test_unnormalised_input_is_normalised(score: Any) -> None:
    assert score({"a": 7.0, "b": 3.0}) == pytest.approx(score({"a": 0.7, "b": 0.3}))
    assert score({"a": 0.7, "b": 0.3, "c": float("nan")}) == pytest.approx(
        score({"a": 0.7, "b": 0.3, "c": 0.0})
    )


# -- committee scores ------------------------------------------------------------------------


def test_committee_agreement_scores_zero() -> None:
    members: list[Proba] = [{"a": 0.8, "b": 0.2}] * 3
    assert vote_entropy(members) == 0.0
    assert consensus_kl(members) == pytest.approx(0.0, abs=1e-12)
    assert bald(members) == pytest.approx(0.0, abs=1e-12)


def test_committee_total_disagreement() -> None:
    members: list[Proba] = [{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}]
    assert vote_entropy(members) == 1.0
    assert bald(members) == pytest.approx(1.0)
    assert consensus_kl(members) == pytest.approx(0.5)  # 1 - exp(-log 2)


def test_vote_entropy_normalised_by_min_of_classes_and_members() -> None:
    # 3 members, 10 classes, three different votes: log 3 is the bound
    members: list[Proba] = [{f"c{j}": float(i == j) for j in range(10)} for i in range(3)]
    assert vote_entropy(members) == pytest.approx(1.0)
    two_one: list[Proba] = [{"a": 0.9, "b": 0.1}, {"a": 0.8, "b": 0.2}, {"a": 0.1, "b": 0.9}]
    assert vote_entropy(two_one) == pytest.approx(0.9182958340544896)


def test_consensus_kl_is_a_transform_of_the_mutual_information() -> None:
    members: list[Proba] = [
        {"a": 0.6, "b": 0.3, "c": 0.1},
        {"a": 0.2, "b": 0.5, "c": 0.3},
        {"a": 0.3, "b": 0.3},
    ]
    mi_nats = bald(members) * math.log(3)
    assert -math.log(1.0 - consensus_kl(members)) == pytest.approx(mi_nats)


@pytest.mark.parametrize("score", COMMITTEE)
@pytest.mark.parametrize(
    "members",
    [[], [{"a": 0.5, "b": 0.5}], [{}, {}, {"a": 0.4, "b": 0.6}], [{"a": 1.0}, {"a": 1.0}]],
)
def test_committee_without_two_usable_members_or_classes_scores_one(
    score: Any, members: list[dict[Label, float]]
) -> None:
    assert score(members) == 1.0


# -- properties --------------------------------------------------------------------------------

probas = st.integers(min_value=2, max_value=20).flatmap(
    lambda k: st.lists(
        st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=k, max_size=k
    ).map(lambda ws: {f"c{i}": w for i, w in enumerate(ws)})
)


@settings(max_examples=200, deadline=None)
@given(proba=probas, n_classes=st.none() | st.integers(min_value=2, max_value=30))
def test_single_scores_in_unit_interval_and_input_untouched(
    proba: dict[Label, float], n_classes: int | None
) -> None:
    before = copy.deepcopy(proba)
    for score in (least_confidence, entropy):
        assert 0.0 <= score(proba, n_classes) <= 1.0
    assert 0.0 <= margin(proba) <= 1.0
    assert proba == before


def _reference_single(kind: str, proba: Proba, n_classes: int | None) -> float:
    """The scores as first written (helper calls, no inlining): the exact-value oracle."""
    k = max(len(proba), n_classes or 0)
    positive = [p for p in proba.values() if p > 0.0]
    total = 0.0
    for p in positive:
        total += p
    if k < 2 or total <= 0.0:
        return 1.0
    if kind == "least_confidence":
        s = (1.0 - max(positive) / total) * k / (k - 1)
    elif kind == "margin":
        top = [*sorted(positive, reverse=True), 0.0]
        s = 1.0 - (top[0] - top[1]) / total
    else:
        h = 0.0
        for p in positive:
            h -= p * math.log(p)
        s = (h / total + math.log(total)) / math.log(k)
    return min(max(s, 0.0), 1.0)


@settings(max_examples=300, deadline=None)
@given(proba=probas, n_classes=st.none() | st.integers(min_value=2, max_value=30))
def test_single_scores_equal_the_reference_exactly(
    proba: dict[Label, float], n_classes: int | None
) -> None:
    for score in SINGLE:
        assert score(proba, n_classes) == _reference_single(score.__name__, proba, n_classes)


@settings(max_examples=100, deadline=None)
@given(members=st.lists(probas, min_size=1, max_size=7))
def test_committee_scores_in_unit_interval_and_input_untouched(
    members: list[dict[Label, float]],
) -> None:
    before = copy.deepcopy(members)
    for score in COMMITTEE:
        assert 0.0 <= score(members) <= 1.0
    assert members == before


# -- strategies: fallbacks and combination ------------------------------------------------------


def test_production_strategy_falls_back_to_online_then_one() -> None:
    s = ProductionMargin()
    assert s.score_one(ScoringInputs(production={"a": 0.7, "b": 0.3})) == pytest.approx(0.6)
    assert s.score_one(ScoringInputs(online={"a": 0.9, "b": 0.1})) == pytest.approx(0.2)
    assert s.score_one(ScoringInputs(production={}, online={"a": 0.9, "b": 0.1})) == pytest.approx(
        0.2
    )
    assert s.score_one(ScoringInputs()) == 1.0


def test_online_strategy_prefers_online_and_falls_back_to_production() -> None:
    both = ScoringInputs(production={"a": 0.5, "b": 0.5}, online={"a": 1.0, "b": 0.0})
    assert OnlineEntropy().score_one(both) == 0.0
    assert ProductionEntropy().score_one(both) == 1.0
    assert OnlineMargin().score_one(ScoringInputs(production={"a": 0.9, "b": 0.1})) == (
        pytest.approx(0.2)
    )


def test_committee_strategy_falls_back_to_entropy() -> None:
    online: Proba = {"a": 0.5, "b": 0.5}
    for cls in (CommitteeVoteEntropy, CommitteeKL, CommitteeBALD):
        assert cls().score_one(ScoringInputs(committee=[], online=online)) == 1.0
        assert cls().score_one(ScoringInputs(production={"a": 1.0, "b": 0.0})) == 0.0
        assert cls().score_one(ScoringInputs()) == 1.0


def test_combined_mixes_and_unions_sources() -> None:
    s = Combined(ProductionLeastConfidence(), "committee-vote-entropy", weight=0.25)
    inputs = ScoringInputs(
        production={"a": 0.7, "b": 0.3}, committee=[{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}]
    )
    assert s.score_one(inputs) == pytest.approx(0.25 * 0.6 + 0.75 * 1.0)
    assert s.needs == {"production", "committee"}
    assert s.fallback == {"online"}
    assert make_strategy("combined").needs == {"production", "committee"}


# -- registry and contract ---------------------------------------------------------------------


def test_registry_names_are_stable_kebab_case_and_match() -> None:
    assert set(STRATEGIES) == {
        "production-least-confidence",
        "production-margin",
        "production-entropy",
        "online-least-confidence",
        "online-margin",
        "online-entropy",
        "committee-vote-entropy",
        "committee-kl",
        "committee-bald",
        "combined",
    }
    for name in STRATEGIES:
        s = make_strategy(name)
        assert s.name == name
        assert s.needs and s.needs <= {"production", "online", "committee"}


def test_unknown_strategy_names_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"'bogus'.*committee-bald.*production-margin"):
        make_strategy("bogus")


INPUTS = [
    ScoringInputs(),
    ScoringInputs(production={"a": 0.7, "b": 0.3}),
    ScoringInputs(online={"a": 0.2, "b": 0.3, "c": 0.5}),
    ScoringInputs(
        production={"x": 0.1, "y": 0.9},
        online={"x": 0.6, "y": 0.4},
        committee=[{"x": 0.9, "y": 0.1}, {"x": 0.4, "y": 0.6}, {}],
    ),
]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name: str) -> None:
    s = make_strategy(name)
    assert repr(s).startswith(type(s).__name__ + "(")
    twin = s.clone()  # type: ignore[attr-defined]
    assert twin is not s and repr(twin) == repr(s)
    restored = pickle.loads(pickle.dumps(s))
    for inputs in INPUTS:
        before = copy.deepcopy(inputs)
        score = s.score_one(inputs)
        assert 0.0 <= score <= 1.0
        assert score == s.score_one(inputs) == twin.score_one(inputs) == restored.score_one(inputs)
        assert inputs == before


BAD_PARAMS: list[tuple[str, dict[str, Any]]] = [
    *[(n, {"n_classes": v}) for n in sorted(STRATEGIES) if n != "combined" for v in (1, 0, 2.5)],
    *[("production-entropy", {"n_classes": v}) for v in (True, "3", -4)],
    ("production-entropy", {"bogus": 1}),
    ("combined", {"weight": 1.5}),
    ("combined", {"weight": -0.1}),
    ("combined", {"weight": "half"}),
    ("combined", {"weight": True}),
    ("combined", {"a": "nope"}),
    ("combined", {"b": 42}),
    ("combined", {"n_classes": 3}),
]


@pytest.mark.parametrize(("name", "params"), BAD_PARAMS)
def test_parameter_validation(name: str, params: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        make_strategy(name, **params)


def test_good_parameters_accepted() -> None:
    assert make_strategy("production-entropy", n_classes=2).n_classes == 2  # type: ignore[attr-defined]
    assert make_strategy("combined", weight=0).weight == 0  # type: ignore[attr-defined]
    assert make_strategy("combined", weight=1.0, a="online-margin").needs == {"online", "committee"}
