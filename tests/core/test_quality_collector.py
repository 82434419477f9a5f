"""Tier 1: the LabelCollector state machine."""

from __future__ import annotations

import pickle

import pytest

from streamsift.core.quality import (
    Aggregated,
    GoldScored,
    HeldOut,
    LabelCollector,
    NeedsMoreOpinions,
)
from streamsift.core.types import Proba
from streamsift.errors import ConfigurationError

CONFIDENT_DOG: Proba = {"cat": 0.05, "dog": 0.95}
UNSURE_DOG: Proba = {"cat": 0.15, "dog": 0.85}


def test_k_labels_aggregate_by_majority() -> None:
    c = LabelCollector()
    c.expect("e", 0.0, n_annotators=3)
    assert c.add_label("e", "a", "cat", 1.0) == []
    assert c.add_label("e", "b", "cat", 2.0) == []
    assert c.add_label("e", "c", "cat", 3.0) == [Aggregated("e", "cat", 1.0, 3, "majority")]
    assert c.n_pending == 0
    assert c.extra_labels == {"gold": 0, "redundancy": 2, "second_opinion": 0, "extra_opinion": 0}


def test_single_label_aggregates_immediately() -> None:
    c = LabelCollector()
    c.expect("e", 0.0)
    assert c.add_label("e", "a", 1, 1.0) == [Aggregated("e", 1, 1.0, 1, "single")]


def test_duplicate_unknown_and_late_labels_are_ignored_and_counted() -> None:
    c = LabelCollector()
    c.expect("e", 0.0, n_annotators=2)
    assert c.add_label("e", "a", "cat", 1.0) == []
    assert c.add_label("e", "a", "dog", 2.0) == []  # same annotator again
    out = c.add_label("e", "b", "cat", 3.0)
    assert out == [Aggregated("e", "cat", 1.0, 2, "majority")]
    assert c.add_label("e", "c", "dog", 4.0) == []  # already resolved
    assert c.add_label("nope", "a", "dog", 5.0) == []
    assert c.n_duplicates == 1
    assert c.counts["unknown"] == 2
    assert c.counts["labels"] == 2


def test_timeout_aggregates_what_arrived_or_holds_out() -> None:
    c = LabelCollector(timeout=10.0)
    for item in ("agree", "split", "empty"):
        c.expect(item, 0.0, n_annotators=3)
    c.add_label("agree", "a", "x", 1.0)
    c.add_label("agree", "b", "x", 1.0)
    c.add_label("split", "a", "x", 1.0)
    c.add_label("split", "b", "y", 1.0)
    assert c.poll(9.9) == []
    assert c.poll(10.0) == [
        Aggregated("agree", "x", 1.0, 2, "majority"),
        HeldOut("empty", "timeout"),
        HeldOut("split", "tie"),  # no extra opinion after the timeout: held out
    ]
    strict = LabelCollector(timeout=10.0, on_timeout="hold_out")
    strict.expect("agree", 0.0, n_annotators=3)
    strict.add_label("agree", "a", "x", 1.0)
    strict.add_label("agree", "b", "x", 1.0)
    assert strict.poll(10.0) == [HeldOut("agree", "timeout")]


def test_tie_asks_one_extra_opinion_then_holds_out() -> None:
    c = LabelCollector(timeout=10.0)
    c.expect("e1", 0.0, n_annotators=2)
    c.expect("e2", 0.0, n_annotators=2)
    c.add_label("e1", "a", "x", 1.0)
    assert c.add_label("e1", "b", "y", 2.0) == [NeedsMoreOpinions("e1", "tie")]
    assert c.add_label("e1", "c", "z", 3.0) == [HeldOut("e1", "tie")]
    c.add_label("e2", "a", "x", 1.0)
    assert c.add_label("e2", "b", "y", 9.0) == [NeedsMoreOpinions("e2", "tie")]
    assert c.poll(10.0) == []  # the deadline was restarted by the extra request
    (out,) = c.add_label("e2", "c", "y", 12.0)
    assert isinstance(out, Aggregated)
    assert (out.label, out.confidence, out.n_labels) == ("y", pytest.approx(2 / 3), 3)
    assert c.extra_labels["extra_opinion"] == 2
    assert c.counts["held_out"] == 1


