"""A Hoeffding adaptive tree compiled for scoring many events with one frozen model.

:func:`~streamsift.core.online.hat_predict_proba` walks river's node objects for each
event and rebuilds every leaf's naive-Bayes statistics (class priors, each Gaussian's
variance and its logarithm, each nominal count's share) at every call. Between two
snapshot swaps the scorer's tree does not change, so :class:`CompiledHat` reads all of
that once: branches become tuples, majority-class leaves their final probabilities,
naive-Bayes leaves per-class log priors, Gaussian ``(mean, -2 variance, log(variance)
/ 2)`` and nominal log-share tables. Per event only the routing comparisons and the
naive-Bayes sum remain, in the leaves' order of operations (same ``math`` functions,
same left-to-right sums), so the probabilities are identical to the bit.
:meth:`CompiledHat.predict_many` routes a batch branch by branch and adds up each
naive-Bayes leaf's sums for all of its events at once with numpy, in the same order
with the same roundings (see there), the same probabilities again.

What it cannot compile it hands to ``hat_predict_proba`` per event: a branch with an
alternate tree on the event's path, a split feature missing or a category unseen by a
multiway branch, a node or splitter type other than the adaptive tree's usual ones,
a leaf of another type than :class:`~streamsift.core.trees.NaiveBayesLeaf`, an
empty leaf. The naive-Bayes tables are :mod:`streamsift.core.leaf_bayes`'s, the
ones the tree's own leaves predict with.
"""

from __future__ import annotations

import itertools
import math
import operator
import sys
from collections.abc import Iterable, Sequence
from itertools import compress
from typing import Any

import numpy as np
from river import tree
from river.proba.gaussian import _HALF_LOG_TAU
from river.tree.base import Branch
from river.tree.nodes.hatc_nodes import (
    AdaNomBinaryBranchClass,
    AdaNomMultiwayBranchClass,
    AdaNumBinaryBranchClass,
)

from streamsift.core.leaf_bayes import log_votes
from streamsift.core.models import _clean
from streamsift.core.trees import NaiveBayesLeaf, _scaled

__all__ = ["CompiledHat"]

# Node tags (first item of each compiled node tuple).
_FALLBACK = 0  # ask hat_predict_proba
_CONST = 1  # (tag, proba): prediction independent of x (a copy of proba)
_NB = 2  # (tag, classes, atts, error, positions)
_NUM = 3  # (tag, feature, threshold, left, right)
_NOM = 4  # (tag, feature, value, equal, other)
_MULTI = 5  # (tag, feature, {value: child})

_FALLBACK_NODE = (_FALLBACK,)


