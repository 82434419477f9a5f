"""A region's reference window, summarised once and compared against each new window."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from streamsift.core.drift.chisquare import chi_square_homogeneity
from streamsift.core.drift.ks import ks_two_sample
from streamsift.core.drift.psi import (
    categorical_psi,
    psi_from_shares,
    quantile_edges,
    sorted_bin_shares,
)
from streamsift.core.drift.results import FeatureKind
from streamsift.core.drift.window import Columns

__all__ = ["RawTest", "Reference"]


@dataclass(frozen=True, slots=True)
class RawTest:
    """One uncorrected comparison (the monitor adds the correction and the level)."""

    feature: str
    kind: FeatureKind
    ks_statistic: float | None
    p_value: float | None
    psi: float


class _NumericReference:
    __slots__ = ("edges", "shares", "sorted")

    def __init__(self, values: NDArray[np.float64], n_bins: int, epsilon: float) -> None:
        self.sorted = np.sort(values)
        self.edges = quantile_edges(self.sorted, n_bins)
        self.shares = sorted_bin_shares(self.sorted, self.edges, epsilon)

    def compare(
        self, name: str, kind: FeatureKind, values: NDArray[np.float64], epsilon: float
    ) -> RawTest:
        window = np.sort(values)  # once, for both the KS merge and the PSI bins
        ks = ks_two_sample(self.sorted, window, reference_sorted=True, window_sorted=True)
        psi = psi_from_shares(self.shares, sorted_bin_shares(window, self.edges, epsilon))
        return RawTest(name, kind, ks.statistic, ks.p_value, psi)


class Reference:
    """Summary of a reference window: sorted values, quantile bins, category counts."""

    __slots__ = (
        "categorical",
        "epsilon",
        "min_category_count",
        "n",
        "numeric",
        "predictions",
        "score",
    )

    def __init__(
        self, columns: Columns, n_bins: int, epsilon: float, min_category_count: int
    ) -> None:
        self.n = columns.n
        self.epsilon = epsilon
        self.min_category_count = min_category_count
        self.numeric = {
            name: _NumericReference(values, n_bins, epsilon)
            for name, values in sorted(columns.numeric.items())
            if values.size
        }
        self.categorical: dict[str, Counter[str]] = dict(sorted(columns.categorical.items()))
        self.score = (
            _NumericReference(columns.score, n_bins, epsilon) if columns.score.size else None
        )
        self.predictions = columns.predictions

    def _categorical(
        self, name: str, kind: FeatureKind, ref: Counter[str], win: Counter[str]
    ) -> RawTest:
        _, p = chi_square_homogeneity(ref, win, self.min_category_count)
        return RawTest(name, kind, None, p, categorical_psi(ref, win, self.epsilon))

    def compare(self, columns: Columns) -> list[RawTest]:
        """Uncorrected tests of ``columns`` against this reference, in a stable order.

        Features missing from either side are skipped.
        """
        tests: list[RawTest] = []
        for name, ref in self.numeric.items():
            values = columns.numeric.get(name)
            if values is not None and values.size:
                tests.append(ref.compare(name, "numeric", values, self.epsilon))
        for name, counts in self.categorical.items():
            window_counts = columns.categorical.get(name)
            if window_counts:
                tests.append(self._categorical(name, "categorical", counts, window_counts))
        if self.score is not None and columns.score.size:
            tests.append(self.score.compare("score", "score", columns.score, self.epsilon))
        if self.predictions and columns.predictions:
            tests.append(
                self._categorical("predicted", "prediction", self.predictions, columns.predictions)
            )
        return tests
