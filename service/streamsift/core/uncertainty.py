"""Uncertainty scores and the strategies that compute them, all normalised to [0, 1].

A score of 0 means "the model is sure", 1 means "maximally unsure". Scores are plain
Python over small dicts (a few microseconds for ten classes) because the sampler
computes one per inference event.

Conventions shared by every score:

* A probability mapping is normalised by its total before scoring; non-positive
  and NaN entries count as zero. ``n_classes`` (when known) counts classes the
  mapping leaves out, at probability zero; the class count is
  ``K = max(len(proba), n_classes)``.
* With ``K < 2`` (an empty mapping, or a model that has seen a single class) or an
  all-zero mapping the score is ``1.0``: the model knows nothing, so the item is as
  worth labelling as any.
* Committee scores skip members with an empty (untrained) mapping; with fewer than
  two usable members, or fewer than two classes among them, they return ``1.0``.

Strategies are small stateless classes with a ``name`` (their registry key), the
sources they ``needs`` filled in :class:`~streamsift.core.types.ScoringInputs`, the
sources they use as ``fallback`` when the primary one is missing, and one method,
``score_one``. :data:`STRATEGIES` maps stable kebab-case names to constructors and
:func:`make_strategy` builds one from configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

from streamsift.core.types import Label, Proba, ScoringInputs
from streamsift.errors import ConfigurationError

__all__ = [
    "STRATEGIES",
    "Combined",
    "CommitteeBALD",
    "CommitteeKL",
    "CommitteeVoteEntropy",
    "OnlineEntropy",
    "OnlineLeastConfidence",
    "OnlineMargin",
    "ProductionEntropy",
    "ProductionLeastConfidence",
    "ProductionMargin",
    "Strategy",
    "bald",
    "consensus_kl",
    "entropy",
    "least_confidence",
    "make_strategy",
    "margin",
    "vote_entropy",
]


_log = math.log


def _clamp(s: float) -> float:
    return 0.0 if s < 0.0 else 1.0 if s > 1.0 else s


def _n(proba: Proba, n_classes: int | None) -> int:
    k = len(proba)
    return n_classes if n_classes is not None and n_classes > k else k


# The single-model scores run once per event: they inline ``_n`` and ``_clamp`` (same
# arithmetic, one Python call instead of three).


def least_confidence(proba: Proba, n_classes: int | None = None) -> float:
    """``(1 - max p) * K / (K - 1)``: 0 for a one-hot, 1 for a uniform distribution.

    >>> round(least_confidence({"a": 0.7, "b": 0.3}), 12)
    0.6
    """
    k = len(proba)
    if n_classes is not None and n_classes > k:
        k = n_classes
    total = top = 0.0
    for p in proba.values():
        if p > 0.0:
            total += p
            if p > top:
                top = p
    if k < 2 or total <= 0.0:
        return 1.0
    s = (1.0 - top / total) * k / (k - 1)
    return 0.0 if s < 0.0 else 1.0 if s > 1.0 else s


def margin(proba: Proba, n_classes: int | None = None) -> float:
    """``1 - (p1 - p2)`` for the two largest probabilities (``p2 = 0`` if absent).

    >>> round(margin({"a": 0.7, "b": 0.3}), 12)
    0.6
    """
    k = len(proba)
    if n_classes is not None and n_classes > k:
        k = n_classes
    total = p1 = p2 = 0.0
    for p in proba.values():
        if p > 0.0:
            total += p
            if p > p1:
                p2 = p1
                p1 = p
            elif p > p2:
                p2 = p
    if k < 2 or total <= 0.0:
        return 1.0
    s = 1.0 - (p1 - p2) / total
    return 0.0 if s < 0.0 else 1.0 if s > 1.0 else s


def _nats(proba: Proba) -> tuple[float, float]:
    """Shannon entropy (nats) of the normalised mapping, and the mapping's total."""
    total = h = 0.0
    for p in proba.values():
        if p > 0.0:
            total += p
            h -= p * _log(p)
    if total <= 0.0:
        return 0.0, 0.0
    return h / total + _log(total), total


