"""The online model: one River classifier, an optional committee, and warm-up state.

The learner feeds it joined labels weighted by ``1/p``; the scorers ask it for class
probabilities. It tracks prequential accuracy (each label is first predicted, then
learnt) over the labels it was given, which under active selection is the accuracy
on selected items, and decides when the model is *warm*, i.e. when its uncertainty
is worth more than uniform sampling.

Warm-up rule (``is_warm``): the model becomes warm at the first label after which

* ``labels_seen >= min_labels``, and
* two full consecutive windows of ``stability_window`` labels exist, and the
  prequential accuracy of the latest window differs from that of the window just
  before it by at most ``stability_tolerance``;

or, whatever the accuracy does, once ``labels_seen >= max_warmup_labels`` (default
``max(2 * min_labels, 2 * stability_window)``): cold start is bounded, because two
windows of a hundred labels differ by a few points by chance alone, and a rule that
waits for them to agree could keep a live service sampling uniformly for ever.

Once warm it stays warm (a latch): the sampler must not flap back to uniform
sampling because two windows disagree by chance. A change of concept is a different
matter: with ``concept_delta`` set, a :class:`~streamsift.core.concept.ConceptWatch`
judges each label's error against the model's confidence once warm (a
risk-adjusted CUSUM), and after an alarm :attr:`relearning` is
true for ``relearn_labels`` labels, during which the sampler samples uniformly
again (feature drift is handled by the drift boost). At the alarm the default tree
also forgets what its leaves learnt and keeps its branches
(:meth:`~streamsift.core.trees.AdaptiveTree.forget_leaves`, committee members
included); other base models keep learning as they are. ``relearn_labels=0`` keeps
the alarms only: no uniform sampling, no forgetting.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from river import compose, tree
from river.tree.base import Branch

from streamsift.core.committee import Committee, _check_name
from streamsift.core.compiled import CompiledHat
from streamsift.core.concept import DEFAULT_DELTA, ConceptWatch
from streamsift.core.models import (
    DEFAULT_BASE_MODEL,
    Classifier,
    _clean,
    accepts_weight,
    make_model,
)
from streamsift.core.trees import ADAPTIVE_TREES, _scaled
from streamsift.core.types import Features, Label
from streamsift.errors import ConfigurationError, SchemaError

__all__ = ["OnlineModel", "hat_predict_proba"]

_NONE: Any = object()


def _argmax(proba: Mapping[Label, float] | None) -> Label | None:
    """The most probable class (the first of a tie), or None for no probabilities."""
    if not proba:
        return None
    best: Label | None = None
    top = -math.inf
    for k, v in proba.items():
        if v > top:
            best, top = k, v
    return best


#: Node type -> whether it is a branch (``isinstance`` on river's ABCs is slow).
_IS_BRANCH: dict[type, bool] = {}


def _found_nodes(root: Any, x: dict[str, Any]) -> Any:
    """``root.traverse(x, until_leaf=True)`` of an adaptive tree's branch.

    The common path (every split feature present, no alternate tree on the way) is
    walked in a loop: the one leaf reached. Anything else (a missing feature or an
    unseen category, an alternate tree) is left to river's own ``traverse``, from the
    root again (``next`` has no side effects).
    """
    node = root
    kinds = _IS_BRANCH
    while True:
        kind = node.__class__
        branch = kinds.get(kind)
        if branch is None:
            branch = kinds[kind] = issubclass(kind, Branch)
        if not branch:
            return [node]
        if getattr(node, "_alternate_tree", None):
            return root.traverse(x, until_leaf=True)
        try:
            node = node.next(x)
        except KeyError:
            return root.traverse(x, until_leaf=True)


def hat_predict_proba(
    hat: tree.HoeffdingAdaptiveTreeClassifier, x: dict[str, Any]
) -> dict[Any, float]:
    """``hat.predict_proba_one(x)`` computed without river's per-leaf deep copies.

    The same leaves are combined in the same order with the same arithmetic (river
    0.26's ``HoeffdingAdaptiveTreeClassifier.predict_proba_one``), so the
    probabilities are identical to the bit; each found leaf is asked through its own
    ``prediction`` (:class:`~streamsift.core.trees.NaiveBayesLeaf`'s makes no deep
    copies).

    Examples
    --------
    >>> from river.datasets import synth
    >>> from streamsift.core.trees import AdaptiveTree
    >>> hat = AdaptiveTree(grace_period=50, leaf_prediction="nba", seed=1)
    >>> data = list(synth.SEA(seed=1).take(600))
    >>> for x, y in data[:500]:
    ...     hat.learn_one(x, y)
    >>> all(hat_predict_proba(hat, x) == hat.predict_proba_one(x) for x, _ in data[500:])
    True
    """
    proba: dict[Any, float] = {c: 0.0 for c in hat.classes}
    root = hat._root
    if root is None:
        return proba
    found: Any = _found_nodes(root, x) if isinstance(root, Branch) else [root]
    for leaf in found:
        dist: Any = leaf.prediction(x, tree=hat)
        for k, v in dist.items():  # river's add_dict_values(proba, dist, inplace=True)
            try:
                proba[k] += v
            except KeyError:
                proba[k] = v
    return _scaled(proba, sum(proba.values()))  # normalize_values_in_dict(proba), in place


def _fast_tree(model: object) -> tuple[Any, Any] | None:
    """``(clean, hat)`` when ``model`` is a one-function pipeline into a Hoeffding
    adaptive tree (the default base model), else ``None``."""
    if type(model) is not compose.Pipeline:
        return None
    steps = list(model.steps.values())
    if (
        len(steps) == 2
        and type(steps[0]) is compose.FuncTransformer
        and type(steps[1]) in ADAPTIVE_TREES
    ):
        return steps[0].func, steps[1]
    return None


def _int_at_least(param: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"{param}: expected an int >= {low}, got {value!r}")


class OnlineModel:
    """The online classifier (and committee) with prequential accuracy and warm-up.

    Parameters
    ----------
    base_model
        Registry name of the model (see :mod:`streamsift.core.models`).
    committee_size
        Members of the committee; 0 for none, else at least 2.
    seed
        Seeds the model, the committee and the weight rounding.
    families
        Optional model families for the committee (round-robin).
    min_labels
        Labels needed before the model can be warm.
    stability_window
        Labels per prequential-accuracy window.
    stability_tolerance
        Largest change of windowed accuracy between two consecutive windows for
        the accuracy to count as stable.
    max_warmup_labels
        Labels after which the model is warm regardless of stability (``None``:
        ``max(2 * min_labels, 2 * stability_window)``).
    weight_clip
        Importance weights above this are clipped (None: no clipping).
    concept_delta, relearn_labels
        The concept-change watch on the labels once warm (see
        :class:`~streamsift.core.concept.ConceptWatch`): its ``delta`` (``None``:
        no watch) and the labels after an alarm during which :attr:`relearning` is
        true; with ``relearn_labels > 0`` an alarm also makes the default tree's
        leaves forget (see :meth:`learn_one`). Defaults ``None`` and 100 (the
        :class:`~streamsift.core.sampler.Sampler` turns it on).

    Examples
    --------
    >>> from river.datasets import synth
    >>> online = OnlineModel("hoeffding", min_labels=200, stability_window=100)
    >>> for x, y in synth.SEA(seed=1).take(1000):
    ...     online.learn_one(x, y, w=1.0)
    >>> online.labels_seen, online.classes, online.is_warm
    (1000, [False, True], True)
    >>> round(online.prequential_accuracy, 2)
    0.9
    """

    # Pickles (snapshots) from before the concept watch: none.
    concept_delta: float | None = None
    relearn_labels: int = 100
    _concept: ConceptWatch | None = None

    def __init__(
        self,
        base_model: str = DEFAULT_BASE_MODEL,
        committee_size: int = 0,
        seed: int = 0,
        families: Sequence[str] | None = None,
        min_labels: int = 200,
        stability_window: int = 100,
        stability_tolerance: float = 0.02,
        weight_clip: float | None = 10.0,
        max_warmup_labels: int | None = None,
        concept_delta: float | None = None,
        relearn_labels: int = 100,
    ) -> None:
        _check_name("base_model", base_model)
        if committee_size != 0:
            _int_at_least("committee_size", committee_size, 2)
        _int_at_least("seed", seed, -(2**63))
        if families is not None:
            if isinstance(families, str) or len(families) == 0:
                raise ConfigurationError(f"families: expected a non-empty list, got {families!r}")
            for name in families:
                _check_name("families", name)
        _int_at_least("min_labels", min_labels, 0)
        _int_at_least("stability_window", stability_window, 1)
        if (
            isinstance(stability_tolerance, bool)
            or not isinstance(stability_tolerance, int | float)
            or not 0 <= stability_tolerance <= 1
        ):
            raise ConfigurationError(
                f"stability_tolerance: expected a number in [0, 1], got {stability_tolerance!r}"
            )
        if weight_clip is not None and (
            isinstance(weight_clip, bool)
            or not isinstance(weight_clip, int | float)
            or not 1 <= weight_clip < math.inf
        ):
            raise ConfigurationError(
                f"weight_clip: expected None or a finite number >= 1, got {weight_clip!r}"
            )
        self.base_model = base_model
        self.committee_size = committee_size
        self.seed = seed
        self.families = tuple(families) if families is not None else None
        self.min_labels = min_labels
        self.stability_window = stability_window
        self.stability_tolerance = stability_tolerance
        self.weight_clip = weight_clip
        if max_warmup_labels is not None:
            _int_at_least("max_warmup_labels", max_warmup_labels, 0)
        self.max_warmup_labels = max_warmup_labels
        self._warm_cap = (
            max(2 * min_labels, 2 * stability_window)
            if max_warmup_labels is None
            else max(max_warmup_labels, min_labels)
        )
        self.configure_watch(concept_delta, relearn_labels)
        self._reset()

    def _reset(self) -> None:
        self._model: Classifier = make_model(self.base_model, self.seed)
        self._weighted = accepts_weight(self._model)
        self._rng = random.Random(self.seed)
        self._committee: Committee | None = (
            Committee(self.base_model, self.committee_size, self.seed, self.families)
            if self.committee_size
            else None
        )
        self._labels_seen = 0
        self._classes: set[Label] = set()
        self._label_type: type | None = None
        self._last: deque[int] = deque(maxlen=self.stability_window)
        self._prev: deque[int] = deque(maxlen=self.stability_window)
        self._last_hits = 0
        self._prev_hits = 0
        self._warm = False
        self._version = 0
        self._concept = self._new_watch()

    # -- prediction ------------------------------------------------------------------

    def predict_proba_one(self, x: Features) -> dict[Label, float]:
        """Class probabilities of the single model (empty before any label).

        For the default model (a cleaning function into a Hoeffding adaptive tree)
        the tree's probabilities are computed by :func:`hat_predict_proba`, without
        the deep copies river makes at each leaf (the same values).
        """
        xd = x if isinstance(x, dict) else dict(x)
        model = self._model
        fast = self.__dict__.get("_fast", _NONE)
        if fast is _NONE or fast[0] is not model:  # first call, or a restored snapshot
            fast = self._fast = (model, _fast_tree(model))
        pair = fast[1]
        if pair is None or compose.Pipeline._LEARN_UNSUPERVISED_DURING_PREDICT:
            return model.predict_proba_one(xd)
        hat = pair[1]
        if hat._root is None:  # nothing learnt: the answer does not depend on x
            return {c: 0.0 for c in hat.classes}
        return hat_predict_proba(hat, pair[0](xd))

    def predict_proba_many(self, xs: Sequence[Features]) -> list[dict[Label, float]]:
        """:meth:`predict_proba_one` of each of ``xs``, computed together.

        For the default model the tree is compiled once into a
        :class:`~streamsift.core.compiled.CompiledHat` (kept until the model learns
        again or is replaced) whose probabilities are identical to the bit; other
        models are asked one event at a time.

        Examples
        --------
        >>> from river.datasets import synth
        >>> online = OnlineModel("hoeffding")
        >>> data = list(synth.SEA(seed=1).take(700))
        >>> for x, y in data[:600]:
        ...     online.learn_one(x, y)
        >>> xs = [x for x, _ in data[600:]]
        >>> online.predict_proba_many(xs) == [online.predict_proba_one(x) for x in xs]
        True
        """
        model = self._model
        fast = self.__dict__.get("_fast", _NONE)
        if fast is _NONE or fast[0] is not model:
            fast = self._fast = (model, _fast_tree(model))
        pair = fast[1]
        if pair is None or compose.Pipeline._LEARN_UNSUPERVISED_DURING_PREDICT:
            return [self.predict_proba_one(x) for x in xs]
        clean, hat = pair
        if hat._root is None:
            return [{c: 0.0 for c in hat.classes} for _ in xs]
        # The compiled tree stays valid while the tree learns nothing: the weight it
        # was trained on grows with every label it learns (and labels_seen with every
        # label given to this model).
        key = (hat, self._labels_seen, hat._train_weight_seen_by_model)
        cached = self.__dict__.get("_compiled")
        if cached is None or cached[0] != key or cached[0][0] is not hat:
            cached = self._compiled = (key, CompiledHat(hat))
        predict_many = cached[1].predict_many
        if clean is _clean:  # the compiled tree skips missing values itself
            return predict_many([x if isinstance(x, dict) else dict(x) for x in xs])
        return predict_many([clean(x if isinstance(x, dict) else dict(x)) for x in xs])

    def predict_one(self, x: Features) -> Label | None:
        """The most probable class, or None before any label."""
        return _argmax(self.predict_proba_one(x))

    def committee_probas(self, x: Features) -> list[dict[Label, float]]:
        """Each committee member's probabilities; empty when there is no committee."""
        return self._committee.member_probas(x) if self._committee is not None else []

    # -- learning --------------------------------------------------------------------

    def can_learn_label(self, y: object) -> bool:
        """Whether ``y`` can be learnt: a str or int (bool included) of the same exact
        type as the labels seen so far (mixing ``1`` and ``"1"`` would split a class)."""
        if not isinstance(y, str | int):
            return False
        return self._label_type is None or type(y) is self._label_type

    def learn_one(
        self,
        x: Features,
        y: Label,
        w: float = 1.0,
        *,
        evidence: float = 1.0,
    ) -> None:
        """Predict ``x`` (prequential hit or miss), then learn ``(x, y)`` with weight ``w``.

        ``evidence``: how much the label counts
        in the default tree's leaves' choice between naive Bayes and the majority
        class (:attr:`~streamsift.core.trees.AdaptiveTree.evidence_weight`; the
        sampler passes an importance weight, :meth:`Sampler.learn
        <streamsift.core.sampler.Sampler.learn>`).

        Raises
        ------
        SchemaError
            ``unlearnable_label`` if :meth:`can_learn_label` rejects ``y``;
            ``invalid_weight`` if ``w`` is not a positive finite number.
        """
        if not self.can_learn_label(y):
            raise SchemaError("unlearnable_label", f"cannot learn label {y!r}")
        if not 0 < w < math.inf:
            raise SchemaError("invalid_weight", f"weight must be positive and finite, got {w!r}")
        if not 0 < evidence < math.inf:
            raise SchemaError(
                "invalid_weight", f"evidence must be positive and finite, got {evidence!r}"
            )
        if self.weight_clip is not None and w > self.weight_clip:
            w = self.weight_clip
        xd = x if isinstance(x, dict) else dict(x)
        proba = self.predict_proba_one(xd)
        predicted = _argmax(proba)
        hit = predicted == y
        concept = self._concept
        if (
            concept is not None
            and self._warm
            and predicted is not None
            and concept.update(proba[predicted], hit)
            and concept.relearn_labels
        ):
            self.forget()
        self._record(hit)
        trees = self._trees() if evidence != 1.0 else ()
        for hat in trees:
            hat.evidence_weight = evidence
        try:
            if self._weighted:
                self._model.learn_one(xd, y, w=w)
            else:  # stochastic rounding keeps the expected weight
                k = int(w) + (self._rng.random() < w - int(w))
                for _ in range(k):
                    self._model.learn_one(xd, y)
            if self._committee is not None:
                self._committee.learn_one(xd, y, w)
        finally:
            for hat in trees:
                hat.evidence_weight = 1.0
        self._labels_seen += 1
        self._classes.add(y)
        self._label_type = type(y)

    def forget(self) -> int:
        """Make the default tree (and each committee member that is one) forget what
        its leaves learnt, keeping its branches; return how many leaves forgot.

        :meth:`learn_one` calls it when the concept watch raises an alarm (the label
        that raised it is then learnt by the fresh leaves). Base models other than
        the adaptive tree are left as they are (0).

        Examples
        --------
        >>> from river.datasets import synth
        >>> online = OnlineModel("hoeffding")
        >>> for x, y in synth.SEA(seed=1).take(600):
        ...     online.learn_one(x, y)
        >>> online.forget() > 0, OnlineModel("logreg").forget()
        (True, 0)
        """
        return sum(tree.forget_leaves() for tree in self._trees())

    def _trees(self) -> list[Any]:
        """The registry's adaptive trees: the model's and each committee member's."""
        models: list[object] = [self._model]
        if self._committee is not None:
            models.extend(self._committee.members)
        pairs = (_fast_tree(model) for model in models)  # (pipeline, tree) or None
        return [pair[1] for pair in pairs if pair is not None]

    def _record(self, hit: bool) -> None:
        h = int(hit)
        if len(self._last) == self.stability_window:
            moved = self._last[0]
            self._last_hits -= moved
            if len(self._prev) == self.stability_window:
                self._prev_hits -= self._prev[0]
            self._prev.append(moved)
            self._prev_hits += moved
        self._last.append(h)
        self._last_hits += h
        if self._warm or self._labels_seen + 1 < self.min_labels:
            return
        if self._labels_seen + 1 >= self._warm_cap:
            self._warm = True
        elif len(self._prev) == self.stability_window:
            gap = abs(self._last_hits - self._prev_hits) / self.stability_window
            self._warm = gap <= self.stability_tolerance + 1e-12

    # -- state -----------------------------------------------------------------------

    @property
    def model(self) -> Classifier:
        """The single River model."""
        return self._model

    @property
    def committee(self) -> Committee | None:
        """The committee, if any."""
        return self._committee

    @property
    def labels_seen(self) -> int:
        """Number of labels learnt."""
        return self._labels_seen

    @property
    def classes(self) -> list[Label]:
        """Labels seen so far, sorted."""
        return sorted(self._classes)

    @property
    def prequential_accuracy(self) -> float:
        """Prequential accuracy over the last ``stability_window`` labels (0.0 before any)."""
        return self._last_hits / len(self._last) if self._last else 0.0

    def configure_watch(self, concept_delta: float | None, relearn_labels: int) -> None:
        """Give the model the concept watch the configuration asks for.

        A watch with the same parameters keeps its state; a model pickled before the
        watch existed, or with other parameters, gets a fresh one (``None``: none).
        The learner calls it on the model it restores from a snapshot.

        Examples
        --------
        >>> old = OnlineModel("hoeffding")  # as a snapshot from before the watch
        >>> old.configure_watch(0.01, 100)
        >>> old.concept_delta, old.relearning, old.concept_changes
        (0.01, False, 0)
        """
        same = concept_delta == self.concept_delta and relearn_labels == self.relearn_labels
        if same and (self._concept is None) == (concept_delta is None):
            return
        watch = ConceptWatch(concept_delta or DEFAULT_DELTA, relearn_labels)  # validates both
        self.concept_delta = concept_delta
        self.relearn_labels = relearn_labels
        self._concept = None if concept_delta is None else watch

    def _new_watch(self) -> ConceptWatch | None:
        if self.concept_delta is None:
            return None
        return ConceptWatch(self.concept_delta, self.relearn_labels)

    @property
    def relearning(self) -> bool:
        """Whether a concept change was seen within the last ``relearn_labels`` labels."""
        return self._concept is not None and self._concept.relearning

    @property
    def concept_changes(self) -> int:
        """Concept-change alarms of the watch (0 without one)."""
        return 0 if self._concept is None else self._concept.changes

    @property
    def is_warm(self) -> bool:
        """Whether the warm-up rule of the module docstring has been met (it latches)."""
        return self._warm

    @property
    def version(self) -> int:
        """Snapshot version, bumped by the learner at each snapshot."""
        return self._version

    def bump_version(self) -> int:
        """Increment and return the version."""
        self._version += 1
        return self._version

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_fast", None)  # a cache of the prediction path, rebuilt on first use
        state.pop("_compiled", None)  # the compiled tree, likewise
        return state

    def _params(self) -> dict[str, Any]:
        return {
            "base_model": self.base_model,
            "committee_size": self.committee_size,
            "seed": self.seed,
            "families": list(self.families) if self.families is not None else None,
            "min_labels": self.min_labels,
            "stability_window": self.stability_window,
            "stability_tolerance": self.stability_tolerance,
            "max_warmup_labels": self.max_warmup_labels,
            "weight_clip": self.weight_clip,
            "concept_delta": self.concept_delta,
            "relearn_labels": self.relearn_labels,
        }

    def clone(self) -> OnlineModel:
        """A fresh, unfitted copy with the same parameters."""
        return OnlineModel(**self._params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"OnlineModel({args})"
