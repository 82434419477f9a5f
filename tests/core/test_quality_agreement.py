"""Tier 1: agreement coefficients on published worked examples, checked by hand."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamsift.core.quality import cohen_kappa, fleiss_kappa, krippendorff_alpha_nominal
from streamsift.errors import ConfigurationError


def test_cohen_kappa_classic_two_by_two() -> None:
    # Wikipedia "Cohen's kappa": 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    r = cohen_kappa(a, b)
    # Hand computation: po = 35/50; A says yes 25/50, B says yes 30/50;
    # pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4.
    po = Fraction(35, 50)
    pe = Fraction(25, 50) * Fraction(30, 50) + Fraction(25, 50) * Fraction(20, 50)
    assert (po, pe, (po - pe) / (1 - pe)) == (Fraction(7, 10), Fraction(1, 2), Fraction(2, 5))
    assert r.observed == pytest.approx(0.7, abs=1e-12)
    assert r.expected == pytest.approx(0.5, abs=1e-12)
    assert r.value == pytest.approx(0.4, abs=1e-12)
    assert r.n_items == 50


def test_cohen_kappa_skips_missing_and_validates() -> None:
    r = cohen_kappa(["a", None, "b", "a"], ["a", "b", None, "a"])
    assert r.n_items == 2 and math.isnan(r.value)  # both always "a": pe = 1
    with pytest.raises(ConfigurationError, match="same length"):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ConfigurationError, match="at least one"):
        cohen_kappa([None], ["a"])


FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_wikipedia_example() -> None:
    r = fleiss_kappa(FLEISS_WIKIPEDIA)
    # Published: P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
    assert round(r.observed, 3) == 0.378
    assert round(r.expected, 3) == 0.213
    assert round(r.value, 3) == 0.210
    # Hand computation with exact fractions: column totals 20, 28, 39, 21, 32 of 140;
    # sum over items of sum_j n_ij (n_ij - 1) = 688 over 10 * 14 * 13.
    pe = sum(Fraction(c, 140) ** 2 for c in (20, 28, 39, 21, 32))
    p_bar = Fraction(688, 10 * 14 * 13)
    kappa = (p_bar - pe) / (1 - pe)
    assert r.value == pytest.approx(float(kappa), abs=1e-12)
    assert r.value == pytest.approx(0.20993070442195522, abs=1e-12)


def test_fleiss_validation() -> None:
    for bad in ([], [[1, 1], [2, 1]], [[1]], [[2, -1, 1]]):
        with pytest.raises(ConfigurationError, match="counts"):
            fleiss_kappa(bad)


# Krippendorff (2011) "Computing Krippendorff's alpha-reliability", nominal example:
# 4 observers, 12 units, missing values; published alpha_nominal = 0.743.
M: None = None  # missing
KRIPP_A = [1, 2, 3, 3, 2, 1, 4, 1, 2, M, M, M]
KRIPP_B = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, M, 3]
KRIPP_C = [M, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, M]
KRIPP_D = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, M]


def test_krippendorff_alpha_nominal_published_example() -> None:
    r = krippendorff_alpha_nominal(zip(KRIPP_A, KRIPP_B, KRIPP_C, KRIPP_D, strict=True))
    assert round(r.value, 3) == 0.743
    assert r.n_items == 11  # unit 12 has a single value: not pairable
    # Hand computation: pairable values n = 40 with n_c = (9, 13, 10, 5, 3) for 1..5.
    # Disagreeing pairs: unit 2 (2,2,3,2) -> 6 ordered pairs / 3; unit 6 (1,2,3,4) ->
    # 12 / 3; unit 8 (1,1,2,1) -> 6 / 3; total 8, so D_o = 8 / 40.
    # alpha = 1 - (n - 1) * 8 / (n^2 - sum n_c^2) = 1 - 39 * 8 / (1600 - 384) = 113/152.
    n, n_c = 40, (9, 13, 10, 5, 3)
    alpha = 1 - Fraction((n - 1) * 8, n * n - sum(c * c for c in n_c))
    assert alpha == Fraction(113, 152)
    assert r.value == pytest.approx(float(alpha), abs=1e-12)
    assert r.observed == pytest.approx(0.2, abs=1e-12)
    assert r.expected == pytest.approx(1216 / 1560, abs=1e-12)


def test_krippendorff_validation_and_perfect_agreement() -> None:
    with pytest.raises(ConfigurationError, match="units"):
        krippendorff_alpha_nominal([["a"], [None, "b"]])
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b", None]]).value == 1.0
    assert math.isnan(krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]).value)


@given(st.lists(st.tuples(st.sampled_from("xyz"), st.sampled_from("xyz")), min_size=2))
def test_two_coder_alpha_and_kappa_properties(pairs: list[tuple[str, str]]) -> None:
    a, b = zip(*pairs, strict=True)
    k = cohen_kappa(a, b)
    alpha = krippendorff_alpha_nominal(pairs)
    assert k.observed == pytest.approx(1.0 - alpha.observed)
    if not math.isnan(k.value):
        assert -1.0 <= k.value <= 1.0
    if not math.isnan(alpha.value):
        assert alpha.value <= 1.0
