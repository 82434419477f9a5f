"""AdaptiveTree: river's adaptive tree with its classes in a reproducible order."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from typing import Any

import pytest
from river import tree
from river.datasets import synth

from streamsift.core.compiled import CompiledHat
from streamsift.core.online import OnlineModel, hat_predict_proba
from streamsift.core.trees import AdaptiveTree, OrderedClasses

LABELS = ["sky", "cement", "window", "path", "foliage", "grass", "brickface"]


def _bits(proba: dict[Any, float]) -> list[tuple[Any, str]]:
    return [(k, repr(v)) for k, v in proba.items()]


def _agrawal_named(n: int) -> list[tuple[dict[str, Any], str]]:
    """A drifting Agrawal stream with string labels (the hash-ordered case)."""
    stream = synth.ConceptDriftStream(
        stream=synth.Agrawal(seed=1, classification_function=2),
        drift_stream=synth.Agrawal(seed=2, classification_function=5),
        position=n // 2,
        width=50,
        seed=3,
    )
    return [(x, LABELS[int(y) * 3]) for x, y in stream.take(n)]


@pytest.mark.parametrize("leaf_prediction", ["mc"])
def test_same_predictions_as_rivers_tree_up_to_the_key_order(leaf_prediction: str) -> None:
    """Majority-class leaves: river's tree. (Naive-Bayes leaves predict with
    ``core.leaf_bayes``, tests/core/test_leaf_bayes.py.)"""
    ours = AdaptiveTree(grace_period=50, delta=1e-5, leaf_prediction=leaf_prediction, seed=7)
    rivers = tree.HoeffdingAdaptiveTreeClassifier(
        grace_period=50,
        delta=1e-5,
        leaf_prediction=leaf_prediction,
        seed=7,
        bootstrap_sampling=False,
    )
    data = _agrawal_named(4_000)
    for i, (x, y) in enumerate(data):
        if i % 7 == 0:
            mine, theirs = ours.predict_proba_one(x), rivers.predict_proba_one(x)
            assert mine.keys() == theirs.keys()
            assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-15)
        ours.learn_one(x, y)
        rivers.learn_one(x, y)
    assert ours.n_nodes == rivers.n_nodes > 1
    assert list(ours.classes) == ["sky", "path"]  # first seen first


def test_the_fast_paths_give_the_tree_s_probabilities_in_its_order() -> None:
    model = AdaptiveTree(grace_period=50, delta=1e-5, seed=3)
    data = _agrawal_named(3_000)
    for x, y in data[:2_500]:
        model.learn_one(x, y)
    compiled = CompiledHat(model)
    for x, _ in data[2_500:]:
        want = _bits(model.predict_proba_one(x))
        assert _bits(hat_predict_proba(model, x)) == want
        assert _bits(compiled.predict(x)) == want


def test_the_registry_s_trees_are_reproducible_and_take_the_fast_path() -> None:
    online = OnlineModel("hoeffding", seed=1)
    assert type(list(online.model.steps.values())[-1]) is AdaptiveTree
    for name in ("hoeffding", "hoeffding-nb"):
        model = OnlineModel(name, seed=1).model
        assert isinstance(list(model.steps.values())[-1].classes, OrderedClasses)


_PROBE = """
from river.datasets import synth
from streamsift.core.models import make_model
labels = {labels!r}
model = make_model({name!r}, seed=0)
for i, (x, y) in enumerate(synth.SEA(seed=4).take(400)):
    model.learn_one(x, labels[(int(y) + i) % len(labels)])
