"""A registry of named River classifiers: the online model is chosen by name.

Configuration names a base model (``"hoeffding"``, ``"logreg"``, ...); nothing is
ever evaluated from configuration. Each entry is a factory taking a seed and
returning a fresh, unfitted River classifier that accepts the features producers
send: numbers, booleans, strings and ``None``.

Every pipeline starts with a cleaning step that drops missing values (``None`` and
NaN). Linear, Bayesian and neighbour models then standardise the numeric features
and one-hot encode the string ones; trees take strings natively as nominal
attributes and need no scaling.

The default, :data:`DEFAULT_BASE_MODEL` (``"hoeffding"``, a Hoeffding adaptive tree
with naive-Bayes-adaptive leaves), is the one that learns every reference stream
(river's Bananas, Phishing and ImageSegments, and the drifting SEA, Agrawal and
Hyperplane generators) well above the majority baseline, recovers from abrupt drift
through its ADWIN-monitored branches, and predicts in a few tens of microseconds.
``"hoeffding-nb"`` is the same tree with naive-Bayes leaves, measured as a default
and not taken: better on the six reference streams, far worse on the demo's own
stream (docs/benchmarks.md, "Previous default"), measured with river's leaf naive
Bayes, whose zero likelihoods count as one (``core.leaf_bayes``). With the leaves'
own naive Bayes the demo's stream is fine (0.83-0.85) but Agrawal is not (1.64x
over eleven seeds, 7 of 66 runs below 1x; "Current default"): still not taken.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from river import (
    compose,
    forest,
    linear_model,
    multiclass,
    naive_bayes,
    neighbors,
    optim,
    preprocessing,
    tree,
)

from streamsift.core.trees import AdaptiveTree
from streamsift.errors import ConfigurationError

__all__ = [
    "BASE_MODELS",
    "DEFAULT_BASE_MODEL",
    "Classifier",
    "accepts_weight",
    "make_model",
]


class Classifier(Protocol):
    """The River classifier surface the core relies on (pipelines included)."""

    def learn_one(self, x: dict[str, Any], y: Any, **kwargs: Any) -> None:
        """Learn one labelled item."""
        ...

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        """Class probabilities (empty before any label)."""
        ...


def _clean(x: dict[str, Any]) -> dict[str, Any]:
    """Drop missing values (``None`` and NaN) so that no step sees them."""
    return {
        k: v for k, v in x.items() if v is not None and not (isinstance(v, float) and math.isnan(v))
    }


def _encoded() -> compose.Pipeline:
    """Cleaning, then scaled numbers alongside one-hot encoded strings."""
    numeric = compose.SelectType(numbers.Number) | preprocessing.StandardScaler()
    categorical = compose.SelectType(str) | preprocessing.OneHotEncoder()
    return compose.FuncTransformer(_clean) | compose.TransformerUnion(numeric, categorical)


def _logreg(seed: int) -> Classifier:
    del seed  # deterministic: SGD from zero weights
    clf = linear_model.LogisticRegression(optimizer=optim.SGD(0.05), l2=1e-4)
    return _encoded() | multiclass.OneVsRestClassifier(clf)


def _softmax(seed: int) -> Classifier:
    del seed
    return _encoded() | linear_model.SoftmaxRegression(optimizer=optim.SGD(0.05), l2=1e-4)


def _naive_bayes(seed: int) -> Classifier:
    del seed
    return _encoded() | naive_bayes.GaussianNB()


def _hoeffding(seed: int) -> Classifier:
    # No bootstrap resampling (river's default draws a Poisson(1) weight per label):
    # with a few hundred actively chosen labels it only adds variance. Replaying a
    # worker's 623 training labels, 4 of 10 seeds ended predicting one minority class
    # (accuracy 0.28 on fresh events, majority 0.56) against 0.79 without it. It cost
    # label efficiency on the reference streams (five seeds, 5 %): geometric-mean
    # savings 3.56x / worst stream 2.18x with resampling, 2.08x / 0.84x without
    # (docs/benchmarks.md, "Earlier default").
    #
    # Split confidence delta=1e-3 (river's default 1e-7; 1e-5 until 2026-11-27): on
    # ~1,000 actively chosen labels the tree often never split at 1e-5 (Agrawal seed
    # 0: one leaf for the whole stream), and a tree with no branch has no alternate
    # subtree to adapt with. Eleven seeds at 5 %: Agrawal 3.12x against 1.85x,
    # recovery after its drift faster than random on 7 of 10 against 4 of 10,
    # every-label accuracy 0.931 against 0.908; the other five streams unchanged
    # within 0.1x; 1e-2 was worse (Agrawal 1.38x, no recovery). Docs/benchmarks.md,
    # "Previous default".
    model = AdaptiveTree(
        grace_period=50, leaf_prediction="nba", delta=1e-3, seed=seed, bootstrap_sampling=False
    )
    return compose.FuncTransformer(_clean) | model


def _hoeffding_nb(seed: int) -> Classifier:
    # As "hoeffding", but every leaf predicts with naive Bayes: the adaptive leaf
    # ("nba") chooses between naive Bayes and its majority class by which was right
    # more often on the labels it learned, and on a few actively chosen labels the
    # majority class can win for hundreds of events (ImageSegments, seed 2: one
    # class predicted from label 24 to 45, accuracy 0.08-0.2, then 0.73 once naive
    # Bayes took over).
    model = AdaptiveTree(
        grace_period=50, leaf_prediction="nb", delta=1e-5, seed=seed, bootstrap_sampling=False
    )
    return compose.FuncTransformer(_clean) | model


def _hoeffding_static(seed: int) -> Classifier:
    del seed
    model = tree.HoeffdingTreeClassifier(grace_period=50, leaf_prediction="nba", delta=1e-5)
    return compose.FuncTransformer(_clean) | model


def _knn(seed: int) -> Classifier:
    del seed
    engine = neighbors.LazySearch(window_size=100)
    return _encoded() | neighbors.KNNClassifier(n_neighbors=5, engine=engine)


def _arf_small(seed: int) -> Classifier:
    model = forest.ARFClassifier(n_models=3, grace_period=50, seed=seed)
    return compose.FuncTransformer(_clean) | model


#: Base model name -> factory taking a seed. Names are stable kebab-case keys.
BASE_MODELS: Mapping[str, Callable[[int], Classifier]] = MappingProxyType(
    {
        "hoeffding": _hoeffding,
        "hoeffding-nb": _hoeffding_nb,
        "hoeffding-static": _hoeffding_static,
        "logreg": _logreg,
        "softmax": _softmax,
        "naive-bayes": _naive_bayes,
        "knn": _knn,
        "arf-small": _arf_small,
    }
)

#: The base model used when configuration names none (see the module docstring).
DEFAULT_BASE_MODEL = "hoeffding"


def make_model(name: str = DEFAULT_BASE_MODEL, seed: int = 0) -> Classifier:
    """Build a fresh, unfitted classifier from the registry.

    Parameters
    ----------
    name
        A key of :data:`BASE_MODELS`.
    seed
        Seed for the model's own randomness (ignored by deterministic models).

    Raises
    ------
    ConfigurationError
        If ``name`` is not registered; the message lists the valid names.

    Examples
    --------
    >>> from river.datasets import synth
    >>> model = make_model("hoeffding", seed=0)
    >>> for x, y in synth.SEA(seed=1).take(300):
    ...     model.learn_one(x, y)
    >>> x, y = next(iter(synth.SEA(seed=2).take(1)))
    >>> y, model.predict_one(x)
    (True, True)
    """
    factory = BASE_MODELS.get(name)
    if factory is None:
        valid = ", ".join(sorted(BASE_MODELS))
        raise ConfigurationError(f"base_model: unknown model {name!r}; valid names: {valid}")
    return factory(seed)


def accepts_weight(model: object) -> bool:
    """Whether ``model.learn_one`` honours a sample weight ``w``.

    Looks through pipelines (their last step learns) and one-vs-rest wrappers;
    a ``**kwargs`` signature alone does not count, since it may swallow ``w``.

    Examples
    --------
    >>> accepts_weight(make_model("logreg")), accepts_weight(make_model("naive-bayes"))
    (True, False)
    """
    if isinstance(model, compose.Pipeline):
        return accepts_weight(list(model.steps.values())[-1])
    if isinstance(model, multiclass.OneVsRestClassifier):
        return accepts_weight(model.classifier)
    method = getattr(type(model), "learn_one", None)
    if method is None:
        return False
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "w" in params