class CompiledHat:
    """A frozen :class:`river.tree.HoeffdingAdaptiveTreeClassifier`'s probabilities.

    Parameters
    ----------
    hat
        The tree, the last step of a pipeline whose first step is
        :func:`streamsift.core.models._clean` (the default base model). It must not
        learn while the compiled form is in use (compile again after it learnt);
        :meth:`predict` reads river's objects only on fallbacks.

    Examples
    --------
    >>> from river.datasets import synth
    >>> from streamsift.core.online import hat_predict_proba
    >>> from streamsift.core.trees import AdaptiveTree
    >>> hat = AdaptiveTree(grace_period=50, leaf_prediction="nba", seed=1)
    >>> data = list(synth.SEA(seed=1).take(600))
    >>> for x, y in data[:500]:
    ...     hat.learn_one(x, y)
    >>> compiled = CompiledHat(hat)
    >>> xs = [x for x, _ in data[500:]]
    >>> compiled.predict_many(xs) == [hat_predict_proba(hat, x) for x in xs]
    True
    >>> compiled.fallbacks
    0
    """

    def __init__(self, hat: tree.HoeffdingAdaptiveTreeClassifier) -> None:
        self.hat = hat
        self.keys: list[Any] = list(hat.classes)
        root = hat._root
        self._root: tuple[Any, ...] | None = None if root is None else self._node(root)
        #: Events handed to ``hat_predict_proba`` so far.
        self.fallbacks = 0
        #: id of an ``_NB`` node -> its Gaussians as arrays (see ``_prepare``).
        self._prepared: dict[int, tuple[Any, list[Any]]] = {}

    # -- compile -------------------------------------------------------------------

    def _node(self, node: Any) -> tuple[Any, ...]:
        kind = type(node)
        if kind is NaiveBayesLeaf:
            return self._leaf(node)
        if not isinstance(node, Branch) or getattr(node, "_alternate_tree", None):
            return _FALLBACK_NODE
        branch: Any = node
        children = branch.children
        if any(c is None for c in children):
            return _FALLBACK_NODE
        if kind is AdaNumBinaryBranchClass:
            left, right = children
            return (_NUM, branch.feature, branch.threshold, self._node(left), self._node(right))
        if kind is AdaNomBinaryBranchClass:
            left, right = children
            return (_NOM, branch.feature, branch.value, self._node(left), self._node(right))
        if kind is AdaNomMultiwayBranchClass:
            return (
                _MULTI,
                branch.feature,
                {v: self._node(children[i]) for v, i in branch._mapping.items()},
            )
        return _FALLBACK_NODE

    def _positions(self, dist_keys: Iterable[Any]) -> tuple[list[Any], list[int]]:
        """Keys of the final mapping (the tree's classes, then any other key of the
        leaf's distribution in its order) and each distribution key's position."""
        keys = list(self.keys)
        where = {k: i for i, k in enumerate(keys)}
        positions = []
        for k in dist_keys:
            i = where.get(k)
            if i is None:
                i = where[k] = len(keys)
                keys.append(k)
            positions.append(i)
        return keys, positions

    def _leaf(self, leaf: NaiveBayesLeaf) -> tuple[Any, ...]:
        hat = self.hat
        stats = leaf.stats
        if not stats or type(stats) is not dict:
            return _FALLBACK_NODE
        if not leaf.predicts_naive_bayes(hat):  # independent of x: compute it once
            dist = leaf.prediction({}, tree=hat)
            if dist is None:
                return _FALLBACK_NODE
            proba: dict[Any, float] = {c: 0.0 for c in self.keys}
            for k, v in dist.items():
                try:
                    proba[k] += v
                except KeyError:
                    proba[k] = v
            return (_CONST, _scaled(proba, sum(proba.values())))
        tables = leaf.nb_tables()
        if tables is None:
            return _FALLBACK_NODE
        classes, atts = tables
        keys, positions = self._positions(c for c, _ in classes)
        priors = tuple(prior for _, prior in classes)
        att_rows = tuple((att, gauss, tuple(per_class)) for att, gauss, per_class in atts)
        error = leaf._mean_error.get()
        return (_NB, priors, att_rows, error, tuple(positions), tuple(keys))

    # -- predict -------------------------------------------------------------------

    def predict_many(self, xs: Iterable[dict[str, Any]]) -> list[dict[Any, float]]:
        """:meth:`predict` of each feature mapping, the naive-Bayes sums done together.

        Each event is routed to its leaf as :meth:`predict` routes it (fallbacks are
        asked to river in the events' order); then, for each naive-Bayes leaf reached
        by at least :data:`_MIN_GROUP` events, the per-class log-likelihood sums are
        accumulated with numpy over all of that leaf's events at once, attribute by
        attribute in the leaf's order, each event skipping exactly the attributes
        :meth:`predict` skips, so every event's sum has the same terms added in the
        same order. Elementwise float64 ``+ - * /`` and comparisons are the IEEE
        operations Python's floats do; the square of each ``value - mean`` is still
        Python's ``** 2`` (the C library's ``pow``, which is not always ``d * d``), and
        the log-sum-exp, error scaling and normalisation stay Python's ``math`` per
        event. An event with a value :meth:`predict` would treat otherwise than a
        plain ``float`` or ``int`` in a Gaussian attribute (a bool, a numpy scalar, a
        string, ...) is computed by the per-event path; so is a whole leaf's group if
        anything in its batch computation raises (that path then raises as
        :meth:`predict` does).

        Parameters
        ----------
        xs
            Feature mappings (``None`` and NaN values count as missing).

        Returns
        -------
        list of dict
            ``[self.predict(x) for x in xs]``: the same probabilities to the bit, the
            same key order.

        Examples
        --------
        >>> from river.datasets import synth
        >>> from streamsift.core.trees import AdaptiveTree
        >>> hat = AdaptiveTree(grace_period=50, leaf_prediction="nba", seed=1)
        >>> data = list(synth.Agrawal(seed=3).take(900))
        >>> for x, y in data[:800]:
        ...     hat.learn_one(x, y)
        >>> compiled = CompiledHat(hat)
        >>> xs = [x for x, _ in data[800:]]
        >>> xs[0] = {**xs[0], "salary": None, "age": float("nan")}
        >>> many = compiled.predict_many(xs)
        >>> [list(p.items()) for p in many] == [list(compiled.predict(x).items()) for x in xs]
        True
        """
        xs = xs if isinstance(xs, list) else list(xs)
        root = self._root
        if root is None:
            return [{c: 0.0 for c in self.keys} for _ in xs]
        out: list[Any] = [None] * len(xs)
        groups: list[tuple[tuple[Any, ...], list[int], list[dict[str, Any]]]] = []
        fallbacks: list[int] = []
        stack = [(root, list(range(len(xs))), xs)]
        while stack:
            node, idx, sub = stack.pop()
            tag = node[0]
            if tag == _NB:
                groups.append((node, idx, sub))
            elif tag == _CONST:
                proba = node[1]
                for j in idx:
                    out[j] = dict(proba)
            elif tag == _FALLBACK:
                fallbacks.extend(idx)
            else:
                stack.extend(_split(node, idx, sub, fallbacks))
        fallbacks.sort()  # river is asked in the events' order, as by predict
        for j in fallbacks:
            out[j] = self._fallback(xs[j])
        nb = self._nb
        for node, idx, sub in groups:
            if len(idx) < _MIN_GROUP:
                for j, x in zip(idx, sub):  # noqa: B905
                    out[j] = nb(node, x)
            else:
                for j, proba in zip(idx, self._nb_many(node, sub)):  # noqa: B905
                    out[j] = proba
        return out

    def predict(self, x: dict[str, Any]) -> dict[Any, float]:
        """``hat_predict_proba(hat, clean(x))`` of one feature mapping, ``clean`` being
        :func:`streamsift.core.models._clean` (the default pipeline's first step, which
        drops ``None`` and NaN): such values count as missing here, and the mapping is
        cleaned only for a fallback."""
        root = self._root
        if root is None:
            return {c: 0.0 for c in self.keys}
        node = self._route(root, x)
        if node is None:
            return self._fallback(x)
        if node[0] == _NB:
            return self._nb(node, x)
        return dict(node[1])

    @staticmethod
    def _route(node: tuple[Any, ...], x: dict[str, Any]) -> tuple[Any, ...] | None:
        """The naive-Bayes or constant leaf ``x`` reaches from ``node``, or ``None``
        when river must be asked (a fallback node, a missing split feature, a
        category unseen by a multiway branch)."""
        get = x.get
        while True:
            tag = node[0]
            if tag == _NUM:
                v = get(node[1])
                if v is None or (v != v and isinstance(v, float)):
                    return None
                node = node[3] if v <= node[2] else node[4]
            elif tag in (_NB, _CONST):
                return node
            elif tag == _NOM:
                v = get(node[1])
                if v is None or (v != v and isinstance(v, float)):
                    return None
                node = node[3] if v == node[2] else node[4]
            elif tag == _MULTI:
                v = get(node[1])
                if v is None or (v != v and isinstance(v, float)):
                    return None
                child = node[2].get(v)
                if child is None:
                    return None
                node = child
            else:
                return None

    def _fallback(self, x: dict[str, Any]) -> dict[Any, float]:
        from streamsift.core.online import hat_predict_proba

        self.fallbacks += 1
        return hat_predict_proba(self.hat, _clean(x))

    @staticmethod
    def _nb(node: tuple[Any, ...], x: dict[str, Any]) -> dict[Any, float]:
        """The leaf's naive-Bayes votes (:func:`~streamsift.core.leaf_bayes.log_votes`),
        then the adaptive leaf's error scaling and the tree's normalisation, on the
        compiled leaf ``node``."""
        _, priors, atts, error, positions, keys = node
        votes = log_votes(x, priors, atts)
        return _nb_proba(votes, error, positions, keys)

    def _nb_many(self, node: tuple[Any, ...], xs: list[dict[str, Any]]) -> list[dict[Any, float]]:
        """:meth:`_nb` of each of ``xs`` (all routed to ``node``), the sums in numpy."""
        try:
            with np.errstate(all="ignore"):
                votes, slow = self._nb_votes(node, xs)
                out = _nb_probas(votes, node)
        except Exception:  # whatever it is, the per-event path raises it (or not) itself
            nb = self._nb
            return [nb(node, x) for x in xs]
        for j in slow:
            out[j] = self._nb(node, xs[j])
        return out

    def _nb_votes(self, node: tuple[Any, ...], xs: list[dict[str, Any]]) -> tuple[Any, set[int]]:
        """The ``(classes, events)`` array of :meth:`_nb`'s vote sums, and the events
        (indices) to compute by :meth:`_nb` instead (their columns there are junk)."""
        _, priors, atts, _, _, _ = node
        prepared = self._prepared.get(id(node))
        if prepared is None:
            prepared = self._prepared[id(node)] = _prepare(node)
        getter, gaussians = prepared
        m = len(xs)
        votes = np.empty((len(priors), m))
        for i, p in enumerate(priors):
            votes[i] = p
        slow: set[int] = set()
        columns = _columns(xs, atts, getter)
        for (_, gauss, per_class), prep, vals in zip(atts, gaussians, columns):  # noqa: B905
            if gauss:
                if prep is None:  # no class has a Gaussian
                    continue
                rows, means, div, sub = prep
                log_p = _gaussian_log_p(vals, slow, means, div, sub)
                keep = log_p > -math.inf  # also drops NaN: missing values
                if rows is None:
                    np.add(votes, log_p, out=votes, where=keep)
                else:
                    for r, i in enumerate(rows):
                        row = votes[i]
                        np.add(row, log_p[r], out=row, where=keep[r])
            else:
                present = inverse = None
                if set(map(type, vals)) <= _PLAIN_CATEGORIES:  # none missing
                    distinct = dict.fromkeys(vals)  # (equal values: the same share)
                    if len(distinct) * 2 <= m:
                        keys = list(distinct)
                        where = dict(zip(keys, range(len(keys))))  # noqa: B905
                        inverse = np.fromiter(map(where.__getitem__, vals), np.intp, m)
                        vals = keys
                else:
                    present = np.array(
                        [not (v is None or (v != v and isinstance(v, float))) for v in vals],
                        dtype=bool,
                    )
                for i, table in enumerate(per_class):
                    if table is None:
                        continue
                    row = votes[i]
                    unseen = itertools.repeat(table.unseen)
                    shares = np.fromiter(map(table.get, vals, unseen), np.float64, len(vals))
                    if inverse is not None:
                        row += shares[inverse]
                    elif present is None:
                        row += shares
                    else:
                        np.add(row, shares, out=row, where=present)
        return votes, slow


