"""Chi-square test of homogeneity between two categorical samples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
from scipy.special import chdtrc

__all__ = ["chi_square_homogeneity"]


def chi_square_homogeneity(
    reference: Mapping[str, int] | Iterable[str],
    window: Mapping[str, int] | Iterable[str],
    min_count: int = 5,
) -> tuple[float, float]:
    """Pearson chi-square test that two samples share one category distribution.

    Categories whose pooled count is below ``min_count`` are merged into one bucket,
    which keeps the chi-square approximation honest for rare categories.

    Returns
    -------
    tuple of float
        ``(statistic, p_value)``; ``(0.0, 1.0)`` when fewer than two buckets remain.

    Examples
    --------
    >>> stat, p = chi_square_homogeneity(["a"] * 30 + ["b"] * 30, ["a"] * 45 + ["b"] * 15)
    >>> round(stat, 4), round(p, 6)
    (8.0, 0.004678)
    """
    ref = reference if isinstance(reference, Mapping) else Counter(reference)
    win = window if isinstance(window, Mapping) else Counter(window)
    columns: list[tuple[float, float]] = []
    rare_ref = rare_win = 0.0
    for cat in dict.fromkeys([*ref, *win]):
        r, w = float(ref.get(cat, 0)), float(win.get(cat, 0))
        if r + w < min_count:
            rare_ref += r
            rare_win += w
        else:
            columns.append((r, w))
    if rare_ref + rare_win > 0:
        columns.append((rare_ref, rare_win))
    if len(columns) < 2:
        return 0.0, 1.0
    table = np.array(columns, dtype=float).T
    n_rows = table.sum(axis=1, keepdims=True)
    n_cols = table.sum(axis=0, keepdims=True)
    total = float(table.sum())
    if n_rows.min() == 0:
        return 0.0, 1.0
    expected = n_rows * n_cols / total
    statistic = float(np.sum((table - expected) ** 2 / expected))
    p_value = float(chdtrc(len(columns) - 1, statistic))
    return statistic, p_value
