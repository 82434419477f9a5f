"""Multiple-testing correction across the features of one window."""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Correction", "benjamini_hochberg", "bonferroni", "correct"]

#: Which correction to apply: family-wise (``bonferroni``) or false discovery rate (``bh``).
Correction: TypeAlias = Literal["bonferroni", "bh"]


def bonferroni(p_values: ArrayLike) -> NDArray[np.float64]:
    """Bonferroni-adjusted p-values, ``min(1, m p)``.

    Examples
    --------
    >>> bonferroni([0.01, 0.2, 0.5]).tolist()
    [0.03, 0.6000000000000001, 1.0]
    """
    p = np.asarray(p_values, dtype=float)
    return np.minimum(1.0, p * p.size)


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, clipped at 1).

    The adjusted value of the i-th smallest p-value is ``min_{j >= i} m p_(j) / j``;
    rejecting the adjusted values below ``alpha`` controls the false discovery rate at
    ``alpha`` (and the family-wise error rate when no feature drifted).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).tolist()
    [0.04, 0.05333333333333334, 0.05333333333333334, 0.5]
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m, dtype=float)
    adjusted[order] = np.minimum(1.0, adjusted_sorted)
    return adjusted


def correct(p_values: ArrayLike, method: Correction) -> NDArray[np.float64]:
    """Apply ``method`` (``"bonferroni"`` or ``"bh"``) to a vector of p-values."""
    if method == "bonferroni":
        return bonferroni(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    raise ValueError(f"unknown correction {method!r}")
