"""The promotion gate: publish a newly trained model only if it is not far worse.

An online tree trained on a few hundred actively chosen labels can, for a while,
be much worse than the model it came from: when a Hoeffding tree with
naive-Bayes-adaptive leaves splits a leaf (or swaps in an alternate subtree), the
new leaves start without naive-Bayes statistics and predict their majority class
until enough labels reach them, so a small tree can predict one class for every
event. Scorers on every worker would hot-swap to that model
and spend the labelling budget on its scores. The gate compares the candidate
(the learner's model now) with the published model on the most recent labels and
holds the candidate back when it is worse by more than ``max_drop`` (absolute
accuracy). The candidate keeps learning; it is published at the next snapshot
that passes.

The comparison is deliberately one-sided: the recent labels are labels the
candidate has already learned and the published model mostly has not, so the
candidate is favoured. Ordinary learning and a real concept change (where the
published model is the one that fails on recent labels) therefore always pass;
only a candidate that is worse even on labels it was trained on is held back,
which is the collapse this guards against. Accuracy is unweighted: the labels are
actively chosen (near the decision boundary), so both figures are lower than on
the event stream, but they are lower for both models alike.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from streamsift.core.types import Label
from streamsift.errors import ConfigurationError

__all__ = ["PromotionGate", "PromotionVerdict"]


class _Predictor(Protocol):
    def predict_one(self, x: Mapping[str, Any]) -> Label | None: ...


@dataclass(frozen=True, slots=True)
class PromotionVerdict:
    """The gate's judgement of one candidate.

    Parameters
    ----------
    promote
        Whether the candidate may be published.
    reason
        ``first`` (nothing published yet), ``too_few_labels`` (fewer than
        ``min_labels`` recent labels: no evidence either way), ``not_worse``, or
        ``worse`` (held back).
    labels
        Number of recent labels both models were scored on.
    candidate_accuracy, published_accuracy
        Their accuracies on those labels (NaN when not measured).
    """

    promote: bool
    reason: str
    labels: int
    candidate_accuracy: float
    published_accuracy: float


class PromotionGate:
    """Compare a candidate model with the published one on the latest labels.

    Parameters
    ----------
    window
        Number of most recent labels kept (and scored at each judgement).
    min_labels
        Below this many recent labels the candidate is promoted unjudged.
    max_drop
        Largest accepted accuracy drop of the candidate below the published model
        (absolute, in [0, 1]; 1 disables the gate).

    Examples
    --------
    >>> class Constant:
    ...     def __init__(self, label): self.label = label
    ...     def predict_one(self, x): return self.label
    >>> class Sign:
    ...     def predict_one(self, x): return "pos" if x["v"] > 0 else "neg"
    >>> gate = PromotionGate(window=100, min_labels=10, max_drop=0.1)
    >>> for i in range(40):
    ...     v = i % 4 - 1.5
    ...     gate.observe({"v": v}, "pos" if v > 0 else "neg")
    >>> verdict = gate.judge(Constant("pos"), published=Sign())
    >>> verdict.promote, verdict.reason, verdict.candidate_accuracy, verdict.published_accuracy
    (False, 'worse', 0.5, 1.0)
    >>> gate.judge(Sign(), published=Constant("pos")).promote
    True
    >>> gate.judge(Constant("pos"), published=None).reason
    'first'
    """

    def __init__(self, window: int = 500, min_labels: int = 100, max_drop: float = 0.1) -> None:
        for name, v in (("window", window), ("min_labels", min_labels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigurationError(f"{name}: expected an int >= 1, got {v!r}")
        if min_labels > window:
            raise ConfigurationError(f"min_labels ({min_labels}) exceeds window ({window})")
        if (
            isinstance(max_drop, bool)
            or not isinstance(max_drop, int | float)
            or not 0.0 <= max_drop <= 1.0
        ):
            raise ConfigurationError(f"max_drop: expected a number in [0, 1], got {max_drop!r}")
        self.window = window
        self.min_labels = min_labels
        self.max_drop = float(max_drop)
        self._recent: deque[tuple[Mapping[str, Any], Label]] = deque(maxlen=window)

    def __repr__(self) -> str:
        return (
            f"PromotionGate(window={self.window}, min_labels={self.min_labels}, "
            f"max_drop={self.max_drop})"
        )

    def __len__(self) -> int:
        return len(self._recent)

    def observe(self, features: Mapping[str, Any], label: Label) -> None:
        """Remember one label (the oldest is forgotten beyond ``window``)."""
        self._recent.append((features, label))

    def clear(self) -> None:
        """Forget every label (a new owner refills from the training topic)."""
        self._recent.clear()

    def _accuracy(self, model: _Predictor) -> float:
        many = getattr(model, "predict_proba_many", None)
        if many is not None:  # the online model's batch path: same predictions, faster
            xs = [x for x, _ in self._recent]
            hits = sum(
                (max(p, key=p.__getitem__) if p else None) == y
                for p, (_, y) in zip(many(xs), self._recent, strict=True)
            )
        else:
            hits = sum(model.predict_one(x) == y for x, y in self._recent)
        return hits / len(self._recent)

    def judge(self, candidate: _Predictor, published: _Predictor | None) -> PromotionVerdict:
        """Whether ``candidate`` may replace ``published`` (``None``: nothing published)."""
        n = len(self._recent)
        if published is None:
            return PromotionVerdict(True, "first", n, math.nan, math.nan)
        if n < self.min_labels:
            return PromotionVerdict(True, "too_few_labels", n, math.nan, math.nan)
        cand, pub = self._accuracy(candidate), self._accuracy(published)
        if cand < pub - self.max_drop - 1e-12:
            return PromotionVerdict(False, "worse", n, cand, pub)
        return PromotionVerdict(True, "not_worse", n, cand, pub)
