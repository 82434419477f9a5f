"""Tier 1: the promotion gate's verdicts, bounds and parameter checks."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamsift.core.promotion import PromotionGate, PromotionVerdict
from streamsift.errors import ConfigurationError


class Table:
    """Predicts from a lookup of x["i"]; counts calls."""

    def __init__(self, answers: dict[int, str]) -> None:
        self.answers, self.calls = answers, 0

    def predict_one(self, x: dict[str, int]) -> str | None:
        self.calls += 1
        return self.answers.get(x["i"])


def filled(n: int, window: int = 100, min_labels: int = 10, max_drop: float = 0.1) -> PromotionGate:
    gate = PromotionGate(window=window, min_labels=min_labels, max_drop=max_drop)
    for i in range(n):
        gate.observe({"i": i}, "a" if i % 2 else "b")
    return gate


def truth(n: int, wrong: int = 0) -> Table:
    """Right on items wrong..n-1, wrong on the first ``wrong`` items."""
    right = {i: "a" if i % 2 else "b" for i in range(n)}
    return Table({i: ("x" if i < wrong else y) for i, y in right.items()})


def test_exact_verdicts() -> None:
    gate = filled(20)
    assert gate.judge(truth(20, wrong=4), truth(20, wrong=2)) == PromotionVerdict(
        True, "not_worse", 20, 0.8, 0.9
    )  # 0.1 below: the boundary passes
    assert gate.judge(truth(20, wrong=5), truth(20)) == PromotionVerdict(
        False, "worse", 20, 0.75, 1.0
    )
    assert gate.judge(truth(20), truth(20, wrong=20)).reason == "not_worse"  # a real change


def test_first_and_too_few_labels_promote_unjudged() -> None:
    bad, good = truth(20, wrong=20), truth(20)
    first = filled(20).judge(bad, None)
    assert first.promote and first.reason == "first" and math.isnan(first.candidate_accuracy)
    few = filled(9).judge(bad, good)
    assert few.promote and few.reason == "too_few_labels" and few.labels == 9
    assert bad.calls == 0 and good.calls == 0  # nothing scored


def test_the_window_keeps_the_latest_labels_only() -> None:
    gate = filled(250, window=100)
    assert len(gate) == 100
    # Wrong on every item before 150: the gate only sees 150..249, where it is right.
    model = Table({i: ("a" if i % 2 else "b") if i >= 150 else "z" for i in range(250)})
    verdict = gate.judge(model, truth(250))
    assert verdict.candidate_accuracy == 1.0 and model.calls == 100
    gate.clear()
    assert len(gate) == 0


def test_disabled_gate_promotes_anything() -> None:
    assert filled(20, max_drop=1.0).judge(truth(20, wrong=20), truth(20)).promote


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window"),
        ({"window": 2.5}, "window"),
        ({"window": True}, "window"),
        ({"min_labels": 0}, "min_labels"),
        ({"window": 10, "min_labels": 11}, "exceeds"),
        ({"max_drop": -0.1}, "max_drop"),
        ({"max_drop": 1.5}, "max_drop"),
        ({"max_drop": math.nan}, "max_drop"),
        ({"max_drop": "0.1"}, "max_drop"),
    ],
)
def test_parameter_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        PromotionGate(**kwargs)  # type: ignore[arg-type]


def test_repr_and_pickle_round_trip() -> None:
    gate = filled(30)
    assert repr(gate) == "PromotionGate(window=100, min_labels=10, max_drop=0.1)"
    copy = pickle.loads(pickle.dumps(gate))
    assert len(copy) == 30 and copy.judge(truth(30), truth(30, wrong=3)) == gate.judge(
        truth(30), truth(30, wrong=3)
    )


@given(
    n=st.integers(0, 60),
    wrong_c=st.integers(0, 60),
    wrong_p=st.integers(0, 60),
    drop=st.floats(0, 1),
)
def test_verdict_properties(n: int, wrong_c: int, wrong_p: int, drop: float) -> None:
    gate = filled(n, window=50, min_labels=5, max_drop=drop)
    cand, pub = truth(60, wrong=wrong_c), truth(60, wrong=wrong_p)
    verdict = gate.judge(cand, pub)
    assert verdict.labels == min(n, 50)
    assert gate.judge(pub, pub).promote  # a model never fails against itself
    if verdict.reason in ("worse", "not_worse"):
        assert 0 <= verdict.candidate_accuracy <= 1 and 0 <= verdict.published_accuracy <= 1
        gap = verdict.published_accuracy - verdict.candidate_accuracy
        assert verdict.promote == (gap <= drop + 1e-12)
    if wrong_c <= wrong_p:  # never worse than the published model: always promoted
        assert verdict.promote


def test_online_models_are_scored_on_their_batch_path_with_the_same_predictions() -> None:
    from streamsift.core.online import OnlineModel
    from streamsift.tools.synthetic import SyntheticStream

    class OneByOne:
        def __init__(self, model: OnlineModel) -> None:
            self.model = model

        def predict_one(self, x: dict[str, object]) -> object:
            return self.model.predict_one(x)

    stream = SyntheticStream(seed=4)
    model, gate = OnlineModel(seed=1), PromotionGate(window=400, min_labels=10)
    for i in range(1_500):
        e = stream.event_at(i)
        model.learn_one(e.features, e.label)
        if i >= 1_100:
            gate.observe(e.features, e.label)
    other = OnlineModel(seed=2)
    for i in range(1_500, 1_700):
        e = stream.event_at(i)
        other.learn_one(e.features, e.label)
    fast = gate.judge(model, other)
    slow = gate.judge(OneByOne(model), OneByOne(other))  # type: ignore[arg-type]
    assert fast == slow and 0.5 < fast.candidate_accuracy < 1
