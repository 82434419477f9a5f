"""Majority vote over the labels one item received, with an explicit tie result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streamsift.core.quality._util import label_key
from streamsift.core.types import Label
from streamsift.errors import ConfigurationError

__all__ = ["MajorityResult", "majority_vote"]


@dataclass(frozen=True, slots=True)
class MajorityResult:
    """The outcome of a (weighted) majority vote.

    Parameters
    ----------
    label
        The winning label, or ``None`` on a tie or when every weight is zero.
    confidence
        Weight of the winner divided by the number of labels: the vote share when
        unweighted, and lower when the winning votes come from down-weighted
        annotators (0.0 when all weights are 0; on a tie, the share of each tied
        label).
    tie
        True when two or more labels share the top weight.
    tied
        The labels sharing the top weight, in a deterministic order (empty unless tie).
    votes
        ``(label, weight)`` pairs, heaviest first, ties in label order.
    n_labels
        Number of labels counted (including zero-weight ones).

    Examples
    --------
    >>> majority_vote([1, 2, 2]).votes
    ((2, 2.0), (1, 1.0))
    """

    label: Label | None
    confidence: float
    tie: bool
    tied: tuple[Label, ...]
    votes: tuple[tuple[Label, float], ...]
    n_labels: int


def majority_vote(
    labels: Sequence[Label], weights: Sequence[float] | None = None
) -> MajorityResult:
    """Aggregate the labels of one item by (weighted) majority, never hiding a tie.

    Parameters
    ----------
    labels
        The labels the item received (at least one).
    weights
        Optional weight in [0, 1] per label (default 1.0 each), e.g. annotator
        weights from a :class:`~streamsift.core.quality.gold.GoldAccuracyTracker`.
        A label of weight ``w`` puts ``w`` on its class and ``1 - w`` nowhere, so a
        single down-weighted label yields a low confidence.

    Returns
    -------
    MajorityResult
        ``label`` is ``None`` when the vote is tied or carries no weight.

    Raises
    ------
    ConfigurationError
        If ``labels`` is empty, or ``weights`` has the wrong length or a value outside
        [0, 1].

    Examples
    --------
    >>> majority_vote(["cat", "dog", "cat"])
    MajorityResult(label='cat', confidence=0.6666666666666666, tie=False, tied=(), \
votes=(('cat', 2.0), ('dog', 1.0)), n_labels=3)
    >>> r = majority_vote(["cat", "dog"])
    >>> r.label, r.tie, r.tied, r.confidence
    (None, True, ('cat', 'dog'), 0.5)
    >>> r = majority_vote(["cat", "dog", "dog"], weights=[1.0, 0.25, 0.25])
    >>> r.label, r.confidence
    ('cat', 0.3333333333333333)
    """
    if len(labels) == 0:
        raise ConfigurationError("labels must not be empty")
    if weights is None:
        ws = [1.0] * len(labels)
    else:
        if len(weights) != len(labels):
            raise ConfigurationError(
                f"weights must have one entry per label ({len(labels)}), got {len(weights)}"
            )
        ws = [float(w) for w in weights]
        if any(not 0.0 <= w <= 1.0 for w in ws):
            raise ConfigurationError(f"weights must be in [0, 1], got {list(weights)!r}")
    totals: dict[Label, float] = {}
    for lab, w in zip(labels, ws, strict=True):
        totals[lab] = totals.get(lab, 0.0) + w
    votes = tuple(sorted(totals.items(), key=lambda kv: (-kv[1], label_key(kv[0]))))
    n = len(labels)
    top = votes[0][1]
    if top <= 0.0:
        return MajorityResult(None, 0.0, False, (), votes, n)
    tied = tuple(lab for lab, w in votes if w == top)
    if len(tied) > 1:
        return MajorityResult(None, top / n, True, tied, votes, n)
    return MajorityResult(votes[0][0], top / n, False, (), votes, n)
