"""OnlineModel: warm-up rule, prequential accuracy, weights, labels, pickling."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import pytest

from streamsift.core import online as online_module
from streamsift.core.online import OnlineModel
from streamsift.errors import ConfigurationError, SchemaError

from .test_models import mixed_stream


class _Constant:
    """Always predicts ``"a"``; records the weights it is taught with."""

    def __init__(self) -> None:
        self.weights: list[float] = []

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        return {"a": 0.9, "b": 0.1}

    def learn_one(self, x: dict[str, Any], y: Any, w: float = 1.0) -> None:
        self.weights.append(w)


class _Unweighted(_Constant):
    def learn_one(self, x: dict[str, Any], y: Any) -> None:  # type: ignore[override]
        self.weights.append(1.0)


@pytest.fixture
def constant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(online_module, "make_model", lambda name, seed: _Constant())


def feed(model: OnlineModel, labels: str, w: float = 1.0) -> list[bool]:
    """Learn one label per character; return is_warm after each."""
    warm = []
    for y in labels:
        model.learn_one({"x": 1.0}, y, w=w)
        warm.append(model.is_warm)
    return warm


@pytest.mark.usefixtures("constant")
def test_warm_once_enough_labels_and_two_equal_windows() -> None:
    model = OnlineModel(min_labels=20, stability_window=10, stability_tolerance=0.1)
    warm = feed(model, "a" * 25)
    assert warm.index(True) == 19  # the 20th label
    assert model.prequential_accuracy == 1.0


@pytest.mark.usefixtures("constant")
def test_not_warm_while_accuracy_still_moves() -> None:
    # misses for 10 labels, then hits: windows (n-19..n-10) and (n-9..n) differ by
    # (30 - n) / 10, which first falls to 0.1 at n = 29
    model = OnlineModel(min_labels=20, stability_window=10, stability_tolerance=0.1)
    warm = feed(model, "b" * 10 + "a" * 30)
    assert warm.index(True) == 28


@pytest.mark.usefixtures("constant")
def test_min_labels_dominates_and_warm_latches() -> None:
    model = OnlineModel(min_labels=50, stability_window=10, stability_tolerance=0.0)
    warm = feed(model, "a" * 60)
    assert warm.index(True) == 49
    assert all(feed(model, "b" * 40))  # accuracy collapses, still warm
    assert model.prequential_accuracy == 0.0


@pytest.mark.usefixtures("constant")
def test_zero_tolerance_needs_exactly_equal_windows() -> None:
    model = OnlineModel(min_labels=0, stability_window=4, stability_tolerance=0.0)
    assert feed(model, "abab" + "abab") == [False] * 7 + [True]


@pytest.mark.usefixtures("constant")
def test_prequential_accuracy_over_last_window() -> None:
    model = OnlineModel(stability_window=4)
    assert model.prequential_accuracy == 0.0
    feed(model, "aaaaab")
    assert model.prequential_accuracy == 0.75
    feed(model, "bb")
    assert model.prequential_accuracy == 0.25


@pytest.mark.usefixtures("constant")
@pytest.mark.parametrize(
    ("clip", "w", "taught"), [(10.0, 25.0, 10.0), (10.0, 4.0, 4.0), (None, 25.0, 25.0)]
)
def test_weight_clipping(clip: float | None, w: float, taught: float) -> None:
    model = OnlineModel(weight_clip=clip)
    model.learn_one({"x": 1}, "a", w=w)
    assert model.model.weights == [taught]  # type: ignore[attr-defined]


def test_unweighted_models_get_stochastically_rounded_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(online_module, "make_model", lambda name, seed: _Unweighted())
    model = OnlineModel(base_model="naive-bayes")
    for _ in range(2000):
        model.learn_one({"x": 1}, "a", w=2.5)
    assert len(model.model.weights) / 2000 == pytest.approx(2.5, abs=0.05)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("constant")
def test_classes_labels_and_label_types() -> None:
    model = OnlineModel()
    assert model.classes == [] and model.labels_seen == 0
    assert model.can_learn_label("a") and model.can_learn_label(3) and model.can_learn_label(True)
    for bad in (None, 1.5, float("nan"), ["a"], ("a",), b"a"):
        assert not model.can_learn_label(bad)
    feed(model, "cab")
    assert model.classes == ["a", "b", "c"] and model.labels_seen == 3
    assert not model.can_learn_label(1)  # not the type seen so far
    with pytest.raises(SchemaError, match="unlearnable_label"):
        model.learn_one({"x": 1}, 1)
    for w in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(SchemaError, match="invalid_weight"):
            model.learn_one({"x": 1}, "a", w=w)
    assert model.labels_seen == 3


def test_version() -> None:
    model = OnlineModel()
    assert model.version == 0
    assert model.bump_version() == 1 and model.bump_version() == 2
    assert model.version == 2
    assert model.clone().version == 0


def test_committee_probas() -> None:
    assert OnlineModel().committee_probas({"a": 1.0}) == []
    assert OnlineModel().committee is None
    model = OnlineModel(committee_size=3, families=["naive-bayes", "logreg"])
    for x, y in mixed_stream(60):
        model.learn_one(x, y)
    probas = model.committee_probas(mixed_stream(1, seed=3)[0][0])
    assert len(probas) == 3 and all(set(p) == {"yes", "no"} for p in probas)


def test_real_model_pickle_clone_and_inputs() -> None:
    model = OnlineModel(committee_size=2, seed=4, min_labels=50, stability_window=20)
    data = mixed_stream(240, seed=2)
    for x, y in data[:200]:
        before = copy.deepcopy(x)
        model.learn_one(x, y, w=1.5)
        assert repr(x) == repr(before)
    restored = pickle.loads(pickle.dumps(model))
    for x, y in data[200:]:
        model.learn_one(x, y)
        restored.learn_one(x, y)
    probe = [x for x, _ in mixed_stream(10, seed=8)]
    assert [model.predict_proba_one(x) for x in probe] == [
        restored.predict_proba_one(x) for x in probe
    ]
    assert [model.committee_probas(x) for x in probe] == [
        restored.committee_probas(x) for x in probe
    ]
    assert restored.is_warm == model.is_warm
    assert restored.prequential_accuracy == model.prequential_accuracy > 0.6
    fresh = model.clone()
    assert repr(fresh) == repr(model)
    assert fresh.labels_seen == 0 and fresh.predict_one(probe[0]) is None
    twin = OnlineModel(committee_size=2, seed=4, min_labels=50, stability_window=20)
    for x, y in data[:200]:
        twin.learn_one(x, y, w=1.5)
    for x, y in data[200:]:
        twin.learn_one(x, y)
    assert [twin.predict_proba_one(x) for x in probe] == [model.predict_proba_one(x) for x in probe]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"base_model": "nope"}, "base_model"),
        ({"committee_size": 1}, "committee_size"),
        ({"committee_size": -2}, "committee_size"),
        ({"committee_size": 2.0}, "committee_size"),
        ({"seed": "0"}, "seed"),
        ({"families": []}, "families"),
        ({"families": ["nope"]}, "families"),
        ({"min_labels": -1}, "min_labels"),
        ({"min_labels": 1.5}, "min_labels"),
        ({"stability_window": 0}, "stability_window"),
        ({"stability_window": True}, "stability_window"),
        ({"stability_tolerance": -0.01}, "stability_tolerance"),
        ({"stability_tolerance": 1.5}, "stability_tolerance"),
        ({"stability_tolerance": "0.1"}, "stability_tolerance"),
        ({"weight_clip": 0.5}, "weight_clip"),
        ({"weight_clip": math.inf}, "weight_clip"),
        ({"weight_clip": math.nan}, "weight_clip"),
        ({"weight_clip": "10"}, "weight_clip"),
    ],
)
def test_parameter_validation(params: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        OnlineModel(**params)


@pytest.mark.usefixtures("constant")
def test_cold_start_is_bounded_even_if_accuracy_keeps_moving() -> None:
    # Alternating hit/miss blocks never give two equal windows at zero tolerance.
    model = OnlineModel(min_labels=10, stability_window=5, stability_tolerance=0.0)
    labels = ("aaaab" + "bbbba") * 6
    warm = feed(model, labels)
    assert warm.index(True) == 19  # max(2 * 10, 2 * 5) = 20 labels
    capped = OnlineModel(
        min_labels=10, stability_window=5, stability_tolerance=0.0, max_warmup_labels=12
    )
    assert feed(capped, labels).index(True) == 11


def test_hat_predict_proba_is_rivers_to_the_bit_through_drift_and_alternate_trees() -> None:
    """The default model's prediction path without river's deep copies gives the same
    dicts (values and key order) as river's own ``predict_proba_one``, including
    instances that reach several leaves (alternate trees after a drift)."""
    from river.datasets import synth
    from river.tree.base import Branch

    from streamsift.core.online import hat_predict_proba
    from streamsift.core.trees import AdaptiveTree

    for seed in (0, 2):  # (seeds whose trees grow alternate subtrees)
        hat = AdaptiveTree(grace_period=50, leaf_prediction="nba", delta=1e-5, seed=seed)
        data = synth.ConceptDriftStream(
            synth.Agrawal(seed=seed, classification_function=0),
            synth.Agrawal(seed=seed, classification_function=4),
            seed=seed,
            position=4000,
            width=100,
        ).take(12_000)
        several = 0
        for i, (x, y) in enumerate(data):
            if i % 3 == 0:
                ours, river_s = hat_predict_proba(hat, x), hat.predict_proba_one(x)
                assert ours == river_s and list(ours) == list(river_s)
                missing = {k: v for k, v in x.items() if k != list(x)[i % len(x)]}
                ours, river_s = hat_predict_proba(hat, missing), hat.predict_proba_one(missing)
                assert ours == river_s and list(ours) == list(river_s)
                root = hat._root
                if isinstance(root, Branch) and len(root.traverse(x, until_leaf=True)) > 1:
                    several += 1
            hat.learn_one(x, y)
        assert several > 0


def test_online_model_predicts_as_its_river_model_and_pickles_without_its_cache() -> None:
    from river.datasets import synth

    online = OnlineModel("hoeffding", min_labels=10, stability_window=10)
    data = list(synth.SEA(seed=3).take(800))
    assert online.predict_proba_one(data[0][0]) == online.model.predict_proba_one(data[0][0])
    for x, y in data[:600]:
        online.learn_one(x, y, w=1.0)
    for x, _ in data[600:]:
        assert online.predict_proba_one(x) == online.model.predict_proba_one(x)
    restored = pickle.loads(pickle.dumps(online))
    assert "_fast" not in restored.__dict__
    assert restored.predict_proba_one(data[0][0]) == online.predict_proba_one(data[0][0])
    logreg = OnlineModel("logreg", min_labels=10, stability_window=10)
    for x, y in data[:100]:
        logreg.learn_one(x, y, w=1.0)
    assert logreg.predict_proba_one(data[0][0]) == logreg.model.predict_proba_one(data[0][0])


def test_evidence_reaches_the_tree_for_one_label_only_and_is_validated() -> None:
    from streamsift.core.online import _fast_tree

    model = OnlineModel("hoeffding")
    hat = _fast_tree(model.model)[1]  # type: ignore[index]
    model.learn_one({"a": 1.0}, "x")
    before = hat._root._mc_correct_weight
    model.learn_one({"a": 1.0}, "x", evidence=2.5)
    assert hat._root._mc_correct_weight == pytest.approx(before + 2.5)
    assert hat.evidence_weight == 1.0  # put back
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(SchemaError, match="evidence"):
            model.learn_one({"a": 1.0}, "x", evidence=bad)