def _split(
    node: tuple[Any, ...], idx: list[int], xs: list[dict[str, Any]], fallbacks: list[int]
) -> list[tuple[tuple[Any, ...], list[int], list[dict[str, Any]]]]:
    """The events ``xs`` (indices ``idx``) at the branch ``node``, each sent on as
    :meth:`CompiledHat._route` sends it: ``(child, indices, events)`` per child
    reached, the indices of events to ask river appended to ``fallbacks``."""
    tag = node[0]
    feature = node[1]
    vals = [x.get(feature) for x in xs]
    if (
        tag == _NUM
        and len(vals) >= _MIN_GROUP
        and type(node[2]) is float
        and set(map(type, vals)) <= _FLOAT
    ):  # float <= float, compared by numpy as by Python (NaN: neither side)
        col = np.array(vals, dtype=np.float64)
        left = (col <= node[2]).tolist()
        right = (col > node[2]).tolist()
        if len(vals) != sum(left) + sum(right):  # missing values
            fallbacks.extend(j for j, a, b in zip(idx, left, right) if not (a or b))  # noqa: B905
        return [
            (node[3], list(compress(idx, left)), list(compress(xs, left))),
            (node[4], list(compress(idx, right)), list(compress(xs, right))),
        ]
    children: dict[int, tuple[tuple[Any, ...], list[int], list[dict[str, Any]]]] = {}
    for j, x, v in zip(idx, xs, vals):  # noqa: B905
        if v is None or (v != v and isinstance(v, float)):
            fallbacks.append(j)
            continue
        if tag == _NUM:
            child = node[3] if v <= node[2] else node[4]
        elif tag == _NOM:
            child = node[3] if v == node[2] else node[4]
        else:  # _MULTI
            child = node[2].get(v)
            if child is None:
                fallbacks.append(j)
                continue
        entry = children.get(id(child))
        if entry is None:
            children[id(child)] = (child, [j], [x])
        else:
            entry[1].append(j)
            entry[2].append(x)
    return list(children.values())


