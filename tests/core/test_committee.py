"""Committee: online bagging, seeding, mixed families, pickling, validation."""

from __future__ import annotations

import copy
import pickle
import random
from typing import Any

import pytest

from streamsift.core import committee as committee_module
from streamsift.core.committee import Committee, _poisson, mean_proba
from streamsift.errors import ConfigurationError

from .test_models import mixed_stream

TRAIN = mixed_stream(150)
TEST = [x for x, _ in mixed_stream(15, seed=1)]


def trained(**params: Any) -> Committee:
    c = Committee(**params)
    for x, y in TRAIN:
        c.learn_one(x, y)
    return c


def test_same_seed_same_predictions_different_seed_differs() -> None:
    a = trained(size=3, seed=1)
    b = trained(size=3, seed=1)
    c = trained(size=3, seed=2)
    assert [a.member_probas(x) for x in TEST] == [b.member_probas(x) for x in TEST]
    assert [a.member_probas(x) for x in TEST] != [c.member_probas(x) for x in TEST]


def test_members_differ_from_each_other() -> None:
    c = trained(size=3, seed=0)
    probas = [c.member_probas(x) for x in TEST]
    assert any(p[0] != p[1] or p[1] != p[2] for p in probas)


def test_predict_proba_is_mean_of_members() -> None:
    c = trained(size=4, seed=0)
    for x in TEST:
        members = c.member_probas(x)
        mean = c.predict_proba_one(x)
        assert mean == mean_proba(members)
        assert sum(mean.values()) == pytest.approx(1.0)
        assert c.predict_one(x) == max(mean, key=mean.__getitem__)


def test_untrained_committee_predicts_nothing() -> None:
    c = Committee(size=2)
    assert c.predict_proba_one(TEST[0]) == {}
    assert c.predict_one(TEST[0]) is None
    assert len(c.member_probas(TEST[0])) == 2


def test_pickle_round_trip_gives_identical_subsequent_predictions() -> None:
    c = trained(size=3, seed=7)
    restored = pickle.loads(pickle.dumps(c))
    more = mixed_stream(50, seed=9)
    for x, y in more:
        c.learn_one(x, y, w=2.0)
        restored.learn_one(x, y, w=2.0)
    assert [c.member_probas(x) for x in TEST] == [restored.member_probas(x) for x in TEST]


def test_inputs_not_mutated() -> None:
    c = Committee(size=2)
    for x, y in TRAIN[:30]:
        before = copy.deepcopy(x)
        c.learn_one(x, y)
        c.member_probas(x)
        assert repr(x) == repr(before)


def test_mixed_families_round_robin() -> None:
    c = Committee(size=5, families=["logreg", "hoeffding"])
    kinds = [type(list(m.steps.values())[-1]).__name__ for m in c.members]  # type: ignore[attr-defined]
    assert kinds == [
        "OneVsRestClassifier",
        "AdaptiveTree",
        "OneVsRestClassifier",
        "AdaptiveTree",
        "OneVsRestClassifier",
    ]


def test_clone_and_repr() -> None:
    c = trained(size=2, seed=5, families=("naive-bayes",), lambda_=2.0)
    twin = c.clone()
    expected = "Committee(base_model='hoeffding', size=2, seed=5, families=['naive-bayes'], "
    assert repr(twin) == repr(c) == expected + "lambda_=2.0)"
    assert twin.predict_proba_one(TEST[0]) == {}


def test_poisson_draws_have_the_right_mean() -> None:
    rng = random.Random(0)
    draws = [_poisson(1.0, rng) for _ in range(20_000)]
    assert sum(draws) / len(draws) == pytest.approx(1.0, abs=0.03)
    assert draws.count(0) / len(draws) == pytest.approx(0.3679, abs=0.01)


class _Spy:
    """A model recording how it is taught; ``weighted`` chooses its signature."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        return {}


class _WeightedSpy(_Spy):
    def learn_one(self, x: dict[str, Any], y: Any, w: float = 1.0) -> None:
        self.calls.append(w)


class _PlainSpy(_Spy):
    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        self.calls.append(1.0)


@pytest.mark.parametrize("spy", [_WeightedSpy, _PlainSpy])
def test_weights_reach_members_in_expectation(spy: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(committee_module, "make_model", lambda name, seed: spy())
    c = Committee(size=3, seed=0)
    for _ in range(3000):
        c.learn_one({"a": 1.0}, "y", w=2.5)
    for member in c.members:
        total = sum(member.calls)  # type: ignore[attr-defined]
        assert total / 3000 == pytest.approx(2.5, rel=0.06)
    if spy is _WeightedSpy:  # one call per nonzero draw, weight k * w
        calls = c.members[0].calls  # type: ignore[attr-defined]
        assert set(calls) <= {2.5 * k for k in range(1, 20)}
        assert len(calls) / 3000 == pytest.approx(1 - 0.3679, abs=0.03)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"base_model": "nope"}, ConfigurationError),
        ({"base_model": 3}, ConfigurationError),
        ({"size": 1}, ConfigurationError),
        ({"size": 0}, ConfigurationError),
        ({"size": 2.0}, ConfigurationError),
        ({"size": True}, ConfigurationError),
        ({"seed": "x"}, ConfigurationError),
        ({"seed": 1.5}, ConfigurationError),
        ({"families": []}, ConfigurationError),
        ({"families": "logreg"}, ConfigurationError),
        ({"families": ["logreg", "nope"]}, ConfigurationError),
        ({"lambda_": 0}, ConfigurationError),
        ({"lambda_": -1.0}, ConfigurationError),
        ({"lambda_": 100.0}, ConfigurationError),
        ({"lambda_": "1"}, ConfigurationError),
    ],
)
def test_parameter_validation(params: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(params))):
        Committee(**params)
