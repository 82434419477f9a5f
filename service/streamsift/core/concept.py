"""Concept-change watch on the labels: when the model's confidence stops being earned.

A change in what the labels mean (``P(y | x)``) moves no feature, so the feature
drift tests of :mod:`streamsift.core.drift` cannot see it: only the labels can.
Under active selection the labels' raw error rate says little (the selected items
are the ones the model is unsure of, and the mix changes as the model learns), so
the watch follows each label's *surprise*: the model's confidence in its own
prediction minus whether it was right (``max_c p(c | x) - [prediction == y]``).
Before a change the surprise hovers near the model's calibration gap whatever the
selection picks; after one, confident predictions turn out wrong and it jumps.
An ADWIN detector (Bifet and Gavaldà 2007, River's implementation) watches its
mean; a significant *rise* is a concept change.

The surprise misses changes where the selected labels' confidence was low before
the change as after it (``synth:agrawal`` seed 9: no alarm at all). A second
ADWIN, with the same ``delta``, watches the plain error of the labels drawn
*regardless of* the score (the control and bootstrap arms and the active arm's
picks at its probability floor,
:attr:`~streamsift.core.types.LabelledItem.drawn_uniformly`): those are mostly
events the model is sure of, right most of the time before a change and wrong
far more often after one. A significant rise of either mean is an alarm.

After a change the model's uncertainty describes the old concept, so uncertainty
sampling keeps asking about the old boundary while the new one is elsewhere: the
sampler goes back to uniform sampling (the cold start's rule, with its warm-up
boost in fraction mode) until ``relearn_labels`` labels have been learnt since the
alarm, and the online model's tree forgets what its leaves learnt and keeps its
branches (:meth:`streamsift.core.online.OnlineModel.forget`): the leaves' counts of
the old labels would otherwise outvote the new ones for as many labels again.
Measured on ``synth:agrawal`` (docs/efficiency-notes.md, "Session 9" and "Session 11").
"""

from __future__ import annotations

import math
from typing import Any

from river import drift

from streamsift.errors import ConfigurationError

__all__ = ["ConceptWatch"]


class ConceptWatch:
    """Detect a rise in the labels' surprise, or in the uniformly drawn labels' error,
    and count the relearning labels after it.

    Parameters
    ----------
    delta
        ADWIN's confidence parameter, for both detectors (smaller: fewer false
        alarms, later alarms). Default 0.01: over the six reference streams at 5 %
        (seeds 0-10) it raised no alarm on the streams without an abrupt concept
        change.
    relearn_labels
        Labels after an alarm during which the model counts as relearning.

    Examples
    --------
    >>> watch = ConceptWatch(delta=0.01, relearn_labels=50)
    >>> for i in range(400):           # confident and right 95 % of the time
    ...     _ = watch.update(0.95, i % 20 != 0)
    >>> watch.changes, watch.relearning
    (0, False)
    >>> alarm_at = next(i for i in range(400) if watch.update(0.95, i % 2 == 0))
    >>> watch.changes, watch.relearning, alarm_at < 100
    (1, True, True)
    >>> for _ in range(50):
    ...     _ = watch.update(0.6, True)
    >>> watch.relearning
    False

    The uniformly drawn labels' error: unsure and right as often as the confidence
    says (no surprise), but right far less often than before.

    >>> watch = ConceptWatch(delta=0.01, relearn_labels=50)
    >>> for i in range(400):
    ...     _ = watch.update(0.6, i % 10 != 0, uniform=True)
    >>> alarm_at = next(
    ...     i for i in range(400) if watch.update(0.6, i % 5 < 3, uniform=True)
    ... )
    >>> watch.changes, alarm_at < 150
    (1, True)
    """

    # Pickles (model snapshots) from before the second detector: created on first use.
    _errors: drift.ADWIN | None = None

    def __init__(self, delta: float = 0.01, relearn_labels: int = 100) -> None:
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not 0 < delta < 1:
            raise ConfigurationError(f"concept_delta: expected a number in (0, 1), got {delta!r}")
        if (
            isinstance(relearn_labels, bool)
            or not isinstance(relearn_labels, int)
            or relearn_labels < 0
        ):
            raise ConfigurationError(
                f"relearn_labels: expected an integer >= 0, got {relearn_labels!r}"
            )
        self.delta = float(delta)
        self.relearn_labels = relearn_labels
        self._detector = drift.ADWIN(delta=self.delta)
        self._errors = drift.ADWIN(delta=self.delta)
        self._left = 0
        self._changes = 0

    def update(self, confidence: float, hit: bool, *, uniform: bool = False) -> bool:
        """Record one label; return whether it raised a concept-change alarm.

        Parameters
        ----------
        confidence
            The model's probability of the class it predicted, before learning.
        hit
            Whether that prediction was the label.
        uniform
            The label was drawn regardless of its uncertainty score
            (:attr:`~streamsift.core.types.LabelledItem.drawn_uniformly`): its
            error is watched too.
        """
        if not math.isfinite(confidence):
            return False
        # A rise seen while relearning is the change already answered (or the fresh
        # leaves' own transient), not a new one: both detectors learn from it, and
        # neither raises an alarm.
        relearning = self._left > 0
        if relearning:
            self._left -= 1
        alarm = False
        if uniform:
            errors = self._errors
            if errors is None:
                errors = self._errors = drift.ADWIN(delta=self.delta)
            before = errors.estimation
            errors.update(0.0 if hit else 1.0)
            if errors.drift_detected and errors.estimation > before and not relearning:
                self._errors = drift.ADWIN(delta=self.delta)  # the old error level is gone
                alarm = True
        before = self._detector.estimation
        self._detector.update(confidence - float(hit))
        if self._detector.drift_detected and self._detector.estimation > before:
            alarm = not relearning
        if alarm:
            self._changes += 1
            self._left = self.relearn_labels
        return alarm

    @property
    def relearning(self) -> bool:
        """Whether fewer than ``relearn_labels`` labels were learnt since the last alarm."""
        return self._left > 0

    @property
    def changes(self) -> int:
        """Concept-change alarms so far."""
        return self._changes

    def _params(self) -> dict[str, Any]:
        return {"delta": self.delta, "relearn_labels": self.relearn_labels}

    def clone(self) -> ConceptWatch:
        """A fresh watch with the same parameters."""
        return ConceptWatch(**self._params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"ConceptWatch({args})"