#: A leaf reached by fewer events than this is computed event by event, and a branch
#: reached by fewer is walked event by event (numpy's cost per call outweighs its
#: speed below that: about 24 events for a naive-Bayes leaf of 7 attributes and 3
#: classes, where the two cost the same).
_MIN_GROUP = 24

#: Categorical value types that are never missing and never raise in a lookup.
_PLAIN_CATEGORIES = frozenset({str, int, bool})
_FLOAT = frozenset({float})
_INT = frozenset({int})
_NUMBERS = frozenset({float, int})
#: Float values sampled to guess whether a column's values repeat.
_SAMPLE = 32
_DICT = frozenset({dict})
_TWOS = itertools.repeat(2)


def _prepare(node: tuple[Any, ...]) -> tuple[Any, list[Any]]:
    """For an ``_NB`` node: an ``itemgetter`` of its attributes (``None`` for fewer
    than two), and per attribute, for a Gaussian one, ``None`` if no class has a
    Gaussian, else ``(rows, means, -2 variances, log(variance) / 2)``, the arrays
    shaped ``(classes with a Gaussian, 1)`` and ``rows`` their positions (``None``
    when every class has one); ``None`` for a nominal one."""
    gaussians: list[Any] = []
    n = len(node[1])
    names = [att for att, _, _ in node[2]]
    for _, gauss, per_class in node[2]:
        if not gauss:
            gaussians.append(None)
            continue
        rows = [i for i, params in enumerate(per_class) if params is not None]
        if not rows:
            gaussians.append(None)
            continue
        cols = [np.array([[per_class[i][c]] for i in rows]) for c in range(3)]
        gaussians.append((None if len(rows) == n else rows, *cols))
    return (operator.itemgetter(*names) if len(names) > 1 else None), gaussians


