"""CompiledHat: the compiled adaptive tree gives river's probabilities to the bit."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

from river import tree
from river.datasets import synth

from streamsift.core import compiled as compiled_module
from streamsift.core.compiled import CompiledHat
from streamsift.core.models import _clean, make_model
from streamsift.core.online import OnlineModel, hat_predict_proba
from streamsift.tools.synthetic import SyntheticStream


def _bits(proba: dict[Any, float]) -> list[tuple[Any, str]]:
    """Keys in order and each value's repr (distinguishes every bit but NaN payloads)."""
    return [(k, repr(v)) for k, v in proba.items()]


def _holed(x: dict[str, Any], i: int) -> dict[str, Any]:
    """``x`` with some values missing: None, NaN or absent."""
    x = dict(x)
    keys = sorted(x)
    if i % 5 == 1:
        x[keys[i % len(keys)]] = None
    if i % 7 == 2:
        x[keys[(i + 1) % len(keys)]] = math.nan
    if i % 9 == 4:
        del x[keys[(i + 2) % len(keys)]]
    return x


def _kinds(node: tuple[Any, ...] | None, out: set[int]) -> set[int]:
    if node is None:
        return out
    out.add(node[0])
    if node[0] in (compiled_module._NUM, compiled_module._NOM):
        _kinds(node[3], out)
        _kinds(node[4], out)
    elif node[0] == compiled_module._MULTI:
        for child in node[2].values():
            _kinds(child, out)
    return out


def _check_stream(data: list[tuple[dict[str, Any], Any]], every: int = 250) -> dict[str, int]:
    """Learn ``data`` with the default pipeline; every ``every`` labels compare the
    compiled tree with hat_predict_proba and river on the next events (some holed)."""
    model = make_model("hoeffding", seed=3)
    hat = list(model.steps.values())[-1]
    counts = {"events": 0, "fallbacks": 0, "alternates": 0, "compiled_nb": 0}
    for i, (x, y) in enumerate(data):
        if i % every == every - 1:
            compiled = CompiledHat(hat)
            kinds = _kinds(compiled._root, set())
            counts["compiled_nb"] += compiled_module._NB in kinds
            counts["alternates"] += any(
                getattr(n, "_alternate_tree", None) for n in _nodes(hat._root)
            )
            for j, (x2, _) in enumerate(data[i + 1 : i + 1 + every]):
                xh = _holed(x2, j)
                want = model.predict_proba_one(dict(xh))
                assert _bits(hat_predict_proba(hat, _clean(xh))) == _bits(want)
                assert _bits(compiled.predict(xh)) == _bits(want)
                assert _bits(compiled.predict(_clean(xh))) == _bits(want)
                counts["events"] += 1
            counts["fallbacks"] += compiled.fallbacks
        model.learn_one(x, y)
    return counts


def _nodes(node: Any) -> list[Any]:
    out = [node] if node is not None else []
    for child in getattr(node, "children", None) or []:
        if child is not None:
            out.extend(_nodes(child))
    return out


def test_compiled_equals_river_on_categorical_three_class_stream() -> None:
    data = [(e.features, e.label) for e in SyntheticStream(seed=4).take(6_000)]
    counts = _check_stream(data)
    assert counts["events"] > 5_000
    assert counts["compiled_nb"] > 0  # naive-Bayes leaves with nominal and numeric features


def test_compiled_equals_river_through_drift_with_alternate_trees() -> None:
    stream = synth.ConceptDriftStream(
        stream=synth.Agrawal(seed=1, classification_function=0),
        drift_stream=synth.Agrawal(seed=2, classification_function=4),
        position=3_000,
        width=50,
        seed=3,
    )
    counts = _check_stream(list(stream.take(9_000)))
    assert counts["alternates"] > 0  # the drift grew alternate trees
    assert counts["fallbacks"] > 0  # events on their paths were asked to river


def test_majority_class_and_naive_bayes_options_and_a_leaf_root() -> None:
    data = list(synth.SEA(seed=5).take(1_500))
    for option in ("mc", "nb", "nba"):
        hat = tree.HoeffdingAdaptiveTreeClassifier(grace_period=30, leaf_prediction=option, seed=1)
        compiled = CompiledHat(hat)
        assert compiled.predict({"a": 1.0}) == hat_predict_proba(hat, {"a": 1.0})
        for n, (x, y) in enumerate(data[:1_200]):
            hat.learn_one(x, y)
            if n in (10, 600, 1_199):
                compiled = CompiledHat(hat)
                for x2, _ in data[1_200:1_300]:
                    assert _bits(compiled.predict(x2)) == _bits(hat.predict_proba_one(x2))


def test_predict_proba_many_recompiles_after_learning_and_is_not_pickled() -> None:
    rng = random.Random(0)
    online = OnlineModel("hoeffding", seed=2)
    data = [(e.features, e.label) for e in SyntheticStream(seed=9).take(2_000)]
    compiled_ids = set()
    for start in range(0, 1_600, 400):
        for x, y in data[start : start + 400]:
            online.learn_one(x, y)
        xs = [_holed(x, rng.randrange(20)) for x, _ in data[1_600:]]
        many = online.predict_proba_many(xs)
        assert [_bits(p) for p in many] == [_bits(online.predict_proba_one(x)) for x in xs]
        compiled_ids.add(id(online.__dict__["_compiled"][1]))
        assert online.predict_proba_many(xs[:3]) == many[:3]  # the same compiled tree
    assert len(compiled_ids) == 4
    restored = pickle.loads(pickle.dumps(online))
    assert "_compiled" not in restored.__dict__
    xs = [x for x, _ in data[1_900:]]
    # (not == online's: unpickling rebuilds river's set of classes, whose order, and
    # with it the order of the sums, may differ; river's own predictions differ alike)
    assert [_bits(p) for p in restored.predict_proba_many(xs)] == [
        _bits(restored.predict_proba_one(x)) for x in xs
    ]


def test_predict_proba_many_other_models_and_empty() -> None:
    data = [(e.features, e.label) for e in SyntheticStream(seed=1).take(400)]
    for name in ("logreg", "hoeffding-static", "hoeffding"):
        online = OnlineModel(name, seed=1)
        xs = [x for x, _ in data[300:]]
        assert online.predict_proba_many(xs) == [online.predict_proba_one(x) for x in xs]
        for x, y in data[:300]:
            online.learn_one(x, y)
        assert online.predict_proba_many(xs) == [online.predict_proba_one(x) for x in xs]
        assert online.predict_proba_many([]) == []
