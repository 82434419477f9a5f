"""What the label collector yields when an item is resolved (frozen value types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from streamsift.core.types import Label

__all__ = [
    "Aggregated",
    "AggregationMethod",
    "GoldScored",
    "HeldOut",
    "HoldReason",
    "NeedsMoreOpinions",
    "OpinionReason",
    "Outcome",
]

#: How an aggregate was formed: one label, (weighted) majority, or Dawid-Skene posterior.
AggregationMethod: TypeAlias = Literal["single", "majority", "dawid_skene"]
#: Why an item needs one more label.
OpinionReason: TypeAlias = Literal["tie", "low_confidence", "contradicts_model"]
#: Why an item will not train the model (``timeout``: too few labels arrived in time).
HoldReason: TypeAlias = Literal["tie", "low_confidence", "contradicts_model", "timeout"]


@dataclass(frozen=True, slots=True)
class Aggregated:
    """A resolved label: the only outcome that may train the model.

    ``n_labels`` counts the labels that entered the aggregate (labels of excluded
    annotators do not).

    Examples
    --------
    >>> Aggregated("e1", "cat", 1.0, 1, "single")
    Aggregated(item_id='e1', label='cat', confidence=1.0, n_labels=1, method='single')
    """

    item_id: str
    label: Label
    confidence: float
    n_labels: int
    method: AggregationMethod


@dataclass(frozen=True, slots=True)
class NeedsMoreOpinions:
    """Request one more label for ``item_id`` from an annotator who has not labelled it.

    Examples
    --------
    >>> NeedsMoreOpinions("e1", "tie")
    NeedsMoreOpinions(item_id='e1', reason='tie')
    """

    item_id: str
    reason: OpinionReason


@dataclass(frozen=True, slots=True)
class HeldOut:
    """The item is dropped from training: its labels could not be resolved.

    Examples
    --------
    >>> HeldOut("e1", "timeout")
    HeldOut(item_id='e1', reason='timeout')
    """

    item_id: str
    reason: HoldReason


@dataclass(frozen=True, slots=True)
class GoldScored:
    """An annotator's answer on a gold item was scored (never a training item).

    Examples
    --------
    >>> GoldScored("g7", "ann-1", False)
    GoldScored(item_id='g7', annotator='ann-1', correct=False)
    """

    item_id: str
    annotator: str
    correct: bool


#: Anything :class:`~streamsift.core.quality.collector.LabelCollector` yields.
Outcome: TypeAlias = Aggregated | NeedsMoreOpinions | HeldOut | GoldScored