def _columns(xs: list[dict[str, Any]], atts: tuple[Any, ...], getter: Any) -> list[Any]:
    """Each attribute's values in ``xs`` (``x.get(att)``)."""
    if getter is not None and set(map(type, xs)) == _DICT:  # (no __missing__)
        try:
            return list(zip(*map(getter, xs)))  # noqa: B905
        except KeyError:  # some event lacks one of them
            pass
    return [[x.get(att) for x in xs] for att, _, _ in atts]


def _gaussian_log_p(vals: Sequence[Any], slow: set[int], means: Any, div: Any, sub: Any) -> Any:
    """``(v - mean) ** 2 / (-2 var) - HALF_LOG_TAU - log(var) / 2`` for each class
    (rows) and value ``v`` of ``vals`` (columns), each step rounded as Python rounds
    it: the square is Python's own ``** 2`` (C's ``pow``, which is not always
    ``d * d``). A missing value gives NaN; so does one :meth:`CompiledHat._nb` would
    not take as a plain number, its position added to ``slow``.

    When the values repeat (integers, or a sample of floats that does), each distinct
    one is computed once: equal values give equal results (0.0 and -0.0, which a
    ``dict`` takes as one, both square to 0.0).
    """
    m = len(vals)
    types = set(map(type, vals))
    col: Sequence[float]
    distinct: Any = None
    if types <= _FLOAT:
        col = vals
        sample = vals[:_SAMPLE]
        if len(set(sample)) * 2 <= len(sample):
            distinct = dict.fromkeys(vals)
    elif types <= _INT:  # (a too large int raises here as in ``v - mean``)
        distinct = dict.fromkeys(vals)
        col = list(map(float, distinct)) if len(distinct) * 2 <= m else list(map(float, vals))
    elif types <= _NUMBERS:
        col = list(map(float, vals))
    else:
        col = _numeric_column(vals, slow)
    inverse = None
    if distinct is not None and len(distinct) * 2 <= m:
        keys = list(distinct)
        where = dict(zip(keys, range(len(keys))))  # noqa: B905
        inverse = np.fromiter(map(where.__getitem__, vals), np.intp, m)
        if col is vals:
            col = keys
    d = np.array(col, dtype=np.float64) - means
    flat = d.ravel().tolist()
    log_p = np.fromiter(map(pow, flat, _TWOS), np.float64, len(flat)).reshape(d.shape)
    log_p /= div
    log_p -= _HALF_LOG_TAU
    log_p -= sub
    return log_p if inverse is None else log_p[:, inverse]


def _numeric_column(vals: Sequence[Any], slow: set[int]) -> list[float]:
    """``vals`` as floats (NaN for missing ones), each number converted as Python
    converts it for ``value - mean``; the positions of values that are not a plain
    ``float``, ``int`` or ``None`` (or do not fit a float) are added to ``slow``, their
    entries NaN."""
    col: list[float] = []
    append = col.append
    nan = math.nan
    for j, v in enumerate(vals):
        kind = type(v)
        if kind is float:
            append(v)
        elif v is None:
            append(nan)
        elif kind is int:
            try:
                append(float(v))
            except OverflowError:
                slow.add(j)
                append(nan)
        else:
            slow.add(j)
            append(nan)
    return col