def entropy(proba: Proba, n_classes: int | None = None) -> float:
    """Shannon entropy divided by ``log K``.

    >>> entropy({"a": 0.5, "b": 0.5}), entropy({"a": 1.0, "b": 0.0})
    (1.0, 0.0)
    """
    k = len(proba)
    if n_classes is not None and n_classes > k:
        k = n_classes
    total = h = 0.0
    for p in proba.values():  # _nats inlined
        if p > 0.0:
            total += p
            h -= p * _log(p)
    if k < 2 or total <= 0.0:
        return 1.0
    s = (h / total + _log(total)) / _log(k)
    return 0.0 if s < 0.0 else 1.0 if s > 1.0 else s


_TINY = 1e-15


def _usable(members: Sequence[Proba]) -> list[dict[Label, float]]:
    """Members with a positive total, normalised; entries below 1e-15 (and non-positive
    or NaN ones) are dropped, which keeps every log finite and changes no score visibly."""
    out = []
    for proba in members:
        total = sum(p for p in proba.values() if p > 0.0)
        if total > 0.0:
            normalised = {}
            for c, p in proba.items():
                q = p / total
                if q > _TINY:
                    normalised[c] = q
            out.append(normalised)
    return out


def _consensus(usable: list[dict[Label, float]]) -> dict[Label, float]:
    acc: dict[Label, float] = {}
    for proba in usable:
        for c, p in proba.items():
            acc[c] = acc.get(c, 0.0) + p
    m = len(usable)
    return {c: v / m for c, v in acc.items()}


def vote_entropy(members: Sequence[Proba], n_classes: int | None = None) -> float:
    """Entropy of the members' hard votes, divided by ``log min(K, members)``.

    >>> vote_entropy([{"a": 0.9, "b": 0.1}, {"a": 0.2, "b": 0.8}])
    1.0
    """
    usable = _usable(members)
    votes: dict[Label, float] = {}
    for proba in usable:
        c = max(proba, key=proba.__getitem__)
        votes[c] = votes.get(c, 0.0) + 1.0
    k = _n(_consensus(usable), n_classes) if usable else 0
    bound = min(k, len(usable))
    if bound < 2:
        return 1.0
    return _clamp(_nats(votes)[0] / math.log(bound))


def consensus_kl(members: Sequence[Proba], n_classes: int | None = None) -> float:
    """Mean ``KL(member || consensus)`` mapped to [0, 1] by ``1 - exp(-kl)``.

    The consensus is the members' mean. The mean KL to the mean equals the
    committee's mutual information (see :func:`bald`), so both rank items alike;
    this one saturates smoothly instead of dividing by ``log K``. ``n_classes``
    only decides whether ``K >= 2``.

    >>> round(consensus_kl([{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}]), 6)
    0.5
    """
    usable = _usable(members)
    if len(usable) < 2:
        return 1.0
    mean = _consensus(usable)
    if _n(mean, n_classes) < 2:
        return 1.0
    kl = 0.0
    for proba in usable:
        kl += sum(p * math.log(p / mean[c]) for c, p in proba.items())
    return _clamp(1.0 - math.exp(-kl / len(usable)))


def bald(members: Sequence[Proba], n_classes: int | None = None) -> float:
    """Mutual information: entropy of the mean minus mean entropy, over ``log K``.

    >>> bald([{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}])
    1.0
    """
    usable = _usable(members)
    if len(usable) < 2:
        return 1.0
    mean = _consensus(usable)
    k = _n(mean, n_classes)
    if k < 2:
        return 1.0
    mean_h = sum(_nats(p)[0] for p in usable) / len(usable)
    return _clamp((_nats(mean)[0] - mean_h) / math.log(k))


class Strategy(Protocol):
    """What the sampler needs from a strategy: a name, its sources, one score."""

    name: str
    needs: frozenset[str]

    def score_one(self, inputs: ScoringInputs) -> float:
        """Uncertainty of one event in [0, 1]."""
        ...


def _check_n_classes(n_classes: int | None) -> None:
    if n_classes is not None and (
        isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2
    ):
        raise ConfigurationError(f"n_classes: expected None or an int >= 2, got {n_classes!r}")


