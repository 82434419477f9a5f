"""A Hoeffding adaptive tree compiled for scoring many events with one frozen model.

:func:`~streamsift.core.online.hat_predict_proba` walks river's node objects for each
event and rebuilds every leaf's naive-Bayes statistics (class priors, each Gaussian's
variance and its logarithm, each nominal count's share) at every call. Between two
snapshot swaps the scorer's tree does not change, so :class:`CompiledHat` reads all of
that once: branches become tuples, majority-class leaves their final probabilities,
naive-Bayes leaves per-class log priors, Gaussian ``(mean, -2 variance, log(variance)
/ 2)`` and nominal log-share tables. Per event only the routing comparisons and the
naive-Bayes sum remain, in river 0.26's order of operations (same ``math`` functions,
same left-to-right sums), so the probabilities are identical to the bit.

What it cannot compile it hands to ``hat_predict_proba`` per event: a branch with an
alternate tree on the event's path, a split feature missing or a category unseen by a
multiway branch, a node or splitter type other than the adaptive tree's usual ones,
a nominal splitter that has not seen a class its leaf has (river's prediction adds
an empty entry for it, a side effect kept by asking river), an empty leaf.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from river import tree
from river.proba.gaussian import _HALF_LOG_TAU, Gaussian
from river.tree.base import Branch
from river.tree.nodes.hatc_nodes import (
    AdaLeafClassifier,
    AdaNomBinaryBranchClass,
    AdaNomMultiwayBranchClass,
    AdaNumBinaryBranchClass,
)
from river.tree.splitter.gaussian_splitter import GaussianSplitter
from river.tree.splitter.nominal_splitter_classif import NominalSplitterClassif

from streamsift.core.models import _clean

__all__ = ["CompiledHat"]

# Node tags (first item of each compiled node tuple).
_FALLBACK = 0  # ask hat_predict_proba
_CONST = 1  # (tag, proba items): prediction independent of x
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
    >>> hat = tree.HoeffdingAdaptiveTreeClassifier(grace_period=50, leaf_prediction="nba",
    ...                                            seed=1)
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

    # -- compile -------------------------------------------------------------------

    def _node(self, node: Any) -> tuple[Any, ...]:
        kind = type(node)
        if kind is AdaLeafClassifier:
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

    def _leaf(self, leaf: AdaLeafClassifier) -> tuple[Any, ...]:
        from streamsift.core.online import _ada_leaf_prediction, _scaled

        hat = self.hat
        stats = leaf.stats
        if not stats or type(stats) is not dict:
            return _FALLBACK_NODE
        option = hat.leaf_prediction
        active = leaf.splitters is not None
        if not active or option == hat._MAJORITY_CLASS:
            nb = False
        elif option == hat._NAIVE_BAYES:
            nb = leaf.total_weight >= hat.nb_threshold
        else:
            nb = leaf._nb_correct_weight >= leaf._mc_correct_weight
        if not nb:  # the prediction does not depend on x: compute it once, as river does
            dist = _ada_leaf_prediction(leaf, {}, hat)
            if dist is None:
                return _FALLBACK_NODE
            proba: dict[Any, float] = {c: 0.0 for c in self.keys}
            for k, v in dist.items():
                try:
                    proba[k] += v
                except KeyError:
                    proba[k] = v
            return (_CONST, tuple(_scaled(proba, sum(proba.values())).items()))
        total_weight = sum(stats.values())
        if total_weight == 0:
            return _FALLBACK_NODE
        classes: list[tuple[Any, float | None]] = []
        for c, w in stats.items():
            classes.append((c, math.log(w / total_weight) if w > 0 else None))
        atts: list[tuple[str, bool, list[Any]]] = []
        for att, obs in leaf.splitters.items():
            kind = type(obs)
            per_class: list[Any] = []
            if kind is GaussianSplitter:
                dists = obs._att_dist_per_class
                for c, prior in classes:
                    g = dists.get(c) if prior is not None else None
                    if g is None:
                        per_class.append(None)
                        continue
                    if type(g) is not Gaussian:
                        return _FALLBACK_NODE
                    var = g._var
                    n = var.mean.n
                    params = None
                    if n > var.ddof:
                        variance = var._S / (n - var.ddof)
                        if variance > 0.0:
                            params = (var.mean._mean, -2.0 * variance, 0.5 * math.log(variance))
                    per_class.append(params)
                atts.append((att, True, per_class))
            elif kind is NominalSplitterClassif:
                dists = obs._att_dist_per_class
                for c, prior in classes:
                    if prior is None:
                        per_class.append(None)
                        continue
                    if c not in dists:  # river's lookup would add it: let river do it
                        return _FALLBACK_NODE
                    class_dist = dists[c]
                    table: dict[Any, float] = {}
                    try:
                        s = sum(class_dist.values())
                        for v, count in class_dist.items():
                            tmp = count / s
                            table[v] = math.log(tmp) if tmp > 0 else 0.0
                    except ZeroDivisionError:
                        table = {v: 0.0 for v in class_dist}
                    per_class.append(table)
                atts.append((att, False, per_class))
            else:
                return _FALLBACK_NODE
        keys, positions = self._positions(c for c, _ in classes)
        priors = tuple(prior for _, prior in classes)
        att_rows = tuple((att, gauss, tuple(per_class)) for att, gauss, per_class in atts)
        error = leaf._mean_error.get()
        return (_NB, priors, att_rows, error, tuple(positions), tuple(keys))

    # -- predict -------------------------------------------------------------------

    def predict_many(self, xs: Iterable[dict[str, Any]]) -> list[dict[Any, float]]:
        """:meth:`predict` of each feature mapping."""
        predict = self.predict
        return [predict(x) for x in xs]

    def predict(self, x: dict[str, Any]) -> dict[Any, float]:
        """``hat_predict_proba(hat, clean(x))`` of one feature mapping, ``clean`` being
        :func:`streamsift.core.models._clean` (the default pipeline's first step, which
        drops ``None`` and NaN): such values count as missing here, and the mapping is
        cleaned only for a fallback."""
        node = self._root
        if node is None:
            return {c: 0.0 for c in self.keys}
        get = x.get
        while True:
            tag = node[0]
            if tag == _NUM:
                v = get(node[1])
                if v is None or (v != v and isinstance(v, float)):
                    return self._fallback(x)
                node = node[3] if v <= node[2] else node[4]
            elif tag == _NB:
                return self._nb(node, x)
            elif tag == _CONST:
                return dict(node[1])
            elif tag == _NOM:
                v = get(node[1])
                if v is None or (v != v and isinstance(v, float)):
                    return self._fallback(x)
                node = node[3] if v == node[2] else node[4]
            elif tag == _MULTI:
                v = get(node[1])
                if v is None or (v != v and isinstance(v, float)):
                    return self._fallback(x)
                child = node[2].get(v)
                if child is None:
                    return self._fallback(x)
                node = child
            else:
                return self._fallback(x)

    def _fallback(self, x: dict[str, Any]) -> dict[Any, float]:
        from streamsift.core.online import hat_predict_proba

        self.fallbacks += 1
        return hat_predict_proba(self.hat, _clean(x))

    @staticmethod
    def _nb(node: tuple[Any, ...], x: dict[str, Any]) -> dict[Any, float]:
        """river's ``do_naive_bayes_prediction`` then the adaptive leaf's error scaling
        and the tree's normalisation, on the compiled leaf ``node``."""
        _, priors, atts, error, positions, keys = node
        votes = [0.0 if p is None else p for p in priors]
        n = len(votes)
        get = x.get
        exp = math.exp
        for att, gauss, per_class in atts:
            v = get(att)
            if v is None or (v != v and isinstance(v, float)):  # missing: _clean drops it
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
                        votes[i] += table.get(v, 0.0)
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
