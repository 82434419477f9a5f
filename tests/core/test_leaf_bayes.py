"""Tier 1: naive Bayes in a tree leaf (``core.leaf_bayes``) and the tree using it.

River 0.26's leaf naive Bayes counts a likelihood of zero as one: a class seen once
in a leaf (a Gaussian with no spread) or never with the event's category wins. The
leaf's own rule gives such classes the leaf's pooled spread and a pseudo-count.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from river.tree.splitter import GaussianSplitter
from river.tree.splitter.nominal_splitter_classif import NominalSplitterClassif
from river.tree.utils import do_naive_bayes_prediction

from streamsift.core.leaf_bayes import Shares, leaf_tables, naive_bayes
from streamsift.core.trees import AdaptiveTree, NaiveBayesLeaf, leaf_naive_bayes

HALF_LOG_TAU = 0.5 * math.log(2 * math.pi)


def _leaf(rows: list[tuple[str, float, str]]) -> tuple[dict[str, float], dict[str, object]]:
    """Class weights and splitters of a leaf that learned ``(class, amount, channel)``."""
    amount, channel = GaussianSplitter(), NominalSplitterClassif()
    stats: dict[str, float] = {}
    for c, a, ch in rows:
        stats[c] = stats.get(c, 0.0) + 1.0
        amount.update(a, c, 1.0)
        channel.update(ch, c, 1.0)
    return stats, {"amount": amount, "channel": channel}


def _seed24_like() -> tuple[dict[str, float], dict[str, object]]:
    """A leaf like the one the end-to-end replay's seed 24 ended with: fraud and
    review spread over large amounts, one legit."""
    rng = random.Random(24)
    rows = [("fraud", rng.gauss(120, 40), rng.choice(["web", "mobile"])) for _ in range(79)]
    rows += [("review", rng.gauss(100, 15), rng.choice(["web", "mobile"])) for _ in range(91)]
    rows.append(("legit", 81.7, "web"))
    return _leaf(rows)


def test_a_class_seen_once_no_longer_wins_every_event() -> None:
    stats, splitters = _seed24_like()
    events = [{"amount": a, "channel": "mobile"} for a in (110.0, 130.0, 180.0, 250.0)]
    rivers = [do_naive_bayes_prediction(x, stats, splitters) for x in events]
    # the defect: legit (one label of 171, never on mobile) wins, the more surely the
    # further the amount is from every spread-out class
    assert [round(p["legit"], 2) for p in rivers] == [0.45, 0.67, 0.9, 1.0]
    tables = leaf_tables(stats, splitters)
    assert tables is not None
    ours = [naive_bayes(x, tables) for x in events]
    assert [max(p, key=p.__getitem__) for p in ours] == ["review", "fraud", "fraud", "fraud"]
    assert all(p["legit"] < 0.01 for p in ours)


def test_exact_values_of_a_two_class_gaussian_leaf() -> None:
    amount = GaussianSplitter()
    for c, v in [("a", 1.0), ("a", 3.0), ("b", 4.0)]:
        amount.update(v, c, 1.0)
    tables = leaf_tables({"a": 2.0, "b": 1.0}, {"amount": amount})
    assert tables is not None
    priors, atts = tables
    assert priors == [("a", math.log(2 / 3)), ("b", math.log(1 / 3))]
    # pooled: mean 8/3, S = 2 + 2 * (2 - 8/3)^2 + (4 - 8/3)^2 = 14/3, over n - 1 = 2
    pooled = 7 / 3
    (name, gaussian, (a, b)) = atts[0]
    assert (name, gaussian) == ("amount", True)
    assert a == pytest.approx((2.0, -2 * (2 + pooled) / 2, 0.5 * math.log((2 + pooled) / 2)))
    assert b == pytest.approx((4.0, -2 * pooled, 0.5 * math.log(pooled)))
    va, vb = (2 + pooled) / 2, pooled
    la = math.log(2 / 3) - (2.5 - 2) ** 2 / (2 * va) - HALF_LOG_TAU - 0.5 * math.log(va)
    lb = math.log(1 / 3) - (2.5 - 4) ** 2 / (2 * vb) - HALF_LOG_TAU - 0.5 * math.log(vb)
    p = naive_bayes({"amount": 2.5}, tables)
    assert p["a"] == pytest.approx(1 / (1 + math.exp(lb - la)))
    assert p["a"] + p["b"] == pytest.approx(1.0)


def test_categories_have_a_pseudo_count_and_weightless_classes_no_probability() -> None:
    stats, splitters = _leaf([("a", 1.0, "web"), ("a", 2.0, "web"), ("b", 1.5, "app")])
    stats["ghost"] = 0.0
    tables = leaf_tables(stats, {"channel": splitters["channel"]})
    assert tables is not None
    _, [(_, gaussian, (a, b, ghost))] = tables
    assert not gaussian and ghost is None
    # values seen in the leaf: web, app; plus one for any other: V = 3
    assert isinstance(a, Shares) and a == pytest.approx({"web": math.log(3 / 5)})
    assert a.unseen == pytest.approx(math.log(1 / 5))
    assert b == pytest.approx({"app": math.log(2 / 4)})
    assert b.unseen == pytest.approx(math.log(1 / 4))
    p = naive_bayes({"channel": "app"}, tables)
    assert p["ghost"] == 0.0
    # a: 2/3 * 1/5; b: 1/3 * 2/4
    assert p["b"] == pytest.approx((1 / 6) / (1 / 6 + 2 / 15))
    assert naive_bayes({"channel": "fax"}, tables)["a"] == pytest.approx(
        (2 / 15) / (2 / 15 + 1 / 12)
    )


def test_a_feature_without_spread_or_missing_from_the_event_counts_for_no_class() -> None:
    stats, splitters = _leaf([("a", 5.0, "web"), ("b", 5.0, "web"), ("a", 5.0, "web")])
    tables = leaf_tables(stats, splitters)
    assert tables is not None
    assert tables[1][0][2] == [None, None]  # amount: one value only
    prior = {"a": 2 / 3, "b": 1 / 3}
    assert naive_bayes({"amount": 7.0}, tables) == pytest.approx(prior)
    assert naive_bayes({}, tables) == pytest.approx(prior)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.floats(-1e3, 1e3, allow_nan=False),
            st.sampled_from(["web", "app", "pos"]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.sampled_from(["web", "app", "pos", "fax"]),
)
# Found by an unseeded CI run (2026-11-27): log votes near -5e7 (an event 1,183 away
# from three one-value classes) leave the sum 2e-9 short of one.
@example([("a", 0.0, "web"), ("b", 0.0, "web"), ("c", -0.25, "web")], 1183.0, "web")
def test_probabilities_are_a_distribution(
    rows: list[tuple[str, float, str]], amount: float, channel: str
) -> None:
    stats, splitters = _leaf(rows)
    tables = leaf_tables(stats, splitters)
    assert tables is not None
    p = naive_bayes({"amount": amount, "channel": channel}, tables)
    assert set(p) == set(stats)
    # river's log-sum-exp: a distribution up to the rounding of the log-sum (relative
    # to the log votes, which reach 1e7-1e9 here), which votes of 1e150 and more
    # swamp (the leaf normalises again)
    total = sum(p.values())
    assert all(0.0 <= v <= 1.0 for v in p.values()) and total + 1e-6 >= 1.0
    assert all(0.0 <= v / total <= 1.0 for v in p.values())


def test_the_tree_predicts_and_keeps_its_adaptive_count_with_the_leaf_rule() -> None:
    rng = random.Random(3)
    hat = AdaptiveTree(grace_period=1_000, leaf_prediction="nba", seed=3)  # one leaf
    data = []
    for _ in range(300):
        y = rng.choice(["a", "b"])
        data.append(({"v": rng.gauss(0.0 if y == "a" else 2.0, 1.0)}, y))
    hits = 0.0
    for x, y in data:
        leaf = hat._root
        if leaf is not None and leaf.stats:
            nb = leaf_naive_bayes(leaf, x)
            hits += max(nb, key=nb.__getitem__) == y
        hat.learn_one(x, y)
    leaf = hat._root
    assert type(leaf) is NaiveBayesLeaf
    assert leaf._nb_correct_weight == hits > 200
    x = {"v": 1.9}
    error = leaf._mean_error.get()
    nb = leaf_naive_bayes(leaf, x)
    assert hat.predict_proba_one(x) == pytest.approx(
        {c: v / sum(nb.values()) for c, v in nb.items()}
    )
    assert error > 0
