"""Two-sample Kolmogorov-Smirnov test: numpy statistic, Stephens-corrected asymptotic p-value."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import kolmogorov

__all__ = ["KSResult", "ks_two_sample"]


@dataclass(frozen=True, slots=True)
class KSResult:
    """Outcome of a two-sample KS test.

    Parameters
    ----------
    statistic
        The largest absolute gap between the two empirical CDFs.
    p_value
        Two-sided p-value.
    """

    statistic: float
    p_value: float


def _statistic(ref: NDArray[np.float64], win: NDArray[np.float64]) -> float:
    """``max |F_ref - F_win|`` over the pooled sample; both inputs sorted, no NaN."""
    n1, n2 = ref.shape[0], win.shape[0]
    pooled = np.concatenate([ref, win])
    order = np.argsort(pooled, kind="stable")  # merges the two sorted runs
    values = pooled[order]
    below_ref = np.cumsum(order < n1)  # reference values <= values[i]
    below_win = np.arange(1, n1 + n2 + 1) - below_ref
    last = np.empty(n1 + n2, dtype=bool)  # last of each run of equal values
    np.not_equal(values[1:], values[:-1], out=last[:-1])
    last[-1] = True
    return float(np.max(np.abs(below_ref[last] / n1 - below_win[last] / n2)))


def ks_two_sample(
    reference: ArrayLike,
    window: ArrayLike,
    *,
    reference_sorted: bool = False,
    window_sorted: bool = False,
) -> KSResult:
    """Two-sided two-sample KS test.

    The statistic equals ``scipy.stats.ks_2samp(reference, window).statistic``. The
    p-value is Kolmogorov's limiting distribution with Stephens' small-sample
    correction, ``Q((sqrt(en) + 0.12 + 0.11 / sqrt(en)) D)`` with
    ``en = n1 n2 / (n1 + n2)`` (Numerical Recipes 14.3): within a few per cent of
    scipy's exact and ``asymp`` p-values for windows of a hundred events and more, and
    a closed-form series (about a microsecond) where ``scipy.stats.kstwo.sf`` costs
    milliseconds, which is what let window closing dominate the hot path. Skipping
    scipy's wrapper also lets the monitor sort each reference once per reference.

    The statistic is computed by one stable merge of the two sorted samples: the
    empirical CDFs are running counts, read at the last of each run of equal values
    (where ``searchsorted(..., side="right")`` reads them), so the value is exactly
    scipy's at about half the cost of its two binary searches over the pooled sample.

    Parameters
    ----------
    reference, window
        One-dimensional, non-empty samples without NaN.
    reference_sorted, window_sorted
        Promise that ``reference`` (``window``) is already sorted ascending.

    Returns
    -------
    KSResult

    Examples
    --------
    >>> r = ks_two_sample([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    >>> r.statistic, round(r.p_value, 4)
    (0.5, 0.5344)
    """
    ref = np.asarray(reference, dtype=float)
    win: NDArray[np.float64] = np.asarray(window, dtype=float)
    if not reference_sorted:
        ref = np.sort(ref)
    if not window_sorted:
        win = np.sort(win)
    n1, n2 = ref.shape[0], win.shape[0]
    if n1 == 0 or n2 == 0:
        raise ValueError("ks_two_sample needs two non-empty samples")
    statistic = _statistic(ref, win)
    en = float(n1) * float(n2) / float(n1 + n2)
    root = math.sqrt(en)
    p_value = float(np.clip(kolmogorov((root + 0.12 + 0.11 / root) * statistic), 0.0, 1.0))
    if math.isnan(p_value):  # pragma: no cover - kstwo returns nan only for invalid input
        p_value = 1.0
    return KSResult(statistic, p_value)
