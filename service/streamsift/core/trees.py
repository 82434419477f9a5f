"""River's Hoeffding adaptive tree with its classes in a reproducible order.

River's adaptive tree (0.26) keeps the classes it has seen in a ``set`` and builds
every probability dict from it (``{c: 0.0 for c in self.classes}``). With string
labels the set's order changes with each process's string hashing, and with it the
key order of every prediction: which class wins an argmax tie and the order of the
float sums that normalise the probabilities. In a prequential run the last-bit
differences flip a few selection decisions and the runs diverge: the simulator gave
ImageSegments (seven string classes) an online-model accuracy of 0.45 to 0.76 for
one seed depending on ``PYTHONHASHSEED`` (docs/benchmarks.md, "Previous default").
River's non-adaptive tree sorts its classes; sorting fails on labels of mixed types,
so :class:`AdaptiveTree` keeps them in the order they were first seen.

Its leaves (:class:`NaiveBayesLeaf`) predict with :mod:`streamsift.core.leaf_bayes`'s
naive Bayes, where river's counts a likelihood of zero as one (a class seen once in
a leaf won every event reaching it).
"""

from __future__ import annotations

import copy
import math
from typing import Any

from river import tree
from river.tree.nodes.hatc_nodes import AdaLeafClassifier
from river.tree.utils import do_naive_bayes_prediction

from streamsift.core.leaf_bayes import leaf_tables, naive_bayes

__all__ = ["ADAPTIVE_TREES", "AdaptiveTree", "NaiveBayesLeaf", "OrderedClasses", "leaf_naive_bayes"]


class OrderedClasses(dict[Any, None]):
    """The set of classes a tree has seen, iterated in the order they were first seen.

    Examples
    --------
    >>> classes = OrderedClasses()
    >>> for c in ["sky", "cement", "sky", "brickface"]:
    ...     classes.add(c)
    >>> list(classes), "sky" in classes, len(classes)
    (['sky', 'cement', 'brickface'], True, 3)
    """

    def add(self, c: Any) -> None:
        """Add ``c`` (kept at its first position)."""
        self.setdefault(c, None)


def _normalized(d: dict[Any, float], factor: float | None = None) -> dict[Any, float]:
    """River's ``normalize_values_in_dict(d, factor, inplace=False)`` without its
    ``copy.deepcopy``: for a plain dict of floats a shallow copy is the same copy
    (floats are immutable, keys hashable), and the values are scaled by the same
    ``1 / factor`` multiplier in the same order, so the result is the same to the bit.
    """
    if factor is None:
        factor = sum(d.values())
    if factor == 0 or math.isnan(factor):
        return dict(d) if type(d) is dict else copy.deepcopy(d)
    m = 1 / factor
    if type(d) is not dict:  # whatever river stored, copied as river copies it
        d = copy.deepcopy(d)
        for k, v in d.items():
            d[k] = v * m
        return d
    return {k: v * m for k, v in d.items()}


def _scaled(d: dict[Any, float], factor: float) -> dict[Any, float]:
    """Scale a freshly built dict (no other reference to it) in place, as
    ``_normalized(d, factor)`` would scale a copy of it."""
    if factor == 0 or math.isnan(factor):
        return d
    m = 1 / factor
    for k, v in d.items():
        d[k] = v * m
    return d


def leaf_naive_bayes(leaf: NaiveBayesLeaf, x: dict[str, Any]) -> dict[Any, float]:
    """The naive-Bayes probabilities of ``x`` in ``leaf`` (:mod:`~streamsift.core.leaf_bayes`;
    river's own for a splitter of another kind). The leaf's tables are built once
    per change of the leaf (its ``learn_one`` drops them)."""
    tables = leaf.nb_tables()
    if tables is None:
        return dict(do_naive_bayes_prediction(x, leaf.stats, leaf.splitters))
    return naive_bayes(x, tables)


_NO_TABLES: Any = ((), ())


