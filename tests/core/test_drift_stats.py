"""Exact values of the univariate drift statistics and corrections, checked against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from streamsift.core.drift import (
    benjamini_hochberg,
    bonferroni,
    categorical_psi,
    chi_square_homogeneity,
    correct,
    ks_two_sample,
    numeric_psi,
    quantile_edges,
)


def test_ks_identical_samples() -> None:
    r = ks_two_sample([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert r.statistic == 0.0
    assert r.p_value == 1.0


def test_ks_known_shift() -> None:
    r = ks_two_sample([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    assert r.statistic == 0.5


@pytest.mark.parametrize(("n1", "n2", "shift"), [(50, 80, 0.0), (500, 500, 0.3), (2000, 137, 1.0)])
def test_ks_agrees_with_scipy(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1 + n2)
    a = rng.normal(size=n1)
    b = rng.normal(loc=shift, size=n2)
    ours = ks_two_sample(a, b)
    ref = ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(float(ref.statistic), abs=1e-15)
    # Stephens-corrected limiting distribution: close to scipy's p-values, not identical.
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=0.05, abs=1e-6)
    assert ks_two_sample(np.sort(a), b, reference_sorted=True) == ours


def test_ks_agrees_with_scipy_on_ties() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, size=300).astype(float)
    b = rng.integers(0, 6, size=200).astype(float)
    assert ks_two_sample(a, b).statistic == pytest.approx(float(ks_2samp(a, b).statistic))


def test_ks_rejects_empty() -> None:
    with pytest.raises(ValueError):
        ks_two_sample([], [1.0])


def test_quantile_edges_drop_ties() -> None:
    assert quantile_edges([1.0, 2.0, 3.0, 4.0], 2).tolist() == [2.5]
    assert quantile_edges([1.0] * 10, 10).tolist() == [1.0]


def test_numeric_psi_identical_is_zero() -> None:
    x = np.random.default_rng(0).normal(size=100)
    assert numeric_psi(x, x) == 0.0


def test_numeric_psi_known_shift() -> None:
    ref = [float(i) for i in range(10)]
    # bins from quantiles 0.2..0.8: edges 1.8, 3.6, 5.4, 7.2; reference shares 0.2 each,
    # shifted window shares (0, .2, .2, .2, .4)
    eps = 1e-4
    r = (0.2 + eps) / (1 + 5 * eps)
    w = np.array([eps, 0.2 + eps, 0.2 + eps, 0.2 + eps, 0.4 + eps]) / (1 + 5 * eps)
    expected = float(np.sum((w - r) * np.log(w / r)))
    assert numeric_psi(ref, [v + 2.0 for v in ref], n_bins=5, epsilon=eps) == pytest.approx(
        expected, rel=1e-12
    )


def test_numeric_psi_epsilon_is_used() -> None:
    ref, win = [0.0, 1.0], [5.0, 6.0]
    assert numeric_psi(ref, win, 2, epsilon=1e-2) < numeric_psi(ref, win, 2, epsilon=1e-6)


def test_categorical_psi_identical_and_unseen() -> None:
    assert categorical_psi(["a", "b", "b"], ["b", "a", "b"]) == 0.0
    eps = 1e-4
    # reference a:1/2 b:1/2 unseen:0 ; window a:1/4 b:1/2 unseen(c):1/4
    r = np.array([0.5 + eps, 0.5 + eps, eps]) / (1 + 3 * eps)
    w = np.array([0.25 + eps, 0.5 + eps, 0.25 + eps]) / (1 + 3 * eps)
    expected = float(np.sum((w - r) * np.log(w / r)))
    got = categorical_psi(["a", "a", "b", "b"], ["a", "b", "b", "c"], epsilon=eps)
    assert got == pytest.approx(expected, rel=1e-12)
    assert categorical_psi({"a": 2, "b": 2}, {"a": 1, "b": 2, "c": 1}, eps) == got


def test_chi_square_matches_scipy() -> None:
    stat, p = chi_square_homogeneity(["a"] * 30 + ["b"] * 30, ["a"] * 45 + ["b"] * 15)
    ref = chi2_contingency([[30, 30], [45, 15]], correction=False)
    assert stat == pytest.approx(float(ref[0]))
    assert p == pytest.approx(float(ref[1]), rel=1e-10)


def test_chi_square_pools_rare_categories() -> None:
    ref = {"a": 50, "b": 50, "x": 1}
    win = {"a": 50, "b": 50, "y": 2}
    stat, p = chi_square_homogeneity(ref, win, min_count=5)
    expected = chi2_contingency([[50, 50, 1], [50, 50, 2]], correction=False)
    assert stat == pytest.approx(float(expected[0]))
    assert p == pytest.approx(float(expected[1]))
    assert chi_square_homogeneity({"a": 3}, {"a": 4}) == (0.0, 1.0)


def test_bonferroni_exact() -> None:
    assert bonferroni([0.001, 0.2, 0.5]).tolist() == [0.003, 0.6000000000000001, 1.0]


def test_benjamini_hochberg_exact() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 -> m p / rank = .025, .025, .05, .05, .5
    assert benjamini_hochberg(p).tolist() == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert benjamini_hochberg([]).size == 0
    assert benjamini_hochberg([0.9, 0.95]).tolist() == [0.95, 0.95]


def test_correct_dispatch() -> None:
    p = [0.01, 0.02]
    assert correct(p, "bonferroni").tolist() == bonferroni(p).tolist()
    assert correct(p, "bh").tolist() == benjamini_hochberg(p).tolist()
    with pytest.raises(ValueError):
        correct(p, "holm")  # type: ignore[arg-type]


def test_bh_never_below_raw_and_monotone() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=50)
    adj = benjamini_hochberg(p)
    assert np.all(adj >= p - 1e-15)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)
    assert math.isclose(float(adj.max()), float(min(1.0, p.max())))


def _searchsorted_ks(ref: np.ndarray, win: np.ndarray) -> float:
    """The KS statistic by binary search over the pooled sample (scipy's own method)."""
    pooled = np.concatenate([ref, win])
    cdf1 = np.searchsorted(ref, pooled, side="right") / ref.size
    cdf2 = np.searchsorted(win, pooled, side="right") / win.size
    return float(np.max(np.abs(cdf1 - cdf2)))


@pytest.mark.parametrize("seed", range(40))
def test_ks_merge_statistic_is_the_searchsorted_one_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n1, n2 = (int(v) for v in rng.integers(1, 400, size=2))
    if seed % 3 == 0:  # heavy ties, within and across the samples
        ref = rng.integers(0, 6, n1).astype(float)
        win = rng.integers(0, 6, n2).astype(float)
    else:
        ref, win = rng.normal(size=n1), rng.normal(0.2, 1.3, size=n2)
        if seed % 3 == 1:
            win = np.concatenate([win, ref[: n1 // 2], [np.inf, -np.inf]])
    ref, win = np.sort(ref), np.sort(win)
    expected = _searchsorted_ks(ref, win)
    got = ks_two_sample(ref, win, reference_sorted=True, window_sorted=True)
    assert got.statistic == expected
    shuffled = rng.permutation(win)
    assert ks_two_sample(rng.permutation(ref), shuffled) == got


@pytest.mark.parametrize("seed", range(20))
def test_sorted_bin_shares_equal_bin_shares(seed: int) -> None:
    from streamsift.core.drift.psi import bin_shares, sorted_bin_shares

    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 8, 300).astype(float) if seed % 2 else rng.normal(size=300)
    edges = quantile_edges(ref, 10)
    values = np.sort(np.concatenate([rng.normal(size=200), edges, [np.inf, -np.inf]]))
    assert sorted_bin_shares(values, edges).tolist() == bin_shares(values, edges).tolist()
