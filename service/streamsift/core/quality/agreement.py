"""Inter-annotator agreement: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha (nominal)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from streamsift.core.types import Label
from streamsift.errors import ConfigurationError

__all__ = ["Agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha_nominal"]


@dataclass(frozen=True, slots=True)
class Agreement:
    """An agreement coefficient with its ingredients.

    Parameters
    ----------
    statistic
        ``"cohen_kappa"``, ``"fleiss_kappa"`` or ``"krippendorff_alpha_nominal"``.
    value
        The coefficient; ``nan`` when undefined (expected agreement of 1, or no
        expected disagreement).
    observed
        Observed agreement (kappas) or observed disagreement ``D_o`` (alpha).
    expected
        Chance agreement (kappas) or expected disagreement ``D_e`` (alpha).
    n_items
        Items (units) that entered the computation.

    Examples
    --------
    >>> cohen_kappa(["a", "b", "a", "b"], ["a", "b", "b", "b"])
    Agreement(statistic='cohen_kappa', value=0.5, observed=0.75, expected=0.5, n_items=4)
    """

    statistic: str
    value: float
    observed: float
    expected: float
    n_items: int


def _kappa(po: float, pe: float) -> float:
    return math.nan if pe >= 1.0 else (po - pe) / (1.0 - pe)


def cohen_kappa(a: Sequence[Label | None], b: Sequence[Label | None]) -> Agreement:
    """Cohen's kappa between two annotators; ``None`` marks a missing label.

    Only items labelled by both annotators count.

    Examples
    --------
    The classic 2x2 table (20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no):
    p_o = 0.7, p_e = 0.5, kappa = 0.4.

    >>> a = ["y"] * 25 + ["n"] * 25
    >>> b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    >>> r = cohen_kappa(a, b)
    >>> round(r.value, 12), round(r.observed, 12), round(r.expected, 12), r.n_items
    (0.4, 0.7, 0.5, 50)
    """
    if len(a) != len(b):
        raise ConfigurationError(f"a and b must have the same length, got {len(a)}, {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not pairs:
        raise ConfigurationError("a and b must share at least one labelled item")
    n = len(pairs)
    po = sum(x == y for x, y in pairs) / n
    ca = Counter(x for x, _ in pairs)
    cb = Counter(y for _, y in pairs)
    pe = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    return Agreement("cohen_kappa", _kappa(po, pe), po, pe, n)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> Agreement:
    """Fleiss' kappa from an items x categories count matrix.

    Each row gives, for one item, how many raters chose each category; every row
    must have the same total ``n >= 2``.

    Examples
    --------
    >>> r = fleiss_kappa([[2, 0], [0, 2], [1, 1]])
    >>> round(r.value, 6), round(r.observed, 6), round(r.expected, 6)
    (0.333333, 0.666667, 0.5)
    """
    rows = [[int(c) for c in row] for row in counts]
    if not rows:
        raise ConfigurationError("counts must have at least one row")
    n = sum(rows[0])
    width = len(rows[0])
    if n < 2 or any(len(r) != width or sum(r) != n or min(r) < 0 for r in rows):
        raise ConfigurationError(
            "counts must be non-negative rows of equal length, each summing to the same n >= 2"
        )
    n_items = len(rows)
    p_bar = sum(sum(c * (c - 1) for c in r) / (n * (n - 1)) for r in rows) / n_items
    p_j = [sum(r[j] for r in rows) / (n_items * n) for j in range(width)]
    pe = sum(p * p for p in p_j)
    return Agreement("fleiss_kappa", _kappa(p_bar, pe), p_bar, pe, n_items)


def krippendorff_alpha_nominal(units: Iterable[Iterable[Label | None]]) -> Agreement:
    """Krippendorff's alpha for nominal data, allowing missing values.

    Parameters
    ----------
    units
        One entry per unit (item): the values the coders gave it, ``None`` for a
        coder who did not code it. Units with fewer than two values are not
        pairable and are ignored.

    Notes
    -----
    With coincidence counts ``o_ck`` (each unit with ``m_u`` values contributes
    ``1 / (m_u - 1)`` per ordered pair of values from different coders),
    ``n_c = sum_k o_ck`` and ``n = sum_c n_c``:
    ``D_o = sum_{c != k} o_ck / n``, ``D_e = sum_{c != k} n_c n_k / (n (n - 1))``,
    ``alpha = 1 - D_o / D_e``.

    Examples
    --------
    >>> r = krippendorff_alpha_nominal([["a", "a"], ["b", "b"], ["a", "b", None], ["c"]])
    >>> round(r.value, 6), r.n_items
    (0.444444, 3)
    """
    o: dict[tuple[Label, Label], float] = {}
    n_units = 0
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        n_units += 1
        freq = Counter(values)
        for c, nc in freq.items():
            for k, nk in freq.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                o[(c, k)] = o.get((c, k), 0.0) + pairs / (m - 1)
    if n_units == 0:
        raise ConfigurationError("units must contain at least one unit with two or more values")
    n_c: dict[Label, float] = {}
    for (c, _), v in o.items():
        n_c[c] = n_c.get(c, 0.0) + v
    n = sum(n_c.values())
    d_o = sum(v for (c, k), v in o.items() if c != k) / n
    d_e = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n * (n - 1))
    alpha = math.nan if d_e == 0.0 else 1.0 - d_o / d_e
    return Agreement("krippendorff_alpha_nominal", alpha, d_o, d_e, n_units)