print(list(model.predict_proba_one({{0: 5.0, 1: 5.0, 2: 5.0}})))
"""


def test_the_class_order_does_not_depend_on_string_hashing() -> None:
    orders = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", _PROBE.format(labels=LABELS, name="hoeffding")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        orders.add(out.stdout.strip())
    first_seen: dict[str, None] = {}
    for i, (_, y) in enumerate(synth.SEA(seed=4).take(400)):
        first_seen.setdefault(LABELS[(int(y) + i) % len(LABELS)], None)
    assert orders == {repr(list(first_seen))}


def test_clone_and_pickle_keep_the_order_and_the_predictions() -> None:
    model = AdaptiveTree(grace_period=50, leaf_prediction="nb", seed=2)
    data = _agrawal_named(800)
    for x, y in data[:700]:
        model.learn_one(x, y)
    clone = model.clone()
    assert (type(clone), clone.leaf_prediction, clone._root) == (AdaptiveTree, "nb", None)
    assert isinstance(clone.classes, OrderedClasses) and not clone.classes
    copy = pickle.loads(pickle.dumps(model))
    assert isinstance(copy.classes, OrderedClasses)
    for x, _ in data[700:]:
        assert _bits(copy.predict_proba_one(x)) == _bits(model.predict_proba_one(x))


# -- forgetting the leaves (the response to a concept change) ----------------------


def test_forget_leaves_keeps_the_branches_and_resets_every_leaf() -> None:
    model = AdaptiveTree(grace_period=50, delta=1e-3, seed=3)
    for x, y in synth.SEA(seed=3).take(3_000):
        model.learn_one(x, y)
    branches_before = model.n_branches
    leaves = model.all_leaves()
    assert len(leaves) >= 2 and all(leaf.total_weight > 10 for leaf in leaves)
    assert model.forget_leaves() == len(leaves)
    assert model.n_branches == branches_before  # the structure stays
    for leaf in model.all_leaves():
        assert leaf.stats and all(0.0 < w <= 1.0 for w in leaf.stats.values())
        assert leaf.splitters == {}
        assert (leaf._mc_correct_weight, leaf._nb_correct_weight) == (0.0, 0.0)
        assert leaf.last_split_attempt_at == 0.0
        assert not leaf.nb_tables()[1]  # priors only: no attribute statistics
    # and it goes on learning (the next split attempt after a grace period)
    for x, y in synth.SEA(seed=4).take(500):
        model.learn_one(x, y)
    assert all(leaf.total_weight >= 1.0 for leaf in model.all_leaves())


def test_forget_leaves_reaches_the_alternate_subtrees_and_an_empty_tree() -> None:
    assert AdaptiveTree(seed=1).forget_leaves() == 0
    model = AdaptiveTree(grace_period=50, delta=1e-3, seed=3)
    for x, y in synth.SEA(seed=3).take(2_000):
        model.learn_one(x, y)
    root = model._root
    assert hasattr(root, "children")
    root._alternate_tree = model._new_leaf(parent=root)  # as river starts one
    root._alternate_tree.learn_one({"x": 1.0}, True, tree=model)
    assert root._alternate_tree.total_weight == 1.0
    root._alternate_tree.stats[True] = 7.0
    n = len(model.all_leaves())
    assert n == len(list(root.iter_leaves())) + 1  # river's iteration misses the root's
    assert model.forget_leaves() == n
    assert root._alternate_tree.stats == {True: 1.0}


def test_forget_leaves_keep_bounds_each_class_weight() -> None:
    model = AdaptiveTree(grace_period=1_000, seed=1)
    for i in range(100):
        model.learn_one({"a": float(i % 7)}, "x" if i % 4 else "y")
    model.forget_leaves(keep=0.25)
    assert model._root.stats == {"x": 0.25, "y": 0.25}


# -- the leaves' choice between naive Bayes and the majority class -------------------


def _tallies(model: AdaptiveTree) -> list[tuple[float, float]]:
    return [(leaf._mc_correct_weight, leaf._nb_correct_weight) for leaf in model.all_leaves()]


@pytest.mark.parametrize("evidence", [0.5, 2.0, 3.0])
def test_evidence_weight_scales_the_leaves_tallies_and_nothing_else(evidence: float) -> None:
    data = list(synth.SEA(seed=5).take(400))
    plain, weighted = AdaptiveTree(grace_period=50, seed=5), AdaptiveTree(grace_period=50, seed=5)
    for x, y in data:
        plain.learn_one(x, y)
        weighted.evidence_weight = evidence
        weighted.learn_one(x, y)
        weighted.evidence_weight = 1.0
    # The same structure and statistics (learning is unweighted) ...
    assert plain.n_nodes == weighted.n_nodes
    assert [leaf.stats for leaf in plain.all_leaves()] == [
        leaf.stats for leaf in weighted.all_leaves()
    ]
    # ... and tallies scaled by the evidence: every hit counted ``evidence`` times.
    for (mc, nb), (mc_w, nb_w) in zip(_tallies(plain), _tallies(weighted), strict=True):
        assert mc > 0 and nb > 0
        assert mc_w == pytest.approx(evidence * mc) and nb_w == pytest.approx(evidence * nb)


def test_a_tree_pickled_before_the_evidence_weight_counts_each_label_once() -> None:
    model = AdaptiveTree(grace_period=50, seed=6)
    for x, y in synth.SEA(seed=6).take(200):
        model.learn_one(x, y)
    model.__dict__.pop("evidence_weight", None)  # an older pickle has no such attribute
    copy = pickle.loads(pickle.dumps(model))
    assert copy.evidence_weight == 1.0
