"""Concept-change watch on the labels: when the model's confidence stops being earned.

A change in what the labels mean (``P(y | x)``) moves no feature, so the feature
drift tests of :mod:`streamsift.core.drift` cannot see it: only the labels can.
Under active selection the labels' raw error rate says little (the selected items
are the ones the model is unsure of, and the mix changes as the model learns), so
the watch judges each label against the model's own forecast for it: a prediction
made with confidence ``c`` should be wrong with probability ``1 - c``. The test is
the risk-adjusted Bernoulli CUSUM of clinical-outcome monitoring (Steiner, Cook,
Farewell and Treasure 2000), where each case comes with its own predicted risk:
every label adds the log-likelihood ratio of "the odds of an error are
``odds_ratio`` times what the confidence says" against "as the confidence says",
the sum is kept at or above zero, and an alarm is raised when it exceeds
``log(1 / delta)``.

Each label weighs what it can tell: a miss the model was sure of (a uniformly drawn
label, mostly) adds much, a miss on an unsure pick little, a hit subtracts. The
confidences of a Hoeffding tree are not calibrated, so the forecast odds are first
multiplied by the observed-to-forecast error ratio of the last
``calibration_labels`` or so labels (exponential memory): the watch looks for
errors *rising*, not for a model that was always overconfident.

It replaces two ADWIN detectors (on each label's surprise, confidence minus hit,
and on the error of the labels drawn regardless of their score). On the 22
``synth:agrawal`` seeds, replayed offline without a watch, those two detected the
change a median 125 labels after it and missed it on five seeds; the CUSUM detects
it a median 28.5 labels after it and misses one, with fewer alarms on long stationary
streams (docs/efficiency-notes.md, "Session 13").

After a change the model's uncertainty describes the old concept, so uncertainty
sampling keeps asking about the old boundary while the new one is elsewhere: the
sampler goes back to uniform sampling (the cold start's rule, with its warm-up
boost in fraction mode) until ``relearn_labels`` labels have been learnt since the
alarm, and the online model's tree forgets what its leaves learnt and keeps its
branches (:meth:`streamsift.core.online.OnlineModel.forget`): the leaves' counts of
the old labels would otherwise outvote the new ones for as many labels again.
Measured on ``synth:agrawal`` (docs/efficiency-notes.md, "Session 9", "Session 11"
and "Session 13").
"""

from __future__ import annotations

import math
from typing import Any

from streamsift.errors import ConfigurationError

__all__ = ["DEFAULT_DELTA", "ConceptWatch"]

# Forecast error probabilities are kept in [ERROR_FLOOR, 1 - ERROR_FLOOR]: a
# confidence of exactly 1 would make one miss an infinite surprise.
ERROR_FLOOR = 0.02
DEFAULT_DELTA = 0.0025
DEFAULT_ODDS_RATIO = 2.0
DEFAULT_CALIBRATION_LABELS = 500


