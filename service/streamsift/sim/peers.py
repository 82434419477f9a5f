"""The peers ``streamsift compare`` measures against, driven by the same loop.

* :class:`EntropySamplerPolicy`: River's :class:`river.active.EntropySampler` rule
  (ask with probability ``normalised_entropy ** discount_factor``) over the same base
  model. Its label count is set by the discount factor only, so
  :func:`calibrate_discount` searches the factor whose label count on the stream is
  within ``tolerance`` of the budget (a calibration on the stream's label *count*,
  which a live system could not do either; it is the issue's protocol).
* :class:`SkactivemlPolicy`: scikit-activeml's stream query strategies
  (``VariableUncertainty``, ``RandomVariableUncertainty``, ``Split``,
  ``StreamProbabilisticAL``) with their own budget managers, wrapped around the
  same River base model through a small classifier adapter. scikit-activeml is an
  optional extra: :func:`skactiveml_available` says whether it can be imported.

River's sampler never asks while the model predicts nothing (an empty probability
mapping has entropy 0), so it would never start: both peers ask for the label
whenever the model knows fewer than two classes, which is also what every
streamsift strategy scores as maximally uncertain.
"""

from __future__ import annotations

import math
import random
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from streamsift.core.online import OnlineModel
from streamsift.core.types import Label, Proba
from streamsift.sim.engine import Policy, RunResult
from streamsift.sim.streams import LabelledEvent

__all__ = [
    "SKACTIVEML_STRATEGIES",
    "EntropySamplerPolicy",
    "SkactivemlPolicy",
    "calibrate_discount",
    "skactiveml_available",
]

#: scikit-activeml stream strategies compared by default (class names).
SKACTIVEML_STRATEGIES: tuple[str, ...] = (
    "VariableUncertainty",
    "RandomVariableUncertainty",
    "Split",
    "StreamProbabilisticAL",
)


class _ModelPolicy(Policy):
    """A policy owning an unweighted :class:`OnlineModel` over the base model."""

    def __init__(self, base_model: str, seed: int) -> None:
        self.base_model = base_model
        self.seed = seed
        self.model = OnlineModel(base_model=base_model, seed=seed, min_labels=0)

    def predict_proba(self, x: dict) -> Proba:
        return self.model.predict_proba_one(x)

    def learn(self, i: int, ev: LabelledEvent, label: Label, p: float) -> None:
        self.model.learn_one(ev.x, label)


class EntropySamplerPolicy(_ModelPolicy):
    """River's ``EntropySampler`` rule with a given discount factor.

    Parameters
    ----------
    discount_factor
        Exponent on the normalised entropy (higher: fewer labels).
    base_model
        Registry name of the base model.
    seed
        Seed of the sampler's draws.

    Examples
    --------
    >>> from streamsift.sim.engine import run
    >>> from streamsift.sim.streams import load_stream
    >>> s = load_stream("synth:sea", n=1000, seed=1)
    >>> for d in (0.1, 0.3):
    ...     r = run(EntropySamplerPolicy(d, base_model="naive-bayes", seed=0), s.events,
    ...             classes=sorted(s.classes))
    ...     print(d, r.labels_used)
    0.1 677
    0.3 3

    The label count is a cliff of the factor: once the model is confident, entropy
    raised to a power above a small threshold asks for nothing any more.
    """

    def __init__(self, discount_factor: float, *, base_model: str, seed: int = 0) -> None:
        from river import active

        super().__init__(base_model, seed)
        self.discount_factor = discount_factor
        self.name = "river-entropy"
        self._sampler = active.EntropySampler(
            classifier=None,  # type: ignore[arg-type]  # only its rule is used
            discount_factor=discount_factor,
            seed=seed,
        )

    def decide(self, i: int, ev: LabelledEvent, proba: Proba, production: Proba | None) -> float:
        if sum(1 for v in proba.values() if v > 0.0) < 2:
            return 1.0
        p = float(self._sampler._p(proba))
        return p if self._sampler._rng.random() < p else 0.0


def calibrate_discount(
    run_with: Callable[[float], RunResult],
    budget: float,
    *,
    tolerance: float = 0.1,
    low: float = 0.001,
    high: float = 200.0,
    max_runs: int = 14,
) -> tuple[float, RunResult, int]:
    """Search the discount factor whose run labels ``budget`` of the events (+- tolerance).

    Bisection in ``log(discount_factor)``: more labels than the budget raises the
    factor, fewer lowers it. Returns the factor, its run and the number of runs made;
    when no factor gets within tolerance, the run closest to the budget is returned.

    Examples
    --------
    >>> def fake(d):  # a run labelling 1000 / (1 + 100 d) of 10,000 events
    ...     return RunResult("x", 10_000, int(1000 / (1 + 100 * d)), [])
    >>> d, r, n = calibrate_discount(fake, 0.05)
    >>> round(d, 3), r.labels_used, n
    (0.01, 512, 6)
    """
    lo, hi = math.log(low), math.log(high)
    best: tuple[float, float, RunResult] | None = None
    guess = math.log(3.0)  # River's default factor
    runs = 0
    while runs < max_runs:
        d = math.exp(guess)
        r = run_with(d)
        runs += 1
        err = r.labelled_fraction / budget - 1.0
        if best is None or abs(err) < best[0]:
            best = (abs(err), d, r)
        if abs(err) <= tolerance:
            break
        if err > 0:
            lo = guess
        else:
            hi = guess
        guess = (lo + hi) / 2.0
    assert best is not None
    return best[1], best[2], runs


