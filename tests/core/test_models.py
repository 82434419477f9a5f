"""Base-model registry: every model learns mixed features, pickles, is seeded."""

from __future__ import annotations

import copy
import pickle
import random
from typing import Any

import pytest

from streamsift.core.models import BASE_MODELS, DEFAULT_BASE_MODEL, accepts_weight, make_model
from streamsift.errors import ConfigurationError


def mixed_stream(n: int, seed: int = 0) -> list[tuple[dict[str, Any], str]]:
    """Numbers, strings, booleans and missing values; the label depends on two of them."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.gauss(0.0, 1.0)
        colour = rng.choice(["red", "green", "blue"])
        x: dict[str, Any] = {
            "a": a,
            "b": rng.uniform(0, 100),
            "colour": colour,
            "flag": rng.random() < 0.5,
            "maybe": None if rng.random() < 0.3 else rng.random(),
            "nan": float("nan"),
        }
        y = "yes" if a + 1.5 * (colour == "red") > 0.5 else "no"
        out.append((x, y))
    return out


TRAIN = mixed_stream(200)
TEST = mixed_stream(20, seed=1)


def fitted(name: str, seed: int = 0) -> Any:
    model = make_model(name, seed)
    for x, y in TRAIN:
        model.learn_one(x, y)
    return model


def test_default_is_registered_and_names_are_kebab_case() -> None:
    assert DEFAULT_BASE_MODEL in BASE_MODELS
    for name in BASE_MODELS:
        assert name == name.lower() and " " not in name and "_" not in name


def test_unknown_model_names_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"'gpt'.*hoeffding.*logreg"):
        make_model("gpt", 0)


@pytest.mark.parametrize("name", sorted(BASE_MODELS))
def test_model_contract(name: str) -> None:
    untrained = make_model(name, 3)
    assert untrained.predict_proba_one(dict(TEST[0][0])) in ({}, {"no": 0.0, "yes": 0.0})
    model = fitted(name, seed=3)
    twin = fitted(name, seed=3)
    restored = pickle.loads(pickle.dumps(model))
    for x, _ in TEST:
        before = copy.deepcopy(x)
        proba = model.predict_proba_one(x)
        assert set(proba) == {"yes", "no"}
        assert sum(proba.values()) == pytest.approx(1.0)
        assert all(0.0 <= p <= 1.0 for p in proba.values())
        assert proba == twin.predict_proba_one(x) == restored.predict_proba_one(x)
        assert repr(x) == repr(before)  # NaN-safe equality
    # the restored copy keeps learning identically
    for x, y in TEST:
        model.learn_one(x, y)
        restored.learn_one(x, y)
    assert model.predict_proba_one(TEST[0][0]) == restored.predict_proba_one(TEST[0][0])
    # clone() gives an unfitted copy
    assert model.clone().predict_proba_one(TEST[0][0]) in ({}, {"no": 0.0, "yes": 0.0})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hoeffding", True),
        ("hoeffding-nb", True),
        ("hoeffding-static", True),
        ("logreg", True),
        ("softmax", False),
        ("naive-bayes", False),
        ("knn", False),
        ("arf-small", False),
    ],
)
def test_accepts_weight(name: str, expected: bool) -> None:
    assert accepts_weight(make_model(name, 0)) is expected


def test_default_model_learns_the_mixed_stream() -> None:
    model = make_model(DEFAULT_BASE_MODEL, 0)
    hits = 0
    for i, (x, y) in enumerate(mixed_stream(600, seed=5)):
        proba = model.predict_proba_one(x)
        if i >= 300 and proba:
            hits += max(proba, key=proba.__getitem__) == y
        model.learn_one(x, y)
    assert hits / 300 > 0.85


def test_naive_bayes_leaf_tree_takes_the_compiled_batch_path_with_equal_probabilities() -> None:
    from river.datasets import synth

    from streamsift.core.online import OnlineModel

    online = OnlineModel("hoeffding-nb", seed=0)
    data = list(synth.Agrawal(seed=3).take(1_700))
    for x, y in data[:1_500]:
        online.learn_one(x, y)
    xs = [x for x, _ in data[1_500:]]
    assert online.predict_proba_many(xs) == [online.predict_proba_one(x) for x in xs]
    assert "_compiled" in online.__dict__  # the compiled tree, not one by one
