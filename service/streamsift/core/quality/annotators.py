"""Per-annotator statistics: labels given, gold accuracy, Dawid-Skene accuracy, flag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streamsift.core.quality.dawid_skene import DawidSkeneResult
from streamsift.core.quality.gold import GoldAccuracyTracker

__all__ = ["AnnotatorStats", "annotator_stats"]


@dataclass(frozen=True, slots=True)
class AnnotatorStats:
    """One annotator's quality figures.

    Parameters
    ----------
    annotator
        Annotator id.
    n_labels
        Labels accepted from the annotator (gold answers included, duplicates not).
    n_gold
        Gold answers scored.
    gold_accuracy
        Accuracy on gold items, ``None`` before the first gold answer.
    ds_accuracy
        Dawid-Skene accuracy estimate, ``None`` if the annotator is not in the fit.
    flagged
        Flagged by the gold tracker (enough gold answers, accuracy below threshold).
    weight
        Weight of the annotator's labels under the gold policy.
    """

    annotator: str
    n_labels: int
    n_gold: int
    gold_accuracy: float | None
    ds_accuracy: float | None
    flagged: bool
    weight: float


def annotator_stats(
    label_counts: Mapping[str, int],
    gold: GoldAccuracyTracker,
    ds: DawidSkeneResult | None = None,
) -> tuple[AnnotatorStats, ...]:
    """Combine label counts, gold accuracy and Dawid-Skene accuracy per annotator.

    Every annotator seen in any of the three sources appears once, sorted by id.

    Examples
    --------
    >>> t = GoldAccuracyTracker(min_answers=2, flag_below=0.75, policy="exclude")
    >>> t.record("b", True); t.record("b", False)
    >>> for s in annotator_stats({"a": 3, "b": 2}, t):
    ...     print(s)
    AnnotatorStats(annotator='a', n_labels=3, n_gold=0, gold_accuracy=None, \
ds_accuracy=None, flagged=False, weight=1.0)
    AnnotatorStats(annotator='b', n_labels=2, n_gold=2, gold_accuracy=0.5, \
ds_accuracy=None, flagged=True, weight=0.0)
    """
    ds_acc: Mapping[str, float] = ds.accuracy if ds is not None else {}
    names = sorted(set(label_counts) | set(gold.accuracies) | set(ds_acc))
    return tuple(
        AnnotatorStats(
            annotator=a,
            n_labels=label_counts.get(a, 0),
            n_gold=gold.n_answers(a),
            gold_accuracy=gold.accuracy(a),
            ds_accuracy=ds_acc.get(a),
            flagged=gold.is_flagged(a),
            weight=gold.weight(a),
        )
        for a in names
    )