class NaiveBayesLeaf(AdaLeafClassifier):
    """River's adaptive-tree leaf, its naive Bayes :func:`leaf_naive_bayes`.

    Both uses change: the prediction (naive-Bayes leaves, and adaptive ones while
    naive Bayes has been right at least as often as the majority class) and the
    adaptive leaf's count of how often naive Bayes was right, which river keeps with
    its own rule inside ``learn_one`` and this leaf recounts.
    """

    #: The naive-Bayes tables of the leaf as it is (``None``: to build).
    _nb_tables: Any = None

    def learn_one(
        self,
        x: dict[str, Any],
        y: Any,
        *,
        w: float = 1.0,
        tree: Any = None,
        parent: Any = None,
        parent_branch: Any = None,
    ) -> None:
        nb_before, weight_before = self._nb_correct_weight, self.total_weight
        mc_before = self._mc_correct_weight
        hit = False
        if self.is_active() and self.stats:
            nb = leaf_naive_bayes(self, x)
            hit = bool(nb) and max(nb, key=nb.__getitem__) == y
        super().learn_one(x, y, w=w, tree=tree, parent=parent, parent_branch=parent_branch)
        self._nb_tables = None
        evidence = tree.evidence_weight if tree is not None else 1.0
        if hit:  # the weight learned (times a bootstrap draw, if any)
            w_eff = w if not tree.bootstrap_sampling else self.total_weight - weight_before
            self._nb_correct_weight = nb_before + w_eff * evidence
        else:
            self._nb_correct_weight = nb_before
        if evidence != 1.0:
            self._mc_correct_weight = mc_before + (self._mc_correct_weight - mc_before) * evidence

    def disable_attribute(self, att_index: Any) -> None:
        super().disable_attribute(att_index)
        self._nb_tables = None

    def nb_tables(self) -> Any:
        """The leaf's naive-Bayes tables (:func:`~streamsift.core.leaf_bayes.leaf_tables`),
        built once per change of the leaf; ``None`` when a splitter is of another kind."""
        tables = self._nb_tables
        if tables is None:
            tables = self._nb_tables = leaf_tables(self.stats, self.splitters) or _NO_TABLES
        return None if tables is _NO_TABLES else tables

    def predicts_naive_bayes(self, tree: Any) -> bool:
        """Whether the prediction is the leaf's naive Bayes (it depends on ``x``) rather
        than its class shares: river 0.26's choice by ``tree.leaf_prediction`` ("mc",
        "nb" past ``nb_threshold``, "nba" while naive Bayes has been right at least as
        often as the majority class); an inactive leaf predicts its class shares."""
        option = tree.leaf_prediction
        if not self.is_active() or option == tree._MAJORITY_CLASS:
            return False
        if option == tree._NAIVE_BAYES:
            return bool(self.total_weight >= tree.nb_threshold)
        return bool(self._nb_correct_weight >= self._mc_correct_weight)

    def prediction(self, x: dict[str, Any], *, tree: Any = None) -> Any:
        """River 0.26's ``AdaLeafClassifier.prediction`` with :func:`leaf_naive_bayes`,
        same arithmetic, no deep copies (see :func:`_normalized`): the final
        normalisation (river's scaling by the leaf's error, which weighs an alternate
        tree's votes) scales the leaf's fresh distribution in place (``dist`` is always
        a new object here, so scaling it is scaling river's copy of it)."""
        stats = self.stats
        if not stats:
            return None
        dist = leaf_naive_bayes(self, x) if self.predicts_naive_bayes(tree) else _normalized(stats)
        error = self._mean_error.get()
        return _scaled(dist, sum(dist.values()) * error * error)


