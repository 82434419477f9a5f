"""Naive Bayes in a tree leaf, with no likelihood of zero counted as one.

River 0.26's ``do_naive_bayes_prediction`` (which its Hoeffding trees' naive-Bayes
leaves call) adds ``log p`` for a feature only when ``p > 0``: a class whose
Gaussian has no spread (seen once in the leaf, or always with one value), or which
never had the event's category, gains nothing from that feature, exactly as if the
likelihood were one, while every class with an actual spread loses a few nats per
feature. A class seen once in a leaf therefore wins every event reaching it. A
zero-weight class starts from a log vote of 0 (probability one) too. Measured on
the end-to-end test's setting (``python -m streamsift.bench.promotion_replay``,
seed 24): a leaf with 170 labels, fraud 79 and review 91 of them and one legit,
gave legit a probability of 1.0 for every event reaching it, and the published
model stayed at 0.69 on fresh events while other seeds reached 0.80.

:func:`leaf_tables` estimates each class's likelihoods with a prior instead:

* numeric feature, class ``c`` with weight ``n_c``, sum of squared deviations
  ``S_c`` and mean ``m_c`` (river's weighted Gaussian): variance
  ``(S_c + v) / (max(n_c - 1, 0) + 1)``, where ``v`` is the variance of the
  feature over all classes in the leaf (pooled); a class seen once gets ``v``, a
  class seen often its own variance; a class never seen with the feature takes the
  pooled mean and ``v`` (the feature says nothing about it); a feature with no
  pooled spread is skipped for every class alike;
* categorical feature: the class's share of the value with one pseudo-count per
  value (``(count + 1) / (n_c + V)``, ``V`` the values seen in the leaf plus one
  for any other), so an unseen value lowers a class's vote rather than leaving
  it untouched;
* a class of weight zero has probability zero.

The tables have the shape :class:`~streamsift.core.compiled.CompiledHat` compiles,
and :func:`naive_bayes` adds the votes in the same order with the same operations,
so the tree's own prediction and the compiled one agree to the bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from river.proba.gaussian import _HALF_LOG_TAU, Gaussian
from river.tree.splitter import GaussianSplitter
from river.tree.splitter.nominal_splitter_classif import NominalSplitterClassif

__all__ = ["Shares", "leaf_tables", "log_votes", "naive_bayes"]

#: Per class: ``(mean, -2 variance, log(variance) / 2)`` or ``None`` (not counted).
GaussianRow = tuple[float, float, float] | None
#: ``(priors, attributes)``; a prior is ``-inf`` for a class of weight zero; an
#: attribute is ``(name, is_gaussian, per-class parameters)``.
Tables = tuple[list[tuple[Any, float]], list[tuple[str, bool, list[Any]]]]


class Shares(dict[Any, float]):
    """A class's log shares of the categories of one feature, and of any other.

    Examples
    --------
    >>> s = Shares({"web": math.log(0.75)}, unseen=math.log(0.25))
    >>> round(math.exp(s.get("web", s.unseen)), 2), round(math.exp(s.get("app", s.unseen)), 2)
    (0.75, 0.25)
    """

    __slots__ = ("unseen",)

    def __init__(self, shares: Mapping[Any, float], *, unseen: float) -> None:
        super().__init__(shares)
        self.unseen = unseen

    def __reduce__(self) -> Any:
        return (_shares, (dict(self), self.unseen))


def _shares(shares: dict[Any, float], unseen: float) -> Shares:
    return Shares(shares, unseen=unseen)


def _gaussian_rows(dists: Mapping[Any, Any], priors: list[tuple[Any, float]]) -> list[GaussianRow]:
    moments: list[tuple[float, float, float] | None] = []  # (n, mean, S) per class
    for c, prior in priors:
        g = dists.get(c) if prior > -math.inf else None
        if g is None:
            moments.append(None)
            continue
        var = g._var
        n = float(var.mean.n)
        moments.append((n, float(var.mean._mean), float(var._S)) if n > 0 else None)
    seen = [m for m in moments if m is not None]
    total = sum(n for n, _, _ in seen)
    if total <= 1:
        return [None] * len(priors)
    mean = sum(n * m for n, m, _ in seen) / total
    pooled = sum(s + n * (m - mean) ** 2 for n, m, s in seen) / (total - 1)
    if not pooled > 0:  # no spread (or not finite): the feature says nothing
        return [None] * len(priors)
    rows: list[GaussianRow] = []
    for (_, prior), mom in zip(priors, moments, strict=True):
        if prior == -math.inf:
            rows.append(None)
            continue
        if mom is None:
            mu, variance = mean, pooled
        else:
            n, mu, s = mom
            variance = (s + pooled) / (max(n - 1.0, 0.0) + 1.0)
        rows.append((mu, -2.0 * variance, 0.5 * math.log(variance)))
    return rows


def _share_rows(dists: Mapping[Any, Any], priors: list[tuple[Any, float]]) -> list[Shares | None]:
    values: set[Any] = set()
    for counts in dists.values():
        values.update(counts)
    others = len(values) + 1
    rows: list[Shares | None] = []
    for c, prior in priors:
        if prior == -math.inf:
            rows.append(None)
            continue
        counts = dists.get(c) or {}
        denom = float(sum(counts.values())) + others
        rows.append(
            Shares(
                {v: math.log((k + 1.0) / denom) for v, k in counts.items()},
                unseen=math.log(1.0 / denom),
            )
        )
    return rows


def leaf_tables(stats: Mapping[Any, float], splitters: Mapping[str, Any]) -> Tables | None:
    """The naive-Bayes tables of a leaf (class weights ``stats``, river splitters);
    ``None`` when the leaf has no weight or a splitter of another kind.

    Examples
    --------
    >>> from river.tree.splitter import GaussianSplitter
    >>> amount = GaussianSplitter()
    >>> for c, v in [("fraud", 120.0), ("fraud", 150.0), ("fraud", 90.0), ("legit", 80.0)]:
    ...     amount.update(v, c, 1.0)
    >>> priors, atts = leaf_tables({"fraud": 3.0, "legit": 1.0}, {"amount": amount})
    >>> [(c, round(p, 3)) for c, p in priors]
    [('fraud', -0.288), ('legit', -1.386)]
    >>> name, gaussian, (fraud, legit) = atts[0]
    >>> round(-fraud[1] / 2), round(-legit[1] / 2)  # own spread (and prior); pooled
    (933, 1000)
    """
    total = float(sum(stats.values()))
    if not total > 0:
        return None
    priors = [(c, math.log(w / total) if w > 0 else -math.inf) for c, w in stats.items()]
    atts: list[tuple[str, bool, list[Any]]] = []
    for att, obs in splitters.items():
        kind = type(obs)
        dists = obs._att_dist_per_class
        if kind is GaussianSplitter:
            if any(type(g) is not Gaussian for g in dists.values()):
                return None
            atts.append((att, True, _gaussian_rows(dists, priors)))
        elif kind is NominalSplitterClassif:
            atts.append((att, False, _share_rows(dists, priors)))
        else:
            return None
    return priors, atts


def naive_bayes(x: Mapping[str, Any], tables: Tables) -> dict[Any, float]:
    """Class probabilities of ``x`` from a leaf's :func:`leaf_tables` (a feature
    missing from ``x`` is skipped).

    Normalised as river normalises (log-sum-exp), so the values sum to one up to
    the rounding of the log-sum: with votes of 1e16 nats and more (a feature of
    almost no spread) the maximum absorbs it; the leaf's prediction normalises again.

    Examples
    --------
    >>> from river.tree.splitter.nominal_splitter_classif import NominalSplitterClassif
    >>> channel = NominalSplitterClassif()
    >>> for c, v in [("fraud", "web"), ("fraud", "web"), ("legit", "app"), ("legit", "web")]:
    ...     channel.update(v, c, 1.0)
    >>> tables = leaf_tables({"fraud": 2.0, "legit": 2.0}, {"channel": channel})
    >>> for value in ("web", "app", "pos"):  # shares (2+1)/(2+3) and (1+1)/(2+3); 1/5 each
    ...     p = naive_bayes({"channel": value}, tables)
    ...     print(value, {c: round(v, 3) for c, v in p.items()})
    web {'fraud': 0.6, 'legit': 0.4}
    app {'fraud': 0.333, 'legit': 0.667}
    pos {'fraud': 0.5, 'legit': 0.5}
    """
    priors, atts = tables
    votes = log_votes(x, [p for _, p in priors], atts)
    exp = math.exp
    max_ll = max(votes)
    lse = max_ll + math.log(sum([exp(lp - max_ll) for lp in votes]))
    return {c: exp(lp - lse) for (c, _), lp in zip(priors, votes, strict=True)}


def log_votes(x: Mapping[str, Any], priors: Sequence[float], atts: Sequence[Any]) -> list[float]:
    """Each class's log prior plus the log likelihoods of ``x``'s features, added
    attribute by attribute in the tables' order (the one sum :func:`naive_bayes` and
    :class:`~streamsift.core.compiled.CompiledHat` both use). A feature missing from
    ``x`` (or NaN) is skipped; so is an infinite Gaussian term."""
    votes = list(priors)
    n = len(votes)
    get = x.get
    for att, gauss, per_class in atts:
        v = get(att)
        if v is None or (v != v and isinstance(v, float)):
            continue
        if gauss:
            for i in range(n):
                params = per_class[i]
                if params is not None:
                    log_p = (v - params[0]) ** 2 / params[1] - _HALF_LOG_TAU - params[2]
                    if log_p > -math.inf:
                        votes[i] += log_p
        else:
            for i in range(n):
                table = per_class[i]
                if table is not None:
                    votes[i] += table.get(v, table.unseen)
    return votes