class ConceptWatch:
    """Risk-adjusted CUSUM on the labels' errors, and the relearning count after an alarm.

    Parameters
    ----------
    delta
        The alarm threshold is ``log(1 / delta)``. For a model whose (recalibrated)
        confidence is earned, the CUSUM's mean run between false alarms is at
        least ``1 / delta`` labels (Lorden's bound, ``ARL0 >= exp(h)``). Default
        0.0025 (threshold 6.0; docs/efficiency-notes.md, "Session 13").
    relearn_labels
        Labels after an alarm during which the model counts as relearning; no
        alarm is raised while relearning (the change already answered, or the
        fresh leaves' own transient).
    odds_ratio
        The rise of the odds of an error the CUSUM is tuned to detect (> 1).
    calibration_labels
        Memory of the observed-to-forecast error ratio, in labels (>= 1).

    Examples
    --------
    >>> watch = ConceptWatch(delta=0.0025, relearn_labels=50)
    >>> for i in range(400):           # 90 % sure and right 90 % of the time
    ...     _ = watch.update(0.9, i % 10 != 0)
    >>> watch.changes, watch.relearning
    (0, False)
    >>> alarm_at = next(i for i in range(400) if watch.update(0.9, i % 2 == 0))
    >>> watch.changes, watch.relearning, alarm_at < 40
    (1, True, True)
    >>> for _ in range(50):
    ...     _ = watch.update(0.6, True)
    >>> watch.relearning
    False

    Unsure picks tell little: the same fall from 90 % to 50 % right is found much
    later when the model said 60 % on each.

    >>> unsure = ConceptWatch(delta=0.0025)
    >>> for i in range(400):
    ...     _ = unsure.update(0.6, i % 10 != 0)
    >>> next(i for i in range(400) if unsure.update(0.6, i % 2 == 0)) > alarm_at
    True
    """

    # Pickles (model snapshots) from before the CUSUM (they held two ADWINs):
    # these defaults, and the ADWINs are dropped on load.
    odds_ratio: float = DEFAULT_ODDS_RATIO
    calibration_labels: int = DEFAULT_CALIBRATION_LABELS
    _score: float = 0.0
    _observed: float = 0.0
    _expected: float = 0.0

    def __init__(
        self,
        delta: float = DEFAULT_DELTA,
        relearn_labels: int = 100,
        *,
        odds_ratio: float = DEFAULT_ODDS_RATIO,
        calibration_labels: int = DEFAULT_CALIBRATION_LABELS,
    ) -> None:
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not 0 < delta < 1:
            raise ConfigurationError(f"concept_delta: expected a number in (0, 1), got {delta!r}")
        _check_count("relearn_labels", relearn_labels, 0)
        if (
            isinstance(odds_ratio, bool)
            or not isinstance(odds_ratio, int | float)
            or not 1 < odds_ratio < math.inf
        ):
            raise ConfigurationError(f"odds_ratio: expected a number > 1, got {odds_ratio!r}")
        _check_count("calibration_labels", calibration_labels, 1)
        self.delta = float(delta)
        self.relearn_labels = relearn_labels
        self.odds_ratio = float(odds_ratio)
        self.calibration_labels = calibration_labels
        self._score = 0.0
        self._observed = 0.0  # exponentially weighted errors ...
        self._expected = 0.0  # ... and raw forecast errors, same memory
        self._left = 0
        self._changes = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.pop("_detector", None)  # the ADWINs of an older snapshot's watch
        state.pop("_errors", None)
        self.__dict__.update(state)

    @property
    def threshold(self) -> float:
        """The CUSUM's alarm threshold, ``log(1 / delta)``."""
        return math.log(1.0 / self.delta)

    def update(self, confidence: float, hit: bool) -> bool:
        """Record one label; return whether it raised a concept-change alarm.

        Parameters
        ----------
        confidence
            The model's probability of the class it predicted, before learning.
        hit
            Whether that prediction was the label.
        """
        if not math.isfinite(confidence):
            return False
        relearning = self._left > 0
        if relearning:
            self._left -= 1
        forecast = _clip(1.0 - confidence)
        # Recalibrate: the forecast odds times the ratio of the errors observed to the
        # errors forecast (a prior of one of each keeps the first labels near the raw
        # forecast).
        odds = forecast / (1.0 - forecast) * (self._observed + 1.0) / (self._expected + 1.0)
        error = _clip(odds / (1.0 + odds))
        keep = 1.0 - 1.0 / self.calibration_labels
        self._observed = self._observed * keep + (0.0 if hit else 1.0)
        self._expected = self._expected * keep + forecast
        r = self.odds_ratio
        risen = r * error / (1.0 - error + r * error)
        step = math.log((1.0 - risen) / (1.0 - error)) if hit else math.log(risen / error)
        self._score = max(0.0, self._score + step)
        if self._score <= self.threshold:
            return False
        self._score = 0.0
        if relearning:
            return False
        self._changes += 1
        self._left = self.relearn_labels
        return True

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

    def _options(self) -> dict[str, Any]:
        return {"odds_ratio": self.odds_ratio, "calibration_labels": self.calibration_labels}

    def clone(self) -> ConceptWatch:
        """A fresh watch with the same parameters."""
        return ConceptWatch(**self._params(), **self._options())

    def __repr__(self) -> str:
        params = self._params()
        defaults = {
            "odds_ratio": DEFAULT_ODDS_RATIO,
            "calibration_labels": DEFAULT_CALIBRATION_LABELS,
        }
        params.update((k, v) for k, v in self._options().items() if v != defaults[k])
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"ConceptWatch({args})"


def _check_count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name}: expected an integer >= {minimum}, got {value!r}")


def _clip(error: float) -> float:
    return min(max(error, ERROR_FLOOR), 1.0 - ERROR_FLOOR)
