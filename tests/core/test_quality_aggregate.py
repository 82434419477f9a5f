"""Tier 1: majority vote and Dawid-Skene on known cases."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamsift.core.quality import DawidSkene, majority_vote
from streamsift.errors import ConfigurationError


def test_majority_clear_winner() -> None:
    r = majority_vote(["a", "b", "a", "a"])
    assert (r.label, r.confidence, r.tie, r.n_labels) == ("a", 0.75, False, 4)
    assert r.votes == (("a", 3.0), ("b", 1.0))


def test_majority_tie_is_explicit() -> None:
    r = majority_vote(["b", "a", "c", "a", "b"])
    assert r.label is None
    assert r.tie is True
    assert r.tied == ("a", "b")
    assert r.confidence == pytest.approx(0.4)


def test_majority_weights_break_and_zero() -> None:
    assert majority_vote(["a", "b"], [1.0, 0.5]).label == "a"
    r = majority_vote(["a", "b"], [0.0, 0.0])
    assert (r.label, r.tie, r.confidence) == (None, False, 0.0)
    # A single down-weighted label is low confidence.
    assert majority_vote(["a"], [0.4]).confidence == pytest.approx(0.4)


def test_majority_mixed_label_types_sort_deterministically() -> None:
    assert majority_vote(["x", 2, "2"]).tied == (2, "2", "x")


@pytest.mark.parametrize(
    ("labels", "weights"), [([], None), (["a"], [1.0, 1.0]), (["a"], [-1.0]), (["a"], [2.0])]
)
def test_majority_validation(labels: list[str], weights: list[float] | None) -> None:
    with pytest.raises(ConfigurationError, match=r"labels|weights"):
        majority_vote(labels, weights)


@given(st.lists(st.sampled_from("abc"), min_size=1, max_size=20))
def test_majority_property(labels: list[str]) -> None:
    r = majority_vote(labels)
    counts = {lab: labels.count(lab) for lab in labels}
    top = max(counts.values())
    assert r.confidence == pytest.approx(top / len(labels))
    assert r.tie == (sum(c == top for c in counts.values()) > 1)
    if not r.tie:
        assert counts[r.label] == top  # type: ignore[index]


def _constructed(seed: int = 7) -> tuple[dict[str, int], list[tuple[str, str, int]]]:
    """200 items, 3 classes; 3 annotators 75% right, 2 adversaries that mostly shift the
    class by one (70% shifted, 20% right, 10% shifted by two)."""
    rng = random.Random(seed)
    truth = {f"i{j}": rng.randrange(3) for j in range(200)}
    ann = []
    for item, t in truth.items():
        for a in ("r1", "r2", "r3"):
            lab = t if rng.random() < 0.75 else rng.choice([c for c in range(3) if c != t])
            ann.append((item, a, lab))
        for a in ("adv1", "adv2"):
            u = rng.random()
            ann.append((item, a, (t + 1) % 3 if u < 0.7 else (t if u < 0.9 else (t + 2) % 3)))
    return truth, ann


def test_dawid_skene_beats_majority_and_recovers_accuracies() -> None:
    truth, ann = _constructed()
    fit = DawidSkene().fit(ann)
    by_item: dict[str, list[int]] = {}
    for item, _, lab in ann:
        by_item.setdefault(item, []).append(lab)
    mv_right = sum(majority_vote(v).label == truth[i] for i, v in by_item.items())
    ds_right = sum(fit.labels[i] == truth[i] for i in truth)
    assert (mv_right, ds_right) == (109, 176)  # exact, seeded
    assert fit.converged and fit.n_iter == 80
    empirical = {
        a: sum(lab == truth[i] for i, b, lab in ann if b == a) / 200
        for a in ("r1", "r2", "r3", "adv1", "adv2")
    }
    assert empirical == {"r1": 0.73, "r2": 0.725, "r3": 0.795, "adv1": 0.19, "adv2": 0.16}
    for a, acc in empirical.items():
        assert abs(fit.accuracy[a] - acc) < 0.05, a
    # The adversaries' confusion matrices show the shift: row k peaks at column k+1.
    for a in ("adv1", "adv2"):
        for k, row in enumerate(fit.confusion[a]):
            assert max(range(3), key=row.__getitem__) == (k + 1) % 3
    assert sum(fit.priors.values()) == pytest.approx(1.0)
    for post in fit.posterior.values():
        assert sum(post.values()) == pytest.approx(1.0)


def test_dawid_skene_tiny_case_agrees_with_majority() -> None:
    ann = [
        ("i1", "a", "x"), ("i1", "b", "x"), ("i1", "c", "y"),
        ("i2", "a", "y"), ("i2", "b", "y"), ("i2", "c", "y"),
        ("i3", "a", "x"), ("i3", "b", "x"), ("i3", "c", "x"),
        ("i4", "a", "y"), ("i4", "b", "y"), ("i4", "c", "x"),
    ]  # fmt: skip
    fit = DawidSkene().fit(ann)
    assert dict(fit.labels) == {"i1": "x", "i2": "y", "i3": "x", "i4": "y"}
    for item in ("i1", "i2", "i3", "i4"):
        labels = [lab for i, _, lab in ann if i == item]
        assert majority_vote(labels).label == fit.labels[item]
    assert fit.classes == ("x", "y")
    assert fit.accuracy["a"] > fit.accuracy["c"]
    post = fit.posterior_for({"a": "x", "b": "x", "c": "y"})
    assert post is not None and post["x"] > 0.99
    assert fit.posterior_for({"a": "zzz"}) is None


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"max_iter": 0}, "max_iter"), ({"tol": 0}, "tol"),
                         ({"smoothing": -1}, "smoothing")],
)  # fmt: skip
def test_dawid_skene_validation(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        DawidSkene(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="annotations"):
        DawidSkene().fit([])
