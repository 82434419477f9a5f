"""Control-arm estimates: model accuracies and the lift of active selection, with intervals.

Control picks are a uniform sample of the stream, so plain proportions over them are
unbiased estimates of the stream-wide accuracy of the production model and of the
online model. Two lifts are reported:

- ``lift``: online minus production accuracy on the same control items (paired),
  with a normal interval on the paired differences;
- ``error_lift``: how much more often active picks catch production-model errors than
  uniform picks do (ratio of error rates, active over control), with the Katz
  log interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from streamsift.core.selection._validate import check_float

__all__ = ["ControlArmEstimator", "Estimate", "wilson_interval"]


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(0, 1)`` when ``n == 0``).

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    if n <= 0:
        return 0.0, 1.0
    z = _z(confidence)
    phat = successes / n
    z2n = z * z / n
    denom = 1.0 + z2n
    centre = (phat + z2n / 2.0) / denom
    half = z / denom * math.sqrt(phat * (1.0 - phat) / n + z2n / (4.0 * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its confidence interval and the number of items behind it."""

    value: float
    low: float
    high: float
    n: int


class ControlArmEstimator:
    """Accumulates labelled outcomes per arm and reports unbiased control-arm estimates.

    Parameters
    ----------
    confidence
        Confidence level of the intervals, in (0, 1). Default 0.95.

    Examples
    --------
    >>> est = ControlArmEstimator()
    >>> for i in range(20):
    ...     est.update("control", production_correct=i % 4 != 0, online_correct=i % 5 != 0)
    >>> acc = est.production_accuracy
    >>> acc.value, round(acc.low, 4), round(acc.high, 4), acc.n
    (0.75, 0.5313, 0.8881, 20)
    >>> round(est.lift.value, 3)
    0.05
    """

    def __init__(self, confidence: float = 0.95) -> None:
        self.confidence = check_float(
            "confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self._reset()

    def _reset(self) -> None:
        self._prod = [0, 0]  # correct, seen (control)
        self._online = [0, 0]
        self._pairs = [0, 0.0, 0.0]  # n, sum d, sum d^2 (online - production)
        self._active_err = [0, 0]  # production errors, seen (active picks)

    def update(
        self,
        arm: str,
        *,
        production_correct: bool | None = None,
        online_correct: bool | None = None,
    ) -> None:
        """Record one labelled item of ``arm`` (``None`` where a model gave no prediction)."""
        if arm == "control":
            if production_correct is not None:
                self._prod[0] += int(production_correct)
                self._prod[1] += 1
            if online_correct is not None:
                self._online[0] += int(online_correct)
                self._online[1] += 1
            if production_correct is not None and online_correct is not None:
                d = float(online_correct) - float(production_correct)
                self._pairs[0] += 1
                self._pairs[1] += d
                self._pairs[2] += d * d
        elif arm == "active" and production_correct is not None:
            self._active_err[0] += int(not production_correct)
            self._active_err[1] += 1

    def _proportion(self, counts: list[int]) -> Estimate:
        k, n = counts
        low, high = wilson_interval(k, n, self.confidence)
        return Estimate(k / n if n else math.nan, low, high, n)

    @property
    def production_accuracy(self) -> Estimate:
        """Production model accuracy on control picks (Wilson interval)."""
        return self._proportion(self._prod)

    @property
    def online_accuracy(self) -> Estimate:
        """Online model accuracy on control picks (Wilson interval)."""
        return self._proportion(self._online)

    @property
    def lift(self) -> Estimate:
        """Online minus production accuracy on paired control picks (normal interval)."""
        n, s, s2 = self._pairs
        n = int(n)
        if n == 0:
            return Estimate(math.nan, -1.0, 1.0, 0)
        mean = s / n
        var = max(s2 / n - mean * mean, 0.0) * n / max(n - 1, 1)
        half = _z(self.confidence) * math.sqrt(var / n)
        return Estimate(mean, max(-1.0, mean - half), min(1.0, mean + half), n)

    @property
    def error_lift(self) -> Estimate:
        """Production error rate of active picks over that of control picks (Katz interval)."""
        a, n1 = self._active_err
        c, n0 = self._prod[1] - self._prod[0], self._prod[1]
        if n1 == 0 or n0 == 0 or c == 0:
            return Estimate(math.nan, 0.0, math.inf, min(n1, n0))
        if a == 0:
            return Estimate(0.0, 0.0, math.inf, min(n1, n0))
        ratio = (a / n1) / (c / n0)
        se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
        z = _z(self.confidence)
        return Estimate(ratio, ratio * math.exp(-z * se), ratio * math.exp(z * se), min(n1, n0))

    def __repr__(self) -> str:
        return f"ControlArmEstimator(confidence={self.confidence!r})"
