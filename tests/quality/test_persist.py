"""Tier 1: per-annotator statistics as a value (save, restore, merge, forget by group)."""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import replace

import pytest

from streamsift.core.quality import (
    AnnotatorStats,
    GoldAccuracyTracker,
    LabelCollector,
    QualityState,
    QualityStateError,
    merge_states,
)
from streamsift.errors import ConfigurationError


def test_encode_decode_round_trip_keeps_label_types_exactly() -> None:
    s = QualityState(
        gold={"ann-a": (7, 5), "ann-b": (3, 3)},
        items=(("e1", (("ann-a", "yes"), ("ann-b", 1))), ("e2", (("ann-a", True), ("c", 0)))),
    )
    back = QualityState.decode(s.encode())
    assert back == s
    assert [type(lab) for _, labels in back.items for _, lab in labels] == [str, int, bool, int]
    body = json.loads(zlib.decompress(s.encode()))
    assert body == {
        "v": 1,
        "gold": [["ann-a", 7, 5], ["ann-b", 3, 3]],
        "items": [["e1", [["ann-a", "yes"], ["ann-b", 1]]], ["e2", [["ann-a", True], ["c", 0]]]],
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"plain bytes",
        zlib.compress(b"[1, 2]"),
        zlib.compress(b'{"v": 2, "gold": [], "items": []}'),
        zlib.compress(b'{"v": 1, "gold": [["a", 1, 2]], "items": []}'),  # correct > answers
        zlib.compress(b'{"v": 1, "gold": [["a", 1.5, 1]], "items": []}'),
        zlib.compress(b'{"v": 1, "gold": [], "items": [["e1", [["a", 0.5]]]]}'),  # float label
        zlib.compress(b'{"v": 1, "gold": []}'),
    ],
)
def test_anything_else_is_refused(raw: bytes) -> None:
    with pytest.raises(QualityStateError):
        QualityState.decode(raw)


def test_merge_adds_gold_counts_and_keeps_the_newest_items_once() -> None:
    a = QualityState({"x": (4, 3), "y": (1, 0)}, (("i1", (("x", 0), ("y", 1))),))
    b = QualityState(
        {"x": (2, 2), "z": (5, 1)},
        (("i1", (("x", 0), ("y", 1))), ("i2", (("x", 1), ("z", 1))), ("i3", (("y", 0), ("z", 0)))),
    )
    m = merge_states(a, b, max_items=2)
    assert m.gold == {"x": (6, 5), "y": (1, 0), "z": (5, 1)}
    assert [i for i, _ in m.items] == ["i2", "i3"]
    assert merge_states(QualityState(), QualityState()).is_empty


def test_gold_tracker_add_and_remove_are_inverse_and_checked() -> None:
    t = GoldAccuracyTracker(min_answers=5, flag_below=0.8)
    t.add("a", 6, 3)
    assert t.is_flagged("a") and t.accuracy("a") == 0.5
    t.record("a", True)
    t.remove("a", 6, 3)
    assert (t.n_answers("a"), t.accuracy("a"), t.is_flagged("a")) == (1, 1.0, False)
    with pytest.raises(ConfigurationError):
        t.remove("a", 2, 1)  # more than recorded
    with pytest.raises(ConfigurationError):
        t.add("a", 1, 2)


def _feed(c: LabelCollector, rng: random.Random, n: int, group: int) -> None:
    """Gold answers and 3-label items from a clean pair and a noisy annotator."""
    for i in range(n):
        gid = f"g{group}-{i}"
        c.expect(gid, now=0.0, gold_label="cat", group=group)
        c.add_label(gid, "noisy", "cat" if rng.random() < 0.6 else "dog", now=0.0)
        c.expect(gid + "-ok", now=0.0, gold_label="cat", group=group)
        c.add_label(gid + "-ok", "clean", "cat", now=0.0)
        eid = f"e{group}-{i}"
        truth = rng.choice(("cat", "dog"))
        c.expect(eid, now=0.0, n_annotators=3, group=group)
        for ann in ("clean", "clean-2"):
            c.add_label(eid, ann, truth, now=0.0)
        noisy = truth if rng.random() < 0.6 else ("dog" if truth == "cat" else "cat")
        c.add_label(eid, "noisy", noisy, now=0.0)


def quality(c: LabelCollector) -> list[AnnotatorStats]:
    """Per-annotator statistics but the label counts (not part of the saved state)."""
    return [replace(st, n_labels=0) for st in c.annotators]


def collector() -> LabelCollector:
    return LabelCollector(gold_min_answers=10, flag_below=0.8, ds_min_items=20, ds_refit_every=20)


def test_a_restored_collector_has_the_same_statistics_and_flags() -> None:
    old = collector()
    _feed(old, random.Random(7), 40, group=0)
    _feed(old, random.Random(8), 40, group=1)
    assert old.flagged == {"noisy"}
    saved = {g: old.export(g).encode() for g in (0, 1)}
    new = collector()
    for g, raw in saved.items():
        new.restore(g, QualityState.decode(raw))
    assert new.flagged == old.flagged == {"noisy"}
    assert new.gold.accuracies == old.gold.accuracies
    assert new.gold.n_answers("noisy") == old.gold.n_answers("noisy") == 80
    assert new.dawid_skene is not None and old.dawid_skene is not None
    assert new.window == old.window and len(new.window) == 80
    assert quality(new) == quality(old)
    for g in (0, 1):
        assert new.export(g) == old.export(g)


def test_forget_takes_exactly_one_groups_share_back_out() -> None:
    both = collector()
    _feed(both, random.Random(7), 40, group=0)
    _feed(both, random.Random(8), 40, group=1)
    only_one = collector()
    _feed(only_one, random.Random(8), 40, group=1)
    both.expect("left-over", now=0.0, group=0)
    assert both.forget(0) == ["left-over"]
    assert both.gold.accuracies == only_one.gold.accuracies
    assert both.window == only_one.window
    assert quality(both) == quality(only_one)
    assert both.export(0).is_empty and both.export(1) == only_one.export(1)
    assert both.n_pending == 0


def test_restore_twice_does_not_double_window_items_but_adds_gold() -> None:
    c = collector()
    state = QualityState({"a": (2, 1)}, (("e1", (("a", 0), ("b", 0))),))
    c.restore(5, state)
    c.restore(5, state)
    assert c.export(5) == QualityState({"a": (4, 2)}, state.items)
    with pytest.raises(ConfigurationError):
        c.restore(None, state)


def test_items_without_a_group_count_but_are_never_exported() -> None:
    c = LabelCollector(gold_min_answers=1, flag_below=0.8)
    c.expect("g", now=0.0, gold_label=1)
    c.add_label("g", "a", 0, now=0.0)
    assert c.flagged == {"a"} and c.export(None).is_empty and c.export(0).is_empty
