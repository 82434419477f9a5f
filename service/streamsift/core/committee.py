"""A committee of River classifiers trained by online bagging (Oza and Russell, 2001).

Each member sees each labelled item ``k ~ Poisson(lambda_)`` times, with its own
seeded random source, so that members differ as bootstrap replicates do. Members
whose ``learn_one`` honours a sample weight learn once with ``w = k * w``; the others
repeat the item ``k ~ Poisson(lambda_ * w)`` times, which has the same expectation.
Members get distinct seeds, and optionally distinct model families (round-robin).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from streamsift.core.models import (
    BASE_MODELS,
    DEFAULT_BASE_MODEL,
    Classifier,
    accepts_weight,
    make_model,
)
from streamsift.core.types import Features, Label
from streamsift.errors import ConfigurationError

__all__ = ["Committee", "mean_proba"]


def _poisson(rate: float, rng: random.Random) -> int:
    """Knuth's method; fine for the small rates used here."""
    limit = math.exp(-rate)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def mean_proba(probas: Sequence[dict[Label, float]]) -> dict[Label, float]:
    """Mean of the non-empty mappings (a class missing from one counts as 0).

    >>> mean_proba([{"a": 1.0}, {"a": 0.5, "b": 0.5}, {}])
    {'a': 0.75, 'b': 0.25}
    """
    acc: dict[Label, float] = {}
    n = 0
    for proba in probas:
        if proba:
            n += 1
            for c, p in proba.items():
                acc[c] = acc.get(c, 0.0) + p
    return {c: v / n for c, v in acc.items()} if n else {}


def _check_name(param: str, name: object) -> None:
    if not isinstance(name, str) or name not in BASE_MODELS:
        valid = ", ".join(sorted(BASE_MODELS))
        raise ConfigurationError(f"{param}: unknown base model {name!r}; valid names: {valid}")


class Committee:
    """Online bagging over ``size`` River classifiers.

    Parameters
    ----------
    base_model
        Registry name of the members' model (see :mod:`streamsift.core.models`).
    size
        Number of members, at least 2 (disagreement needs two).
    seed
        Seeds the members' models and their Poisson draws.
    families
        Registry names used round-robin instead of ``base_model`` (mixed families).
    lambda_
        Poisson rate of the bagging draws; 1 is Oza's online bagging.

    Examples
    --------
    >>> from river.datasets import synth
    >>> committee = Committee("hoeffding", size=3, seed=42)
    >>> for x, y in synth.SEA(seed=1).take(300):
    ...     committee.learn_one(x, y)
    >>> x, y = next(iter(synth.SEA(seed=7).take(1)))
    >>> [round(p[True], 3) for p in committee.member_probas(x)]
    [0.462, 0.0, 0.004]
    >>> round(committee.predict_proba_one(x)[True], 3), committee.predict_one(x), y
    (0.155, False, False)
    """

    def __init__(
        self,
        base_model: str = DEFAULT_BASE_MODEL,
        size: int = 5,
        seed: int = 0,
        families: Sequence[str] | None = None,
        lambda_: float = 1.0,
    ) -> None:
        _check_name("base_model", base_model)
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise ConfigurationError(f"size: expected an int >= 2, got {size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigurationError(f"seed: expected an int, got {seed!r}")
        if families is not None:
            if isinstance(families, str) or len(families) == 0:
                raise ConfigurationError(f"families: expected a non-empty list, got {families!r}")
            for name in families:
                _check_name("families", name)
        if (
            isinstance(lambda_, bool)
            or not isinstance(lambda_, int | float)
            or not 0 < lambda_ <= 20
        ):
            raise ConfigurationError(f"lambda_: expected a number in (0, 20], got {lambda_!r}")
        self.base_model = base_model
        self.size = size
        self.seed = seed
        self.families = tuple(families) if families is not None else None
        self.lambda_ = lambda_
        self._reset()

    def _reset(self) -> None:
        master = random.Random(self.seed)
        names = self.families or (self.base_model,)
        self._members: list[Classifier] = []
        self._rngs: list[random.Random] = []
        for i in range(self.size):
            self._members.append(make_model(names[i % len(names)], master.randrange(2**31)))
            self._rngs.append(random.Random(master.randrange(2**31)))
        self._weighted = [accepts_weight(m) for m in self._members]

    @property
    def members(self) -> tuple[Classifier, ...]:
        """The member models (read-only view)."""
        return tuple(self._members)

    def learn_one(self, x: Features, y: Label, w: float = 1.0) -> None:
        """Update every member with its own Poisson draw of copies of ``(x, y)``."""
        xd = dict(x)
        for model, rng, weighted in zip(self._members, self._rngs, self._weighted, strict=True):
            if weighted:
                k = _poisson(self.lambda_, rng)
                if k:
                    model.learn_one(xd, y, w=k * w)
            else:
                for _ in range(_poisson(self.lambda_ * w, rng)):
                    model.learn_one(xd, y)

    def member_probas(self, x: Features) -> list[dict[Label, float]]:
        """Each member's class probabilities (empty for an untrained member)."""
        xd = dict(x)
        return [m.predict_proba_one(xd) for m in self._members]

    def predict_proba_one(self, x: Features) -> dict[Label, float]:
        """The mean of the members' probabilities."""
        return mean_proba(self.member_probas(x))

    def predict_one(self, x: Features) -> Label | None:
        """The class with the highest mean probability, or None before any label."""
        proba = self.predict_proba_one(x)
        return max(proba, key=proba.__getitem__) if proba else None

    def _params(self) -> dict[str, Any]:
        return {
            "base_model": self.base_model,
            "size": self.size,
            "seed": self.seed,
            "families": list(self.families) if self.families is not None else None,
            "lambda_": self.lambda_,
        }

    def clone(self) -> Committee:
        """A fresh, unfitted committee with the same parameters."""
        return Committee(**self._params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"Committee({args})"