class AdaptiveTree(tree.HoeffdingAdaptiveTreeClassifier):
    """:class:`river.tree.HoeffdingAdaptiveTreeClassifier` with :class:`OrderedClasses`
    and :class:`NaiveBayesLeaf` leaves.

    Learning is river's except for the leaves' naive Bayes (above) and
    :attr:`evidence_weight`; majority-class
    probabilities are river's up to the order of the classes, which no longer
    depends on the process (the order of the dict's keys and of the float sums that
    normalise them, so values can differ from river's in the last bit).

    Parameters
    ----------
    grace_period, delta, leaf_prediction, seed, bootstrap_sampling, nominal_attributes, binary_split
        As :class:`river.tree.HoeffdingAdaptiveTreeClassifier`.

    Examples
    --------
    >>> model = AdaptiveTree(grace_period=50, leaf_prediction="nba", seed=1)
    >>> for y, x in [("sky", {"a": 1.0}), ("cement", {"a": 5.0}), ("sky", {"a": 1.5})]:
    ...     model.learn_one(x, y)
    >>> list(model.predict_proba_one({"a": 1.2}))
    ['sky', 'cement']
    >>> model.clone().leaf_prediction
    'nba'
    """

    #: How much the next label counts in each leaf's choice between its naive Bayes
    #: and its majority class (their tallies of being right). 1 is river's count;
    #: :meth:`streamsift.core.online.OnlineModel.learn_one` sets it around one label
    #: (its ``evidence``) and puts it back.
    evidence_weight: float = 1.0

    def __init__(
        self,
        grace_period: int = 200,
        delta: float = 1e-7,
        leaf_prediction: str = "nba",
        seed: int | None = None,
        bootstrap_sampling: bool = False,
        nominal_attributes: list[str] | None = None,
        binary_split: bool = False,
    ) -> None:
        super().__init__(
            grace_period=grace_period,
            delta=delta,
            leaf_prediction=leaf_prediction,
            seed=seed,
            bootstrap_sampling=bootstrap_sampling,
            nominal_attributes=nominal_attributes,
            binary_split=binary_split,
        )
        self.classes: Any = OrderedClasses()

    def _new_leaf(self, initial_stats: Any = None, parent: Any = None) -> NaiveBayesLeaf:
        return NaiveBayesLeaf(
            stats={} if initial_stats is None else initial_stats,
            depth=0 if parent is None else parent.depth + 1,
            splitter=self.splitter,
            drift_detector=self.drift_detector.clone(),
            rng=self._rng,
        )

    def forget_leaves(self, keep: float = 1.0) -> int:
        """Forget what the leaves learnt and keep the tree's structure; return how many
        leaves forgot.

        The response to a change of concept (``P(y | x)`` moved, the inputs did not):
        the branches (which inputs matter, and where to cut them) usually still hold,
        while every leaf's class counts and naive-Bayes statistics describe the old
        labels and would take as many new ones again to outvote them. Each leaf,
        those of alternate subtrees included, keeps at most ``keep`` of each class's
        weight (a pseudo-count: it still predicts from its class shares, which the
        first new labels outweigh),
        drops its attribute statistics (its naive Bayes and split candidates start
        afresh), its naive-Bayes-or-majority tally, and its split clock (its next split
        attempt comes after ``grace_period`` new labels). The branches' change
        detectors keep their state.

        Measured on ``synth:agrawal`` (a concept change at mid-stream, eleven seeds,
        5 %): with the concept watch's alarm calling this, accuracy 0.8046 -> 0.8312
        and recovery faster than random on 10 of 11 seeds against 8 (a fresh tree
        instead: 0.7695, 4 of 11; docs/efficiency-notes.md, "Session 11").

        Examples
        --------
        >>> model = AdaptiveTree(grace_period=50, seed=1)
        >>> for i in range(300):
        ...     model.learn_one({"a": float(i % 10)}, "low" if i % 10 < 5 else "high")
        >>> model.predict_one({"a": 1.0}), model.n_leaves
        ('low', 2)
        >>> model.forget_leaves()
        2
        >>> model.n_leaves, [round(leaf.total_weight, 1) for leaf in model._root.iter_leaves()]
        (2, [1.0, 1.0])
        >>> for i in range(20):                   # the new concept: the labels swap
        ...     model.learn_one({"a": float(i % 10)}, "high" if i % 10 < 5 else "low")
        >>> model.predict_one({"a": 1.0})
        'high'
        """
        leaves = self.all_leaves()
        for leaf in leaves:
            leaf.stats = {c: min(w, keep) for c, w in leaf.stats.items()}
            leaf.splitters = {}
            leaf._mc_correct_weight = 0.0
            leaf._nb_correct_weight = 0.0
            leaf.last_split_attempt_at = 0.0
            leaf._nb_tables = None
        return len(leaves)

    def all_leaves(self) -> list[NaiveBayesLeaf]:
        """Every leaf, those of every alternate subtree included (river's
        ``iter_leaves`` skips the root's alternate and its children's alternate leaves).

        Examples
        --------
        >>> AdaptiveTree(seed=1).all_leaves()
        []
        """
        out: list[Any] = []
        stack: list[Any] = [] if self._root is None else [self._root]
        while stack:
            node = stack.pop()
            children = getattr(node, "children", None)
            if children is None:
                out.append(node)
                continue
            alternate = getattr(node, "_alternate_tree", None)
            if alternate is not None:
                stack.append(alternate)
            stack.extend(child for child in reversed(children) if child is not None)
        return out

    @classmethod
    def _unit_test_params(cls) -> Any:
        yield {"seed": 1}


#: Tree types whose predictions the fast paths (``core.online``, ``core.compiled``)
#: reproduce; exact types, since ``isinstance`` on river's classes is slow.
ADAPTIVE_TREES: frozenset[type] = frozenset({AdaptiveTree})
