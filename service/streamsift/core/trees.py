"""River's Hoeffding adaptive tree with its classes in a reproducible order.

River's adaptive tree (0.26) keeps the classes it has seen in a ``set`` and builds
every probability dict from it (``{c: 0.0 for c in self.classes}``). With string
labels the set's order changes with each process's string hashing, and with it the
key order of every prediction: which class wins an argmax tie and the order of the
float sums that normalise the probabilities. In a prequential run the last-bit
differences flip a few selection decisions and the runs diverge: the simulator gave
ImageSegments (seven string classes) an online-model accuracy of 0.45 to 0.76 for
one seed depending on ``PYTHONHASHSEED`` (docs/benchmarks.md, "Current default").
River's non-adaptive tree sorts its classes; sorting fails on labels of mixed types,
so :class:`AdaptiveTree` keeps them in the order they were first seen.
"""

from __future__ import annotations

from typing import Any

from river import tree

__all__ = ["ADAPTIVE_TREES", "AdaptiveTree", "OrderedClasses"]


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


class AdaptiveTree(tree.HoeffdingAdaptiveTreeClassifier):
    """:class:`river.tree.HoeffdingAdaptiveTreeClassifier` with :class:`OrderedClasses`.

    Learning is river's; probabilities are river's up to the order of the classes,
    which no longer depends on the process (the order of the dict's keys and of the
    float sums that normalise them, so values can differ from river's in the last
    bit).

    Parameters
    ----------
    grace_period, delta, leaf_prediction, seed, bootstrap_sampling
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

    def __init__(
        self,
        grace_period: int = 200,
        delta: float = 1e-7,
        leaf_prediction: str = "nba",
        seed: int | None = None,
        bootstrap_sampling: bool = False,
    ) -> None:
        super().__init__(
            grace_period=grace_period,
            delta=delta,
            leaf_prediction=leaf_prediction,
            seed=seed,
            bootstrap_sampling=bootstrap_sampling,
        )
        self.classes: Any = OrderedClasses()

    @classmethod
    def _unit_test_params(cls) -> Any:
        yield {"seed": 1}


#: Tree types whose predictions the fast paths (``core.online``, ``core.compiled``)
#: reproduce; exact types, since ``isinstance`` on river's classes is slow.
ADAPTIVE_TREES: frozenset[type] = frozenset({tree.HoeffdingAdaptiveTreeClassifier, AdaptiveTree})
