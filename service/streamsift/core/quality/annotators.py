"""Per-annotator statistics: labels given, gold accuracy, Dawid-Skene accuracy, flag."""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
        Flagged by the gold tracker (enough gold answers, accuracy below threshold)
        or, failing that, by Dawid-Skene (see ``flagged_by``).
    flagged_by
        ``"gold"``, ``"dawid_skene"`` or ``""`` (not flagged). Gold takes precedence.
    weight
        Weight of the annotator's labels under the policy, computed from the
        accuracy of the source that flagged them (1.0 when not flagged).

    Examples
    --------
    >>> annotator_stats({"a": 2}, GoldAccuracyTracker())[0].weight
    1.0
    """

    annotator: str
    n_labels: int
    n_gold: int
    gold_accuracy: float | None
    ds_accuracy: float | None
    flagged: bool
    flagged_by: str
    weight: float


def annotator_stats(
    label_counts: Mapping[str, int],
    gold: GoldAccuracyTracker,
    ds: DawidSkeneResult | None = None,
    ds_flagged: Collection[str] = (),
) -> tuple[AnnotatorStats, ...]:
    """Combine label counts, gold accuracy and Dawid-Skene accuracy per annotator.

    Every annotator seen in any of the three sources appears once, sorted by id.
    ``ds_flagged`` names annotators flagged on their Dawid-Skene accuracy (the
    collector decides who, see ``LabelCollector(ds_flagging=...)``).

    Examples
    --------
    >>> t = GoldAccuracyTracker(min_answers=2, flag_below=0.75, policy="exclude")
    >>> t.record("b", True); t.record("b", False)
    >>> for s in annotator_stats({"a": 3, "b": 2}, t):
    ...     print(s)
    AnnotatorStats(annotator='a', n_labels=3, n_gold=0, gold_accuracy=None, \
ds_accuracy=None, flagged=False, flagged_by='', weight=1.0)
    AnnotatorStats(annotator='b', n_labels=2, n_gold=2, gold_accuracy=0.5, \
ds_accuracy=None, flagged=True, flagged_by='gold', weight=0.0)
    """
    ds_acc: Mapping[str, float] = ds.accuracy if ds is not None else {}
    names = sorted(set(label_counts) | set(gold.accuracies) | set(ds_acc))
    out = []
    for a in names:
        by = "gold" if gold.is_flagged(a) else ("dawid_skene" if a in ds_flagged else "")
        weight = gold.weight(a) if by != "dawid_skene" else gold.weight_for(ds_acc[a])
        out.append(
            AnnotatorStats(
                annotator=a,
                n_labels=label_counts.get(a, 0),
                n_gold=gold.n_answers(a),
                gold_accuracy=gold.accuracy(a),
                ds_accuracy=ds_acc.get(a),
                flagged=bool(by),
                flagged_by=by,
                weight=weight,
            )
        )
    return tuple(out)