def _nb_proba(
    votes: list[float], error: float, positions: tuple[int, ...], keys: tuple[Any, ...]
) -> dict[Any, float]:
    """river's log-sum-exp of the leaf's votes, the adaptive leaf's error scaling and
    the tree's normalisation (:meth:`CompiledHat._nb`'s tail)."""
    exp = math.exp
    max_ll = max(votes)
    lse = max_ll + math.log(sum([exp(lp - max_ll) for lp in votes]))
    dist = [exp(lp - lse) for lp in votes]
    factor = sum(dist) * error * error
    if not (factor == 0 or math.isnan(factor)):
        m = 1 / factor
        dist = [d * m for d in dist]
    out = [0.0] * len(keys)
    for i, d in zip(positions, dist):  # noqa: B905
        out[i] += d
    total = sum(out)
    if total == 0 or math.isnan(total):
        return dict(zip(keys, out))  # noqa: B905
    m = 1 / total
    return {k: v * m for k, v in zip(keys, out)}  # noqa: B905


#: Whether ``sum`` of floats adds them one by one (Python 3.12 compensates).
_PLAIN_SUM = sys.version_info < (3, 12)


def _sums(a: Any) -> Any:
    """Python's ``sum`` of each column of the 2-d array ``a`` (the first row first)."""
    if not _PLAIN_SUM:
        return np.array(list(map(sum, a.T.tolist())), dtype=np.float64)
    total = a[0] + 0.0  # sum starts from 0: 0 + x is x + 0.0 (-0.0 becomes 0.0)
    for row in a[1:]:
        total += row
    return total


def _exps(a: Any) -> Any:
    """``math.exp`` of each element of ``a`` (numpy's ``exp`` may round otherwise)."""
    return np.fromiter(map(math.exp, a.ravel().tolist()), np.float64, a.size).reshape(a.shape)


def _nb_probas(votes: Any, node: tuple[Any, ...]) -> list[dict[Any, float]]:
    """:func:`_nb_proba` of each column of the ``(classes, events)`` array ``votes``.

    Each step is the same IEEE operation on the same operands, per event: the
    maximum is Python's ``max`` (the first vote that no later one exceeds), the sums
    Python's ``sum`` (:func:`_sums`), ``exp`` and ``log`` are ``math``'s, and the
    scalings happen for exactly the events whose factor is neither zero nor NaN.
    """
    _, _, _, error, positions, keys = node
    m = votes.shape[1]
    max_ll = votes[0].copy()
    for row in votes[1:]:
        np.copyto(max_ll, row, where=row > max_ll)
    log_sums = map(math.log, _sums(_exps(votes - max_ll)).tolist())
    lse = max_ll + np.fromiter(log_sums, np.float64, m)
    dist = _exps(votes - lse)
    factor = _sums(dist) * error * error
    scale = (factor != 0) & (factor == factor)  # neither zero nor NaN
    np.multiply(dist, 1.0 / factor, out=dist, where=scale)  # (others: 1 / 0 unused)
    out = np.zeros((len(keys), m))
    for c, i in enumerate(positions):
        out[i] += dist[c]
    total = _sums(out)
    scale = (total != 0) & (total == total)
    np.multiply(out, 1.0 / total, out=out, where=scale)
    return _dicts(keys, out.tolist())


def _dicts(keys: tuple[Any, ...], cols: list[list[float]]) -> list[dict[Any, float]]:
    """One ``dict(zip(keys, values))`` per event, ``cols`` holding each key's values
    (a dict display is several times faster than ``dict(zip(...))``)."""
    n = len(keys)
    if n == 2:
        k0, k1 = keys
        return [{k0: a, k1: b} for a, b in zip(*cols)]  # noqa: B905
    if n == 3:
        k0, k1, k2 = keys
        return [{k0: a, k1: b, k2: c} for a, b, c in zip(*cols)]  # noqa: B905
    if n == 4:
        k0, k1, k2, k3 = keys
        return [{k0: a, k1: b, k2: c, k3: d} for a, b, c, d in zip(*cols)]  # noqa: B905
    return [dict(zip(keys, row)) for row in zip(*cols)]  # noqa: B905