def skactiveml_available() -> bool:
    """Whether scikit-activeml (the optional ``peers`` extra) can be imported."""
    try:
        import skactiveml.stream  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        return False
    return True


def _numeric(v: object) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float) and v == v and math.isfinite(v):
        return float(v)
    return 0.0


def _adapter(n_classes: int) -> Any:
    """A scikit-activeml classifier returning the probabilities the loop already computed."""
    import numpy as np
    from skactiveml.base import SkactivemlClassifier

    class RiverProba(SkactivemlClassifier):
        """Adapter: ``predict_proba`` returns the current event's River probabilities."""

        def __init__(self) -> None:
            super().__init__(classes=np.arange(n_classes), missing_label=-1)
            self.current = np.full((1, n_classes), 1.0 / n_classes)
            self.classes_ = np.arange(n_classes)
            self._le = None

        def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RiverProba:
            return self

        def predict_proba(self, X: Any, **kwargs: Any) -> Any:
            return np.repeat(self.current, len(X), axis=0)

    return RiverProba()


class SkactivemlPolicy(_ModelPolicy):
    """One scikit-activeml stream strategy around the same River base model.

    The strategy sees each event as a single candidate; its classifier is an adapter
    returning the River model's probabilities for that event (classes in a fixed
    order). ``StreamProbabilisticAL`` also needs label frequencies around the
    candidate: it gets them from an RBF kernel over a sliding window of the last
    ``window`` events (labels present only where they were asked for), the setup of
    scikit-activeml's own stream examples.

    Parameters
    ----------
    strategy
        A name of :data:`SKACTIVEML_STRATEGIES`.
    budget
        The budget handed to the strategy's budget manager.
    classes
        Every class of the stream.
    feature_names
        Feature order of the numeric vectors (non-numeric values count as 0).
    base_model, seed
        Base model name and seed.
    window
        Sliding window of events for ``StreamProbabilisticAL``.
    """

    def __init__(
        self,
        strategy: str,
        budget: float,
        *,
        classes: Sequence[Label],
        feature_names: Sequence[str],
        base_model: str,
        seed: int = 0,
        window: int = 300,
    ) -> None:
        import numpy as np
        from skactiveml import stream

        super().__init__(base_model, seed)
        if strategy not in SKACTIVEML_STRATEGIES:
            raise ValueError(f"unknown scikit-activeml strategy {strategy!r}")
        self.strategy = strategy
        self.budget = budget
        self.name = f"skactiveml-{strategy}"
        self.classes = list(classes)
        self.feature_names = list(feature_names)
        self._index = {c: k for k, c in enumerate(self.classes)}
        self._np = np
        kw: dict[str, Any] = {"budget": budget, "random_state": seed}
        if strategy == "StreamProbabilisticAL":
            kw["metric"] = "rbf"
        self._qs = getattr(stream, strategy)(**kw)
        self._clf = _adapter(len(self.classes))
        self._pal = strategy == "StreamProbabilisticAL"
        self._X: deque[list[float]] = deque(maxlen=window)
        self._y: deque[int] = deque(maxlen=window)
        self._rng = random.Random(seed)

    def decide(self, i: int, ev: LabelledEvent, proba: Proba, production: Proba | None) -> float:
        np = self._np
        row = [_numeric(ev.x.get(n)) for n in self.feature_names]
        cand = np.asarray([row])
        known = sum(1 for v in proba.values() if v > 0.0)
        vec = np.zeros((1, len(self.classes)))
        for c, v in proba.items():
            k = self._index.get(c)
            if k is not None:
                vec[0, k] = v
        total = vec.sum()
        self._clf.current = vec / total if total > 0 else np.full_like(vec, 1.0 / vec.shape[1])
        with warnings.catch_warnings():
            # Parzen-window bandwidth notices on windows without variance, per event.
            warnings.simplefilter("ignore", UserWarning)
            queried = self._query(cand)
        ask = len(queried) > 0 or known < 2
        if self._pal:
            self._X.append(row)
            self._y.append(self._index[ev.y] if ask else -1)
        return self.budget if ask else 0.0

    def _query(self, cand: Any) -> Any:
        np = self._np
        if self._pal:
            X = np.asarray(self._X) if self._X else cand
            y = np.asarray(self._y) if self._X else np.asarray([-1])
            queried, utilities = self._qs.query(
                cand, self._clf, X=X, y=y, fit_clf=False, return_utilities=True
            )
            self._qs.update(cand, queried, {"utilities": utilities})
        else:
            queried = self._qs.query(cand, self._clf, fit_clf=False)
            self._qs.update(cand, queried)
        return queried