def test_low_confidence_asks_extra_opinion() -> None:
    c = LabelCollector(min_confidence=0.7, max_extra_opinions=2)
    c.expect("e", 0.0, n_annotators=3)
    c.add_label("e", "a", "x", 1.0)
    c.add_label("e", "b", "x", 1.0)
    assert c.add_label("e", "c", "y", 1.0) == [NeedsMoreOpinions("e", "low_confidence")]
    assert c.add_label("e", "d", "x", 2.0) == [Aggregated("e", "x", 0.75, 4, "majority")]
    none = LabelCollector(min_confidence=0.7, max_extra_opinions=0)
    none.expect("e", 0.0, n_annotators=3)
    none.add_label("e", "a", "x", 1.0)
    none.add_label("e", "b", "x", 1.0)
    assert none.add_label("e", "c", "y", 1.0) == [HeldOut("e", "low_confidence")]


def test_gold_scoring_updates_accuracy_and_never_trains() -> None:
    c = LabelCollector(gold_min_answers=2, flag_below=0.75)
    outs = []
    for j, label in enumerate(["cat", "dog", "dog"]):
        c.expect(f"g{j}", 0.0, n_annotators=3, gold_label="cat")  # gold needs one label
        outs += c.add_label(f"g{j}", "ann", label, 1.0, model_proba=CONFIDENT_DOG)
    assert outs == [
        GoldScored("g0", "ann", True),
        GoldScored("g1", "ann", False),
        GoldScored("g2", "ann", False),
    ]
    assert not any(isinstance(o, Aggregated) for o in outs + c.poll(1e9))
    assert c.gold.accuracy("ann") == pytest.approx(1 / 3)
    assert c.flagged == frozenset({"ann"})
    assert c.extra_labels["gold"] == 3
    assert c.counts["checked"] == 0  # gold answers are never second-guessed
    (stats,) = c.annotators
    assert (stats.n_labels, stats.n_gold, stats.flagged_by) == (3, 3, "gold")
    c.expect("late", 0.0, gold_label="cat")
    assert c.poll(1e9) == [] and c.counts["gold_expired"] == 1


def test_contradiction_asks_a_second_opinion() -> None:
    c = LabelCollector(timeout=10.0)
    c.expect("e1", 0.0)
    assert c.add_label("e1", "a", "cat", 1.0, model_proba=CONFIDENT_DOG) == [
        NeedsMoreOpinions("e1", "contradicts_model")
    ]
    assert c.add_label("e1", "b", "cat", 2.0) == [Aggregated("e1", "cat", 1.0, 2, "majority")]
    # A second opinion siding with the model makes a tie: one extra opinion.
    c.expect("e2", 0.0)
    c.add_label("e2", "a", "cat", 1.0, model_proba=CONFIDENT_DOG)
    assert c.add_label("e2", "b", "dog", 2.0) == [NeedsMoreOpinions("e2", "tie")]
    (out,) = c.add_label("e2", "c", "dog", 3.0)
    assert isinstance(out, Aggregated)
    assert (out.label, out.confidence, out.method) == ("dog", pytest.approx(2 / 3), "majority")
    # Unconfident model, or agreement with it: no second opinion.
    c.expect("e3", 0.0)
    assert c.add_label("e3", "a", "cat", 1.0, model_proba=UNSURE_DOG) == [
        Aggregated("e3", "cat", 1.0, 1, "single")
    ]
    c.expect("e4", 0.0)
    assert c.add_label("e4", "a", "dog", 1.0, model_proba=CONFIDENT_DOG) == [
        Aggregated("e4", "dog", 1.0, 1, "single")
    ]
    # No second opinion in time: held out, never trained on.
    c.expect("e5", 0.0)
    c.add_label("e5", "a", "cat", 1.0, model_proba=CONFIDENT_DOG)
    assert c.poll(100.0) == [HeldOut("e5", "contradicts_model")]
    assert c.counts["contradictions"] == 3
    assert c.contradiction_rate == pytest.approx(3 / 5)
    assert c.extra_labels["second_opinion"] == 3


def _flag_noisy(c: LabelCollector) -> None:
    for j in range(4):
        c.expect(f"g{j}", 0.0, gold_label="cat")
        c.add_label(f"g{j}", "noisy", "cat" if j == 0 else "dog", 0.0)
        c.expect(f"h{j}", 0.0, gold_label="cat")
        c.add_label(f"h{j}", "good", "cat", 0.0)


def test_flagged_annotator_is_excluded() -> None:
    c = LabelCollector(gold_min_answers=4, flag_below=0.8, policy="exclude")
    _flag_noisy(c)
    assert c.flagged == frozenset({"noisy"})
    c.expect("e", 1.0)
    assert c.add_label("e", "noisy", "dog", 1.0) == [NeedsMoreOpinions("e", "low_confidence")]
    assert c.add_label("e", "good", "cat", 2.0) == [Aggregated("e", "cat", 1.0, 1, "single")]
    c.expect("r", 1.0, n_annotators=3)
    c.add_label("r", "noisy", "dog", 1.0)
    c.add_label("r", "x", "cat", 1.0)
    assert c.add_label("r", "y", "dog", 1.0) == [NeedsMoreOpinions("r", "tie")]


