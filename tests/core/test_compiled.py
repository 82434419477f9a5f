"""CompiledHat: the compiled adaptive tree gives river's probabilities to the bit."""

from __future__ import annotations

import collections
import math
import pickle
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from river import tree
from river.datasets import synth

from streamsift.core import compiled as compiled_module
from streamsift.core.compiled import CompiledHat
from streamsift.core.models import _clean, make_model
from streamsift.core.online import OnlineModel, hat_predict_proba
from streamsift.core.trees import AdaptiveTree
from streamsift.tools.concept import CONCEPT_FEATURES
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
            xs, wants = [], []
            for j, (x2, _) in enumerate(data[i + 1 : i + 1 + every]):
                xh = _holed(x2, j)
                want = model.predict_proba_one(dict(xh))
                assert _bits(hat_predict_proba(hat, _clean(xh))) == _bits(want)
                assert _bits(compiled.predict(xh)) == _bits(want)
                assert _bits(compiled.predict(_clean(xh))) == _bits(want)
                xs.append(xh)
                wants.append(_bits(want))
                counts["events"] += 1
            counts["fallbacks"] += compiled.fallbacks
            assert [_bits(p) for p in CompiledHat(hat).predict_many(xs)] == wants
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
        hat = AdaptiveTree(grace_period=30, leaf_prediction=option, seed=1)
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


# -- predict_many: the batch path gives predict's probabilities to the bit ----------------


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _odd(x: dict[str, Any], i: int, rng: random.Random) -> dict[str, Any]:
    """``x`` holed (see :func:`_holed`), and for some ``i`` one value made awkward:
    a bool, an int, an infinity, a numpy scalar, a huge or tiny magnitude, -0.0 in
    a numeric feature; an unseen category, an int, a bool, a float or NaN in a
    categorical one."""
    x = _holed(x, i)
    keys = sorted(k for k in x if x[k] is not None)
    if not keys or i % 3 == 0:
        return x
    key = rng.choice(keys)
    value = x[key]
    if _numeric(value) and value == value:
        choices: list[Any] = [
            True,
            False,
            int(value),
            math.inf,
            -math.inf,
            np.float64(value),
            np.int64(int(value)),
            value * 1e90,
            value * 1e-300,
            5e-324,
            -0.0,
            0,
            float(int(value)),
        ]
    elif isinstance(value, str):
        choices = ["zz-unseen", 3, True, 1.5, math.nan, value + "-other"]
    else:
        return x
    x[key] = rng.choice(choices)
    return x