class _Base:
    """Shared repr and clone: parameters are the constructor's, stored by name."""

    name = ""
    needs: frozenset[str] = frozenset()
    fallback: frozenset[str] = frozenset()

    def __init__(self, n_classes: int | None = None) -> None:
        _check_n_classes(n_classes)
        self.n_classes = n_classes

    def _params(self) -> dict[str, Any]:
        return {"n_classes": self.n_classes}

    def clone(self) -> _Base:
        """A new strategy with the same parameters."""
        return type(self)(**self._params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"


class _Single(_Base):
    """Scores one source's probabilities; falls back to the other one, then 1.0.

    Subclasses set ``_score``, the score function (``margin``, ``entropy``, ...) that
    :meth:`score_one` calls directly; ``_production_first`` follows ``needs``.
    """

    _score: Callable[[Proba, int | None], float]
    _production_first = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._production_first = "production" in cls.needs

    def score_one(self, inputs: ScoringInputs) -> float:
        """Score the primary source, else the fallback source, else 1.0."""
        if self._production_first:
            proba = inputs.production or inputs.online
        else:
            proba = inputs.online or inputs.production
        return self._score(proba, self.n_classes) if proba else 1.0


class ProductionLeastConfidence(_Single):
    """Least confidence of the production model (falls back to the online model).

    Examples
    --------
    >>> s = ProductionLeastConfidence()
    >>> round(s.score_one(ScoringInputs(production={"a": 0.7, "b": 0.3})), 12)
    0.6
    """

    name = "production-least-confidence"
    needs = frozenset({"production"})
    fallback = frozenset({"online"})

    _score = staticmethod(least_confidence)


class ProductionMargin(_Single):
    """Margin of the production model (falls back to the online model).

    Examples
    --------
    >>> round(ProductionMargin().score_one(ScoringInputs(production={"a": 0.7, "b": 0.3})), 12)
    0.6
    """

    name = "production-margin"
    needs = frozenset({"production"})
    fallback = frozenset({"online"})

    _score = staticmethod(margin)


class ProductionEntropy(_Single):
    """Normalised entropy of the production model (falls back to the online model).

    Examples
    --------
    >>> s = ProductionEntropy(n_classes=4)
    >>> s.score_one(ScoringInputs(production={"a": 0.5, "b": 0.5}))
    0.5
    >>> s.score_one(ScoringInputs(online={"a": 1.0}))
    0.0
    >>> s.score_one(ScoringInputs())
    1.0
    """

    name = "production-entropy"
    needs = frozenset({"production"})
    fallback = frozenset({"online"})

    _score = staticmethod(entropy)


class OnlineLeastConfidence(ProductionLeastConfidence):
    """Least confidence of the online model (falls back to the production model).

    Examples
    --------
    >>> round(OnlineLeastConfidence().score_one(ScoringInputs(online={"a": 0.9, "b": 0.1})), 12)
    0.2
    """

    name = "online-least-confidence"
    needs = frozenset({"online"})
    fallback = frozenset({"production"})


class OnlineMargin(ProductionMargin):
    """Margin of the online model (falls back to the production model).

    Examples
    --------
    >>> round(OnlineMargin().score_one(ScoringInputs(online={"a": 0.9, "b": 0.1})), 12)
    0.2
    """

    name = "online-margin"
    needs = frozenset({"online"})
    fallback = frozenset({"production"})


class OnlineEntropy(ProductionEntropy):
    """Normalised entropy of the online model (falls back to the production model).

    Examples
    --------
    >>> round(OnlineEntropy().score_one(ScoringInputs(online={"a": 0.25, "b": 0.5})), 6)
    0.918296
    """

    name = "online-entropy"
    needs = frozenset({"online"})
    fallback = frozenset({"production"})


class _OfCommittee(_Base):
    """Scores the committee; without one, the online (else production) entropy."""

    needs = frozenset({"committee"})
    fallback = frozenset({"online", "production"})

    def _measure(self, members: Sequence[Proba]) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_one(self, inputs: ScoringInputs) -> float:
        """Score the committee, else the online or production entropy, else 1.0."""
        if inputs.committee:
            return self._measure(inputs.committee)
        proba = inputs.online or inputs.production
        return entropy(proba, self.n_classes) if proba else 1.0


class CommitteeVoteEntropy(_OfCommittee):
    """Vote entropy of the committee's hard votes.

    Examples
    --------
    >>> votes = [{"a": 0.9, "b": 0.1}, {"a": 0.6, "b": 0.4}, {"a": 0.3, "b": 0.7}]
    >>> round(CommitteeVoteEntropy().score_one(ScoringInputs(committee=votes)), 6)
    0.918296
    """

    name = "committee-vote-entropy"

    def _measure(self, members: Sequence[Proba]) -> float:
        return vote_entropy(members, self.n_classes)


class CommitteeKL(_OfCommittee):
    """Mean KL divergence of the members to their consensus, as ``1 - exp(-kl)``.

    Examples
    --------
    >>> members = [{"a": 0.9, "b": 0.1}, {"a": 0.5, "b": 0.5}]
    >>> round(CommitteeKL().score_one(ScoringInputs(committee=members)), 6)
    0.096744
    """

    name = "committee-kl"

    def _measure(self, members: Sequence[Proba]) -> float:
        return consensus_kl(members, self.n_classes)


class CommitteeBALD(_OfCommittee):
    """BALD mutual information between the prediction and the committee member.

    Examples
    --------
    >>> members = [{"a": 0.9, "b": 0.1}, {"a": 0.5, "b": 0.5}]
    >>> round(CommitteeBALD().score_one(ScoringInputs(committee=members)), 6)
    0.146793
    """

    name = "committee-bald"

    def _measure(self, members: Sequence[Proba]) -> float:
        return bald(members, self.n_classes)


def _resolve(param: str, value: Strategy | str) -> Strategy:
    if isinstance(value, str):
        return make_strategy(value)
    if not callable(getattr(value, "score_one", None)):
        raise ConfigurationError(f"{param}: expected a strategy or its name, got {value!r}")
    return value


class Combined:
    """``weight * a + (1 - weight) * b``: mixes two strategies' scores.

    Parameters
    ----------
    a, b
        Strategies or their registry names; the defaults mix the production
        model's entropy with the committee's BALD.
    weight
        Share of ``a`` in [0, 1].

    Examples
    --------
    >>> s = Combined("production-entropy", "committee-bald", weight=0.5)
    >>> members = [{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}]
    >>> s.score_one(ScoringInputs(production={"a": 1.0, "b": 0.0}, committee=members))
    0.5
    >>> sorted(s.needs)
    ['committee', 'production']
    """

    name = "combined"

    def __init__(
        self,
        a: Strategy | str = "production-entropy",
        b: Strategy | str = "committee-bald",
        weight: float = 0.5,
    ) -> None:
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ConfigurationError(f"weight: expected a number in [0, 1], got {weight!r}")
        self.a = a
        self.b = b
        self.weight = weight
        self._a = _resolve("a", a)
        self._b = _resolve("b", b)
        self.needs: frozenset[str] = self._a.needs | self._b.needs
        fallback = getattr(self._a, "fallback", frozenset()) | getattr(self._b, "fallback", set())
        self.fallback: frozenset[str] = frozenset(fallback) - self.needs

    def score_one(self, inputs: ScoringInputs) -> float:
        """The weighted mean of both strategies' scores."""
        w = self.weight
        return _clamp(w * self._a.score_one(inputs) + (1.0 - w) * self._b.score_one(inputs))

    def clone(self) -> Combined:
        """A new strategy with the same parameters."""
        return Combined(self.a, self.b, self.weight)

    def __repr__(self) -> str:
        return f"Combined(a={self.a!r}, b={self.b!r}, weight={self.weight!r})"


#: Strategy name -> constructor. Names are stable: they appear in configuration,
#: decisions and metrics.
STRATEGIES: Mapping[str, Callable[..., Strategy]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            ProductionLeastConfidence,
            ProductionMargin,
            ProductionEntropy,
            OnlineLeastConfidence,
            OnlineMargin,
            OnlineEntropy,
            CommitteeVoteEntropy,
            CommitteeKL,
            CommitteeBALD,
            Combined,
        )
    }
)


def make_strategy(name: str, **params: Any) -> Strategy:
    """Build a strategy by registry name.

    Raises
    ------
    ConfigurationError
        For an unknown name (the message lists the valid ones) or bad parameters.

    Examples
    --------
    >>> make_strategy("online-margin", n_classes=3)
    OnlineMargin(n_classes=3)
    >>> make_strategy("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    streamsift.errors.ConfigurationError: strategy: unknown strategy 'nope'; valid names: ...
    """
    factory = STRATEGIES.get(name)
    if factory is None:
        valid = ", ".join(sorted(STRATEGIES))
        raise ConfigurationError(f"strategy: unknown strategy {name!r}; valid names: {valid}")
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigurationError(
            f"strategy {name!r}: bad parameters {sorted(params)}: {exc}"
        ) from exc
