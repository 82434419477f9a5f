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


def ks_two_sample(
    reference: ArrayLike, window: ArrayLike, *, reference_sorted: bool = False
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

    Parameters
    ----------
    reference, window
        One-dimensional, non-empty samples without NaN.
    reference_sorted
        Promise that ``reference`` is already sorted ascending.

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
    win: NDArray[np.float64] = np.sort(np.asarray(window, dtype=float))
    if not reference_sorted:
        ref = np.sort(ref)
    n1, n2 = ref.shape[0], win.shape[0]
    if n1 == 0 or n2 == 0:
        raise ValueError("ks_two_sample needs two non-empty samples")
    pooled = np.concatenate([ref, win])
    cdf1 = np.searchsorted(ref, pooled, side="right") / n1
    cdf2 = np.searchsorted(win, pooled, side="right") / n2
    statistic = float(np.max(np.abs(cdf1 - cdf2)))
    en = float(n1) * float(n2) / float(n1 + n2)
    root = math.sqrt(en)
    p_value = float(np.clip(kolmogorov((root + 0.12 + 0.11 / root) * statistic), 0.0, 1.0))
    if math.isnan(p_value):  # pragma: no cover - kstwo returns nan only for invalid input
        p_value = 1.0
    return KSResult(statistic, p_value)
