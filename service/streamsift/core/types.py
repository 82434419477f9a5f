"""Plain value types shared by every part of the sampling core.

The core never sees Kafka records or pydantic messages: the transport converts an
:class:`~streamsift.schemas.InferenceEvent` into a :class:`CoreEvent` and a joined
label into a :class:`LabelledItem`. These are slotted dataclasses, safe to pickle and
treated as values: nothing changes one after it is built. The two built once per
event on the hot path, :class:`CoreEvent` and :class:`Decision`, are not declared
``frozen``: a frozen dataclass's ``__init__`` sets each field through
``object.__setattr__``, 2.2 µs for a 12-field class against 0.3 µs without
(``timeit``, Python 3.11), which was ~5 % of the worker's CPU per event. The
others stay frozen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

__all__ = [
    "Arm",
    "CoreEvent",
    "Decision",
    "DecisionReason",
    "FeatureValue",
    "Features",
    "Label",
    "LabelledItem",
    "Proba",
    "ScoringInputs",
]

#: A feature value as producers send it.
FeatureValue: TypeAlias = float | int | str | bool | None
#: A feature mapping, name to value.
Features: TypeAlias = Mapping[str, FeatureValue]
#: A class label. River accepts any hashable; on the wire labels are strings or ints.
Label: TypeAlias = str | int | bool
#: Class probabilities, label to probability.
Proba: TypeAlias = Mapping[Label, float]

#: Which arm selected an item: ``active`` (uncertainty driven), ``control`` (uniform
#: random, for unbiased estimates), ``bootstrap`` (uniform during cold start), or
#: ``none`` when the item was not selected.
Arm: TypeAlias = Literal["active", "control", "bootstrap", "none"]

#: Why the sampler decided what it did (a bounded set: safe as a metric label).
DecisionReason: TypeAlias = Literal[
    "selected",
    "below_threshold",
    "not_drawn",
    "throttled",
    "backpressure",
    "duplicate",
]


@dataclass(slots=True)
class CoreEvent:
    """One inference event as the core sees it.

    Parameters
    ----------
    event_id
        Producer-assigned unique id.
    features
        Feature name to value (numbers, strings, booleans or None).
    timestamp
        Event time in seconds since the epoch (UTC).
    proba
        The production model's class probabilities, if the producer sent them.
    region
        Producer-assigned region key; ``None`` lets the core cluster the event.
    embedding
        Optional dense vector used for diversity instead of the features.
    """

    event_id: str
    features: Features
    timestamp: float
    proba: Proba | None = None
    region: str | None = None
    embedding: Sequence[float] | None = None


@dataclass(frozen=True, slots=True)
class ScoringInputs:
    """What a strategy may look at: the three sources of class probabilities.

    Only the sources that the strategy declares in ``needs`` are filled in.
    """

    production: Proba | None = None
    online: Proba | None = None
    committee: Sequence[Proba] | None = None


@dataclass(slots=True)
class Decision:
    """The sampler's verdict on one event.

    ``p`` is the probability with which this event was selected (for importance
    weighting the label by ``1/p``); it is defined for unselected events too.
    ``at_floor`` marks an ``active`` selection made at the probability floor, i.e.
    drawn regardless of its score (see :class:`LabelledItem`).
    """

    event_id: str
    selected: bool
    arm: Arm
    score: float
    p: float
    region: str
    reason: DecisionReason
    priority: float = 0.0
    model_version: int = 0
    strategy: str = ""
    timestamp: float = 0.0
    drift: tuple[object, ...] = field(default=())
    at_floor: bool = False


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """A label joined with what the sampler knew when it asked for it.

    Parameters
    ----------
    event_id
        The event's id.
    features
        The features the model learns from (the full set, not the labeller view).
    label
        The (aggregated) label.
    p
        Selection probability carried by the request; the learner weighs by ``1/p``.
    arm
        The arm that selected the item.
    region
        The region the item was assigned to.
    production_proba
        The production model's probabilities at scoring time, if any.
    requested_at, labelled_at
        Seconds since the epoch.
    at_floor
        The ``active`` arm selected it at its probability floor (its score did not
        count). With the ``control`` and ``bootstrap`` arms these are the labels
        drawn regardless of the model's uncertainty (:attr:`drawn_uniformly`).

    Examples
    --------
    >>> LabelledItem("e1", {"x": 1.0}, "a", arm="control").drawn_uniformly
    True
    >>> LabelledItem("e2", {"x": 1.0}, "a", p=0.9).drawn_uniformly
    False
    """

    event_id: str
    features: Features
    label: Label
    p: float = 1.0
    arm: Arm = "active"
    region: str = ""
    production_proba: Proba | None = None
    requested_at: float = 0.0
    labelled_at: float = 0.0
    at_floor: bool = False

    @property
    def drawn_uniformly(self) -> bool:
        """Selected regardless of its uncertainty score: a ``control`` or ``bootstrap``
        pick, or an ``active`` one at the probability floor."""
        return self.arm != "active" or self.at_floor
