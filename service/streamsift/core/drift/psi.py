"""Population stability index: quantile bins (numeric) and category shares (categorical)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "UNSEEN",
    "bin_shares",
    "categorical_psi",
    "numeric_psi",
    "psi_from_shares",
    "quantile_edges",
    "smoothed_shares",
    "sorted_bin_shares",
]

#: The bucket that collects categories absent from the reference.
UNSEEN = "<unseen>"


def quantile_edges(reference: ArrayLike, n_bins: int = 10) -> NDArray[np.float64]:
    """Interior bin edges at the reference's ``1/n_bins, ..., (n_bins-1)/n_bins`` quantiles.

    Duplicate edges (ties in the reference) are dropped, so heavily tied features get
    fewer, non-empty bins.

    Examples
    --------
    >>> quantile_edges([1.0, 2.0, 3.0, 4.0], n_bins=2).tolist()
    [2.5]
    """
    ref = np.asarray(reference, dtype=float)
    probs = np.arange(1, n_bins) / n_bins
    return np.unique(np.quantile(ref, probs))


def smoothed_shares(counts: NDArray[np.float64], epsilon: float) -> NDArray[np.float64]:
    """Shares ``(c / n + epsilon) / (1 + k epsilon)``: no bucket is ever exactly empty."""
    total = float(counts.sum())
    shares = counts / total if total > 0 else np.zeros_like(counts)
    return (shares + epsilon) / (1.0 + epsilon * counts.size)


def bin_shares(
    values: ArrayLike, edges: NDArray[np.float64], epsilon: float = 1e-4
) -> NDArray[np.float64]:
    """Smoothed shares of ``values`` in the bins delimited by ``edges``.

    A value equal to an edge falls in the bin above it.
    """
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="right")
    counts = np.bincount(idx, minlength=edges.size + 1).astype(float)
    return smoothed_shares(counts, epsilon)


def sorted_bin_shares(
    values: NDArray[np.float64], edges: NDArray[np.float64], epsilon: float = 1e-4
) -> NDArray[np.float64]:
    """:func:`bin_shares` of ``values`` already sorted ascending (and free of NaN).

    The counts come from one binary search per edge instead of one per value: the
    number of values below each edge, differenced. A value equal to an edge falls in
    the bin above it, as in :func:`bin_shares`, so the shares are exactly equal.

    Examples
    --------
    >>> edges = np.array([2.0, 4.0])
    >>> values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    >>> sorted_bin_shares(values, edges, 0.0).tolist()
    [0.16666666666666666, 0.3333333333333333, 0.5]
    >>> bool((sorted_bin_shares(values, edges) == bin_shares(values, edges)).all())
    True
    """
    below = np.searchsorted(values, edges, side="left")
    counts = np.diff(below, prepend=0, append=values.shape[0]).astype(float)
    return smoothed_shares(counts, epsilon)


def psi_from_shares(reference: NDArray[np.float64], window: NDArray[np.float64]) -> float:
    """``sum((w - r) ln(w / r))`` over buckets; the shares must be strictly positive."""
    return float(np.sum((window - reference) * np.log(window / reference)))


def numeric_psi(
    reference: ArrayLike, window: ArrayLike, n_bins: int = 10, epsilon: float = 1e-4
) -> float:
    """PSI of ``window`` against ``reference`` with bins from reference quantiles.

    Parameters
    ----------
    reference, window
        Non-empty numeric samples.
    n_bins
        Number of quantile bins (fewer when the reference has ties).
    epsilon
        Additive smoothing of the bucket shares, so that an empty bucket contributes a
        large but finite term instead of infinity.

    Examples
    --------
    >>> ref = [float(i) for i in range(10)]
    >>> numeric_psi(ref, ref, n_bins=5)
    0.0
    >>> round(numeric_psi(ref, [v + 2.0 for v in ref], n_bins=5), 4)
    1.658
    """
    edges = quantile_edges(reference, n_bins)
    return psi_from_shares(
        bin_shares(reference, edges, epsilon), bin_shares(window, edges, epsilon)
    )


def _category_counts(
    reference: Mapping[str, int], window: Mapping[str, int]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Counts over the reference categories plus the unseen bucket (last)."""
    index = {cat: i for i, cat in enumerate(reference)}
    ref_counts = np.array([*reference.values(), 0], dtype=float)
    win_counts = np.zeros(len(index) + 1, dtype=float)
    for cat, count in window.items():
        win_counts[index.get(cat, len(index))] += count
    return ref_counts, win_counts


def categorical_psi(
    reference: Mapping[str, int] | Iterable[str],
    window: Mapping[str, int] | Iterable[str],
    epsilon: float = 1e-4,
) -> float:
    """PSI on category shares, with an unseen bucket for categories new in the window.

    Parameters
    ----------
    reference, window
        Categories, as values or as ``category -> count`` mappings.
    epsilon
        Additive smoothing of the shares (see :func:`numeric_psi`).

    Examples
    --------
    >>> categorical_psi(["a", "a", "b", "b"], ["a", "a", "b", "b"])
    0.0
    >>> round(categorical_psi(["a", "a", "b", "b"], ["a", "b", "b", "c"]), 4)
    2.1287
    """
    ref = reference if isinstance(reference, Mapping) else Counter(reference)
    win = window if isinstance(window, Mapping) else Counter(window)
    ref_counts, win_counts = _category_counts(ref, win)
    return psi_from_shares(
        smoothed_shares(ref_counts, epsilon), smoothed_shares(win_counts, epsilon)
    )
