"""Tier 1: gold set, gold mixer, gold accuracy tracker, redundancy policy, annotator stats."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from streamsift.core.quality import (
    GoldAccuracyTracker,
    GoldItem,
    GoldMixer,
    GoldSet,
    RedundancyPolicy,
    annotator_stats,
)
from streamsift.errors import ConfigurationError

GOLD = GoldSet(GoldItem(f"g{j}", {"x": j}, j % 2) for j in range(10))


def test_gold_set_parses_lines_and_rejects_bad_ones() -> None:
    gs = GoldSet.from_lines(['{"id": 7, "features": {"a": 1.5}, "label": "spam"}', "  "])
    assert gs.items == (GoldItem("7", {"a": 1.5}, "spam"),)
    with pytest.raises(ConfigurationError, match="line 2"):
        GoldSet.from_lines(['{"id": 1, "features": {}, "label": 0}', '{"id": 2}'])
    with pytest.raises(ConfigurationError, match="items"):
        GoldSet([])


def test_gold_mixer_rate_is_seeded_and_ids_are_opaque() -> None:
    mixer = GoldMixer(GOLD, seed=42)
    assert mixer.rate == 0.02
    drawn = [mixer.draw() for _ in range(10_000)]
    injected = [d for d in drawn if d is not None]
    assert mixer.n_injected == len(injected) == 197  # exact, seeded; ~2%
    assert mixer.n_requests == 10_000
    assert len({d.request_id for d in injected}) == len(injected)
    assert all(d.request_id not in {g.item_id for g in GOLD.items} for d in injected)
    again = GoldMixer(GOLD, seed=42)
    assert [again.draw() for _ in range(10_000)] == drawn


def test_gold_mixer_pickles_mid_stream() -> None:
    mixer = GoldMixer(GOLD, rate=0.3, seed=1)
    for _ in range(5):
        mixer.draw()
    clone = pickle.loads(pickle.dumps(mixer))
    assert [clone.draw() for _ in range(20)] == [mixer.draw() for _ in range(20)]
    with pytest.raises(ConfigurationError, match="rate"):
        GoldMixer(GOLD, rate=1.5)


def test_tracker_flags_after_min_answers_and_weights_by_policy() -> None:
    down = GoldAccuracyTracker(min_answers=10, flag_below=0.8)
    excl = GoldAccuracyTracker(min_answers=10, flag_below=0.8, policy="exclude")
    for t in (down, excl):
        for j in range(9):
            t.record("noisy", j % 10 < 7)
        assert not t.is_flagged("noisy")  # 9 answers < min_answers
        t.record("noisy", False)
        for _ in range(10):
            t.record("good", True)
    assert down.accuracy("noisy") == pytest.approx(0.7)
    assert down.flagged == excl.flagged == frozenset({"noisy"})
    assert down.weight("noisy") == pytest.approx(0.4)  # (0.7 - 0.5) / (1 - 0.5)
    assert excl.weight("noisy") == 0.0
    assert down.weight("good") == excl.weight("good") == 1.0
    assert down.accuracy("nobody") is None and down.n_answers("nobody") == 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"min_answers": 0}, "min_answers"), ({"flag_below": 2}, "flag_below"),
     ({"policy": "drop"}, "policy"), ({"chance_accuracy": 1.0}, "chance_accuracy")],
)  # fmt: skip
def test_tracker_validation(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        GoldAccuracyTracker(**kwargs)  # type: ignore[arg-type]


def test_redundancy_share_and_top_decile() -> None:
    policy = RedundancyPolicy(seed=5)
    needs = [policy.decide(0.5) for _ in range(10_000)]
    assert set(needs) == {1, 3}
    assert needs.count(3) == policy.n_redundant == 955  # exact, seeded; ~10%
    top = RedundancyPolicy(share=0.0, top_quantile=0.9, window=100, min_history=100, seed=0)
    scores = [j / 100 for j in range(100)]
    assert [top.decide(s) for s in scores] == [1] * 100  # no history yet
    assert top.threshold() == 0.9
    assert top.decide(0.95) == 3 and top.decide(0.89) == 1
    # The window slides: old scores leave it.
    for _ in range(100):
        top.decide(0.0)
    assert top.threshold() == 0.0
    clone = pickle.loads(pickle.dumps(policy))
    assert [clone.decide() for _ in range(50)] == [policy.decide() for _ in range(50)]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"share": -0.1}, "share"), ({"k": 1}, "k"), ({"top_quantile": 1.0}, "top_quantile"),
     ({"window": 0}, "window"), ({"min_history": 0}, "min_history")],
)  # fmt: skip
def test_redundancy_validation(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        RedundancyPolicy(**kwargs)  # type: ignore[arg-type]


def test_annotator_stats_merges_sources() -> None:
    t = GoldAccuracyTracker(min_answers=1, flag_below=0.9)
    t.record("g", False)
    (a, g) = annotator_stats({"a": 4}, t)
    assert (a.annotator, a.n_labels, a.flagged, a.weight) == ("a", 4, False, 1.0)
    assert (g.annotator, g.n_labels, g.n_gold, g.flagged_by, g.weight) == ("g", 0, 1, "gold", 0.0)


def test_gold_set_from_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "g1", "features": {"x": 1}, "label": 0}\n', encoding="utf-8")
    assert GoldSet.from_jsonl(path).items == (GoldItem("g1", {"x": 1}, 0),)