def test_flagged_annotator_is_downweighted() -> None:
    c = LabelCollector(gold_min_answers=4, flag_below=0.8, policy="downweight")
    _flag_noisy(c)  # noisy: gold accuracy 0.25 -> weight max(0, (0.25 - 0.5) / 0.5) = 0
    assert c.gold.weight("noisy") == 0.0
    c2 = LabelCollector(gold_min_answers=4, flag_below=0.8, chance_accuracy=0.2)
    _flag_noisy(c2)  # weight (0.25 - 0.2) / 0.8 = 0.0625
    assert c2.gold.weight("noisy") == pytest.approx(0.0625)
    c2.expect("r", 1.0, n_annotators=3)
    c2.add_label("r", "noisy", "dog", 1.0)
    c2.add_label("r", "x", "cat", 1.0)
    # Unweighted this would be 2 dog vs 1 cat; the weighted vote is a tie-free low
    # confidence 1.0625 / 3 for dog vs 1 / 3 for cat -> extra opinion.
    assert c2.add_label("r", "y", "dog", 1.0) == [NeedsMoreOpinions("r", "low_confidence")]
    # cat 2.0 vs dog 1.0625 of 4 labels: cat at confidence 0.5, still too low.
    assert c2.add_label("r", "z", "cat", 2.0) == [HeldOut("r", "low_confidence")]


def test_dawid_skene_takes_over_with_enough_overlap() -> None:
    c = LabelCollector(ds_min_items=6, ds_refit_every=6, ds_flagging=False)
    for j in range(6):
        c.expect(f"e{j}", 0.0, n_annotators=3)
        c.add_label(f"e{j}", "a", j % 2, 0.0)
        c.add_label(f"e{j}", "b", j % 2, 0.0)
        (first,) = c.add_label(f"e{j}", "c", 0, 0.0)
        assert isinstance(first, Aggregated) and first.method == "majority"
    assert c.dawid_skene is not None
    c.expect("n", 0.0, n_annotators=3)
    c.add_label("n", "a", 1, 0.0)
    c.add_label("n", "b", 1, 0.0)
    (out,) = c.add_label("n", "c", 0, 0.0)
    assert isinstance(out, Aggregated)
    assert (out.label, out.method, round(out.confidence, 3)) == (1, "dawid_skene", 1.0)
    assert {s.annotator: s.ds_accuracy is not None for s in c.annotators} == {
        "a": True, "b": True, "c": True,
    }  # fmt: skip


def test_pickle_round_trip_mid_stream() -> None:
    def feed(col: LabelCollector, start: int) -> list[object]:
        out: list[object] = []
        for j in range(start, start + 30):
            col.expect(f"e{j}", float(j), n_annotators=1 + 2 * (j % 3 == 0))
            out += col.add_label(f"e{j}", "a", j % 2, float(j), model_proba=CONFIDENT_DOG)
            out += col.add_label(f"e{j}", "b", j % 3, float(j))
        return out + col.poll(float(start + 40))

    c = LabelCollector(timeout=5.0, ds_min_items=5, ds_refit_every=5)
    feed(c, 0)
    c.expect("pending", 29.0, n_annotators=3)
    c.add_label("pending", "a", 1, 29.0)
    clone = pickle.loads(pickle.dumps(c))
    assert clone.n_pending == c.n_pending == 1
    assert feed(clone, 100) == feed(c, 100)
    assert clone.counts == c.counts and clone.extra_labels == c.extra_labels
    assert clone.annotators == c.annotators


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"timeout": 0}, "timeout"), ({"on_timeout": "drop"}, "on_timeout"),
     ({"min_confidence": 1.5}, "min_confidence"),
     ({"max_extra_opinions": -1}, "max_extra_opinions"),
     ({"contradiction_confidence": 0.0}, "contradiction_confidence"),
     ({"gold_min_answers": 0}, "min_answers"), ({"policy": "ban"}, "policy"),
     ({"ds_min_items": 1}, "ds_min_items"), ({"ds_refit_every": 0}, "ds_refit_every"),
     ({"ds_window": 1}, "ds_window")],
)  # fmt: skip
def test_collector_validation(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        LabelCollector(**kwargs)  # type: ignore[arg-type]
    c = LabelCollector()
    c.expect("e", 0.0)
    with pytest.raises(ConfigurationError, match="item_id"):
        c.expect("e", 0.0)
    with pytest.raises(ConfigurationError, match="n_annotators"):
        c.expect("f", 0.0, n_annotators=0)