def _nan_holed(x: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``x`` with, for some events, NaN in place of one float."""
    x = dict(x)
    floats = sorted(k for k, v in x.items() if type(v) is float)
    if floats and rng.random() < 0.2:
        x[rng.choice(floats)] = math.nan
    return x


def _assert_many_is_one_by_one(
    hat: tree.HoeffdingAdaptiveTreeClassifier, xs: list[dict[str, Any]]
) -> list[dict[Any, float]]:
    many_tree = CompiledHat(hat)
    one_tree = CompiledHat(hat)
    many = many_tree.predict_many(xs)
    one = [one_tree.predict(x) for x in xs]
    assert [_bits(p) for p in many] == [_bits(p) for p in one]
    assert many_tree.fallbacks == one_tree.fallbacks
    return many


class _Spy:
    """Counts the events whose naive-Bayes sums the batch path computed."""

    def __init__(self, monkeypatch: Any) -> None:
        self.events = 0
        self.groups = 0
        self.nodes: list[Any] = []
        original = CompiledHat._nb_votes

        def spy(compiled: CompiledHat, node: Any, xs: list[dict[str, Any]]) -> Any:
            self.events += len(xs)
            self.groups += 1
            self.nodes.append(node)
            return original(compiled, node, xs)

        monkeypatch.setattr(CompiledHat, "_nb_votes", spy)


def _mixed_stream(seed: int, n: int) -> list[tuple[dict[str, Any], str]]:
    """Numeric (float, int, few distinct floats, constant within a class) and
    categorical features, three classes and a rare fourth one."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        y = rng.choice("aab c")
        y = "r" if i in (n // 3, n // 2) else ("b" if y == " " else y)
        shift = {"a": 0.0, "b": 1.0, "c": -1.5, "r": 4.0}[y]
        x: dict[str, Any] = {
            "f": rng.gauss(shift, 1.0),
            "n": rng.randrange(0, 20) + (3 if y == "b" else 0),
            "h": round(rng.gauss(shift, 2.0) * 2) / 2,
            "k": 1.0 if y == "a" else rng.random(),
            "cat": rng.choice(["u", "v", "w"] if y != "c" else ["v", "w", "w", "x"]),
            "ch": rng.choice(["p", "q"]),
        }
        out.append((x, y))
    return out


def _streams(seed: int) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    return {
        "sea": list(synth.SEA(seed=seed, noise=0.05).take(2_800)),
        "agrawal": list(synth.Agrawal(seed=seed, classification_function=2).take(2_800)),
        "hyperplane": list(synth.Hyperplane(seed=seed, n_features=6).take(2_800)),
        "synthetic": [(e.features, e.label) for e in SyntheticStream(seed=seed).take(2_800)],
        "mixed": _mixed_stream(seed, 2_800),
    }


def test_predict_many_equals_predict_on_synth_streams(monkeypatch: Any) -> None:
    spy = _Spy(monkeypatch)
    checked = 0
    for seed in (0, 1, 2):
        rng = random.Random(seed)
        for name, data in _streams(seed).items():
            option = ("nba", "nb")[seed % 2]
            nominal = ["elevel", "car", "zipcode"] if name == "agrawal" and seed else None
            hat = AdaptiveTree(
                grace_period=100,
                leaf_prediction=option,
                nominal_attributes=nominal,
                binary_split=seed == 2,
                seed=seed,
            )
            for n, (x, y) in enumerate(data[:2_400]):
                hat.learn_one(x, y)
                if n in (99, 700, 2_399):
                    rest = [x2 for x2, _ in data[2_400:]]
                    # awkward values; only NaN holes (float columns stay floats); none
                    _assert_many_is_one_by_one(hat, [_odd(x2, j, rng) for j, x2 in enumerate(rest)])
                    _assert_many_is_one_by_one(hat, [_nan_holed(x2, rng) for x2 in rest])
                    _assert_many_is_one_by_one(hat, [dict(x2) for x2 in rest])
                    checked += 3 * len(rest)
    assert checked > 50_000
    assert spy.groups > 50  # the batch path ran, on many leaves
    assert spy.events > 20_000


def _nominal_stream(seed: int, n: int) -> list[tuple[dict[str, Any], str]]:
    """The class mostly given by a category: trees that branch on it."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cat = rng.choice(["u", "v", "w", "x"])
        f = rng.gauss(0.0, 1.0)
        y = {"u": "a", "v": "b", "w": "a" if f > 0 else "c", "x": "c"}[cat]
        if rng.random() < 0.1:
            y = rng.choice("abc")
        x = {"cat": cat, "ch": rng.choice(["p", "q", "r"]), "f": f, "n": rng.randrange(10)}
        out.append((x, y))
    return out


def test_predict_many_on_nominal_branches(monkeypatch: Any) -> None:
    spy = _Spy(monkeypatch)
    for binary, kind in ((False, compiled_module._MULTI), (True, compiled_module._NOM)):
        data = _nominal_stream(3, 3_000)
        hat = AdaptiveTree(grace_period=100, leaf_prediction="nb", binary_split=binary, seed=3)
        for x, y in data[:2_500]:
            hat.learn_one(x, y)
        assert kind in _kinds(CompiledHat(hat)._root, set())
        rng = random.Random(3)
        rest = [x for x, _ in data[2_500:]]
        _assert_many_is_one_by_one(hat, rest)
        _assert_many_is_one_by_one(hat, [_odd(x, j, rng) for j, x in enumerate(rest)])
        _assert_many_is_one_by_one(hat, [_nan_holed(x, rng) for x in rest])
    assert spy.events > 1_000


def test_predict_many_unseen_classes_empty_classes_and_degenerate_gaussians(
    monkeypatch: Any,
) -> None:
    spy = _Spy(monkeypatch)
    data = _mixed_stream(7, 2_000)
    hat = AdaptiveTree(grace_period=60, leaf_prediction="nb", seed=7)
    for n, (x, y) in enumerate(data[:1_500]):
        hat.learn_one(x, y)
        if n % 97 == 0:
            hat.learn_one({}, "ghost", w=0.0)  # a class with no weight: no prior, no Gaussian
    rng = random.Random(7)
    xs = [_odd(x, j, rng) for j, (x, _) in enumerate(data[1_500:])]
    _assert_many_is_one_by_one(hat, xs)
    leaves = spy.nodes  # the leaves whose sums the batch path computed
    assert any(p == -math.inf for node in leaves for p in node[1])  # "ghost"
    assert any(  # a class with a Gaussian missing at a leaf (one value, or no variance)
        params is None
        for node in leaves
        for _, gauss, per_class in node[2]
        if gauss
        for params, prior in zip(per_class, node[1], strict=True)
        if prior is not None
    )
    assert any(len(node[5]) > len(node[1]) for node in leaves)  # classes unseen there


def test_predict_many_group_sizes_mappings_and_empty(monkeypatch: Any) -> None:
    spy = _Spy(monkeypatch)
    data = [(e.features, e.label) for e in SyntheticStream(seed=5).take(2_600)]
    hat = AdaptiveTree(grace_period=50, leaf_prediction="nb", seed=5)
    assert CompiledHat(hat).predict_many([{"amount": 1.0}]) == [{}]
    for x, y in data[:2_000]:
        hat.learn_one(x, y)
    xs = [x for x, _ in data[2_000:]]
    compiled = CompiledHat(hat)
    assert compiled.predict_many([]) == []
    for size in (1, compiled_module._MIN_GROUP - 1, compiled_module._MIN_GROUP, 100):
        _assert_many_is_one_by_one(hat, xs[:size])
    assert spy.events > 0
    # mappings other than plain dicts are read with .get, as predict reads them
    defaults = [collections.defaultdict(lambda: 5.0, x) for x in xs[:50]]
    for x in defaults:
        del x["hour"]
    _assert_many_is_one_by_one(hat, defaults)  # type: ignore[arg-type]
    assert all("hour" not in x for x in defaults)
    # events that lack a feature alongside complete ones; an iterator
    holed = [x if j % 4 else {k: v for k, v in x.items() if k != "plan"} for j, x in enumerate(xs)]
    many = compiled.predict_many(iter(holed))
    assert [_bits(p) for p in many] == [_bits(compiled.predict(x)) for x in holed]


def test_predict_many_raises_where_predict_raises() -> None:
    data = [(e.features, e.label) for e in SyntheticStream(seed=6).take(2_200)]
    hat = AdaptiveTree(grace_period=50, leaf_prediction="nb", seed=6)
    for x, y in data[:2_000]:
        hat.learn_one(x, y)
    xs = [dict(x) for x, _ in data[2_000:]]
    compiled = CompiledHat(hat)
    assert compiled.predict_many(xs)
    cases: list[tuple[str, Any]] = [
        ("tenure_months", "12"),  # a string where a Gaussian is expected
        ("tenure_months", 10**400),  # an int too large for a float
        ("sessions_7d", 1e200),  # (v - mean) ** 2 overflows
        ("plan", ["a", "list"]),  # unhashable category
    ]
    for key, value in cases:
        bad = [dict(x) for x in xs]
        for x in bad[::10]:
            x[key] = value
        with pytest.raises(Exception) as one:
            for x in bad:
                compiled.predict(x)
        with pytest.raises(one.type):
            compiled.predict_many(bad)


_ABSENT = object()

_FEATURE_VALUES = st.one_of(
    st.floats(min_value=-1e120, max_value=1e120),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324]),
    st.floats(min_value=-1e3, max_value=1e3),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.integers(min_value=0, max_value=30),
    st.booleans(),
    st.none(),
    st.sampled_from(["free", "pro", "team", "web", "app", "partner", "unseen"]),
)


@pytest.fixture(scope="module")
def _synthetic_hat() -> tree.HoeffdingAdaptiveTreeClassifier:
    data = [(e.features, e.label) for e in SyntheticStream(seed=8).take(2_500)]
    hat = AdaptiveTree(grace_period=50, leaf_prediction="nb", seed=8)
    for x, y in data:
        hat.learn_one(x, y)
    return hat


@settings(max_examples=60, deadline=None)
@given(
    base=st.lists(st.integers(min_value=0, max_value=2_499), min_size=48, max_size=96),
    changes=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=95),
            st.sampled_from(list(CONCEPT_FEATURES)),
            st.one_of(_FEATURE_VALUES, st.just(_ABSENT)),
        ),
        max_size=30,
    ),
)
def test_predict_many_property(
    _synthetic_hat: tree.HoeffdingAdaptiveTreeClassifier,
    base: list[int],
    changes: list[tuple[int, str, Any]],
) -> None:
    stream = SyntheticStream(seed=9)
    xs = [dict(stream.event_at(i).features) for i in base]
    for j, key, value in changes:
        x = xs[j % len(xs)]
        if value is _ABSENT:
            x.pop(key, None)
        else:
            x[key] = value
    one_tree = CompiledHat(_synthetic_hat)
    one: list[dict[Any, float]] = []
    raised: list[type[BaseException]] = []
    for x in xs:
        try:
            one.append(one_tree.predict(x))
        except Exception as exc:  # e.g. a string compared with a split threshold
            raised.append(type(exc))
    many_tree = CompiledHat(_synthetic_hat)
    event("raises" if raised else "compared")
    if raised:  # the batch raises too, one of the events' errors
        with pytest.raises(tuple(raised)):
            many_tree.predict_many(xs)
        return
    assert [_bits(p) for p in many_tree.predict_many(xs)] == [_bits(p) for p in one]
