"""One simulation: a strategy against random sampling, every label and the majority class.

The production model (for strategies scoring the production model's
probabilities) is trained on a labelled prefix of the stream (default 2 %) and
frozen; the prefix is excluded from every evaluation and from the budget, and is
reported separately (``production_prefix``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamsift.core.models import DEFAULT_BASE_MODEL, make_model
from streamsift.core.sampler import DEFAULT_STRATEGY, Sampler
from streamsift.core.types import Label, Proba
from streamsift.sim.engine import RunResult, majority_accuracy, rolling, run
from streamsift.sim.policies import FullPolicy, RandomPolicy, SamplerPolicy
from streamsift.sim.savings import RANDOM_BUDGETS, savings_vs_random
from streamsift.sim.streams import LabelledEvent, Stream

__all__ = [
    "RandomBaseline",
    "SimConfig",
    "SimReport",
    "prepare",
    "random_baseline",
    "recovery_events",
    "simulate",
]


@dataclass(frozen=True)
class SimConfig:
    """Parameters of one simulation (the CLI flags of ``streamsift simulate``).

    ``sampler`` holds extra :class:`~streamsift.core.sampler.Sampler` keyword
    arguments (empty: the Sampler's own defaults, which is what is benchmarked).
    """

    budget: float = 0.05
    strategy: str = DEFAULT_STRATEGY
    base_model: str = DEFAULT_BASE_MODEL
    production_model: str | None = DEFAULT_BASE_MODEL
    production_prefix: float = 0.02
    seed: int = 0
    label_delay: int = 0
    annotator_noise: float = 0.0
    random_seeds: int = 3
    random_budgets: tuple[float, ...] = RANDOM_BUDGETS
    min_labels: int | None = None
    committee_size: int = 0
    drift_window: int = 2_000
    sampler: tuple[tuple[str, Any], ...] = ()

    def sampler_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the strategy's Sampler (fraction mode at the budget)."""
        kw: dict[str, Any] = {
            "strategy": self.strategy,
            "base_model": self.base_model,
            "fraction": self.budget,
            "committee_size": self.committee_size,
            "drift_window": self.drift_window,
            "seed": self.seed,
        }
        if self.min_labels is not None:
            kw["min_labels"] = self.min_labels
        kw.update(dict(self.sampler))
        return kw


@dataclass
class Prepared:
    """A stream split into the production prefix and the evaluated events."""

    events: list[LabelledEvent]
    production: list[Proba] | None
    classes: list[Label]
    drift_at: int | None
    prefix: int


def prepare(stream: Stream, config: SimConfig) -> Prepared:
    """Train the frozen production model on the prefix and score every evaluated event once.

    The production model's probabilities depend on the event only, so they are
    computed once per stream and shared by every policy (in the service they arrive
    with the event and cost the Sampler nothing).
    """
    n_prefix = int(len(stream.events) * config.production_prefix) if config.production_model else 0
    predict = _production(stream.events[:n_prefix], config)
    events = stream.events[n_prefix:]
    production = [predict(ev.x) for ev in events] if predict is not None else None
    drift_at = stream.drift_at - n_prefix if stream.drift_at is not None else None
    return Prepared(events, production, sorted(stream.classes, key=repr), drift_at, n_prefix)


@dataclass
class RandomBaseline:
    """Random sampling at several budgets (several seeds each), every label, majority."""

    curve: dict[float, float]
    spread: dict[float, tuple[float, float]]
    runs: dict[float, list[RunResult]]
    full: RunResult
    majority_accuracy: float

    def accuracy_at(self, budget: float) -> float:
        """Mean accuracy of random sampling at ``budget`` (which must have been run)."""
        return statistics.fmean(r.accuracy for r in self.runs[budget])


def random_baseline(
    prepared: Prepared,
    config: SimConfig,
    budgets: Sequence[float] = (),
    progress: Callable[[str, int], None] | None = None,
) -> RandomBaseline:
    """Run random sampling at ``config.random_budgets`` plus ``budgets`` and every label.

    Seeds are ``config.seed * 1000 + s`` for ``s < config.random_seeds``, so a
    baseline is reproducible and independent of the strategy's own seed draws.
    """
    kw = _run_kwargs(prepared, config)
    runs: dict[float, list[RunResult]] = {}
    for b in sorted(set(config.random_budgets) | set(budgets)):
        runs[b] = []
        for s in range(config.random_seeds):
            seed = config.seed * 1000 + s
            runs[b].append(
                run(
                    RandomPolicy(b, base_model=config.base_model, seed=seed),
                    prepared.events,
                    seed=seed,
                    progress=_tick(progress, f"random@{b:g}#{s}"),
                    **kw,
                )
            )
    curve = {b: statistics.fmean(r.accuracy for r in runs[b]) for b in config.random_budgets}
    spread = {
        b: (min(r.accuracy for r in runs[b]), max(r.accuracy for r in runs[b]))
        for b in config.random_budgets
    }
    full = run(
        FullPolicy(base_model=config.base_model, seed=config.seed),
        prepared.events,
        progress=_tick(progress, "full"),
        **kw,
    )
    return RandomBaseline(curve, spread, runs, full, majority_accuracy(prepared.events))


@dataclass
class SimReport:
    """Everything a simulation measured (``to_json`` gives the documented JSON)."""

    stream: str
    config: SimConfig
    strategy_run: RunResult
    baseline: RandomBaseline
    production_prefix: int
    drift_at: int | None
    seconds: float
    curves: dict[str, list[float]] = field(default_factory=dict)

    @property
    def random_curve(self) -> dict[float, float]:
        """Budget to mean accuracy of random sampling."""
        return self.baseline.curve

    @property
    def random_spread(self) -> dict[float, tuple[float, float]]:
        """Budget to (min, max) accuracy of random sampling over its seeds."""
        return self.baseline.spread

    @property
    def full_accuracy(self) -> float:
        """Accuracy of the same base model trained on every label."""
        return self.baseline.full.accuracy

    @property
    def majority_accuracy(self) -> float:
        """Accuracy of predicting the most frequent class seen so far."""
        return self.baseline.majority_accuracy

    @property
    def savings(self) -> float:
        """``savings_vs_random`` (see :mod:`streamsift.sim.savings`)."""
        r = self.strategy_run
        return savings_vs_random(r.accuracy, r.labelled_fraction, self.random_curve)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON of ``streamsift simulate``."""
        r = self.strategy_run
        budget = self.config.budget
        same = self.baseline.runs[budget]
        out: dict[str, Any] = {
            "stream": self.stream,
            "events": r.events,
            "budget": budget,
            "labels_used": r.labels_used,
            "labelled_fraction": r.labelled_fraction,
            "accuracy": r.accuracy,
            "random_accuracy": self.baseline.accuracy_at(budget),
            "random_accuracy_seeds": [x.accuracy for x in same],
            "random_labelled_fraction": statistics.fmean(x.labelled_fraction for x in same),
            "savings_vs_random": self.savings,
            "drift_detections": r.drift_detections,
            "strategy": self.config.strategy,
            "base_model": self.config.base_model,
            "full_accuracy": self.full_accuracy,
            "majority_accuracy": self.majority_accuracy,
            "random_curve": {f"{b:g}": a for b, a in sorted(self.random_curve.items())},
            "random_spread": {f"{b:g}": list(v) for b, v in sorted(self.random_spread.items())},
            "labels_by_arm": dict(r.extra.get("labels_by_arm", {})),
            "production_model": self.config.production_model,
            "production_prefix": self.production_prefix,
            "label_delay": self.config.label_delay,
            "annotator_noise": self.config.annotator_noise,
            "seed": self.config.seed,
            "random_seeds": [self.config.seed * 1000 + s for s in range(self.config.random_seeds)],
            "seconds": self.seconds,
            "events_per_second": r.events / self.seconds if self.seconds else None,
        }
        if self.drift_at is not None:
            out["drift_at"] = self.drift_at
            out["recovery_events"] = recovery_events(r.hits, self.drift_at)
            rec = [recovery_events(x.hits, self.drift_at) for x in same]
            out["random_recovery_events_seeds"] = rec
            out["random_recovery_events"] = _median_recovery(rec, len(r.hits) - self.drift_at)
        return out

    def random_curve_at(self, budget: float) -> float:
        """Mean accuracy of random sampling at ``budget``."""
        return self.baseline.accuracy_at(budget)


def _median_recovery(values: Sequence[int | None], never: int) -> int | None:
    """Median recovery time, counting "never" as ``never`` events (None if the median is)."""
    ordered = sorted(never + 1 if v is None else v for v in values)
    mid = ordered[len(ordered) // 2]
    return None if mid > never else mid


def recovery_events(
    hits: Sequence[int], drift_at: int, window: int = 500, tol: float = 0.02
) -> int | None:
    """Events after ``drift_at`` until rolling accuracy is back within ``tol`` of before.

    The pre-drift level is the accuracy of the ``window`` events before the drift;
    the rolling accuracy is the mean of the last ``window`` events, checked from
    ``drift_at + window`` on (a full window after the drift). ``None`` when it never
    recovers.

    Examples
    --------
    >>> hits = [1] * 1000 + [0] * 300 + [1] * 1700
    >>> recovery_events(hits, 1000, window=500, tol=0.02)
    789
    """
    if drift_at < window or drift_at >= len(hits):
        return None
    before = sum(hits[drift_at - window : drift_at]) / window
    curve = rolling(hits, window)
    for i in range(drift_at + window, len(hits)):
        if curve[i] >= before - tol:
            return i - drift_at
    return None


def _production(events: list[LabelledEvent], config: SimConfig) -> Callable[[dict], Proba] | None:
    if config.production_model is None:
        return None
    model = make_model(config.production_model, seed=config.seed + 7)
    for ev in events:
        model.learn_one(ev.x, ev.y)
    return model.predict_proba_one


def _run_kwargs(prepared: Prepared, config: SimConfig) -> dict[str, Any]:
    return {
        "classes": prepared.classes,
        "label_delay": config.label_delay,
        "annotator_noise": config.annotator_noise,
        "production": prepared.production,
    }


def _tick(progress: Callable[[str, int], None] | None, name: str) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda n: progress(name, n)


def run_strategy(
    prepared: Prepared, config: SimConfig, progress: Callable[[str, int], None] | None = None
) -> tuple[RunResult, float]:
    """One pass of the configured Sampler over the evaluated events; (run, seconds)."""
    sampler = Sampler(**config.sampler_kwargs())
    t0 = time.perf_counter()
    result = run(
        SamplerPolicy(sampler),
        prepared.events,
        seed=config.seed,
        progress=_tick(progress, "strategy"),
        **_run_kwargs(prepared, config),
    )
    seconds = time.perf_counter() - t0
    result.extra["labels_by_arm"] = sampler.state.selected_by_arm
    return result, seconds


def simulate(
    stream: Stream,
    config: SimConfig,
    progress: Callable[[str, int], None] | None = None,
    *,
    baseline: RandomBaseline | None = None,
) -> SimReport:
    """Run the strategy, random sampling (budgets x seeds), every label and majority.

    ``baseline`` reuses a :func:`random_baseline` of the same stream, seed and base
    model (it must include ``config.budget``).
    """
    prepared = prepare(stream, config)
    strategy_run, seconds = run_strategy(prepared, config, progress)
    if baseline is None or config.budget not in baseline.runs:
        baseline = random_baseline(prepared, config, (config.budget,), progress)
    return SimReport(
        stream=stream.name,
        config=config,
        strategy_run=strategy_run,
        baseline=baseline,
        production_prefix=prepared.prefix,
        drift_at=prepared.drift_at,
        seconds=seconds,
        curves={
            "strategy": rolling(strategy_run.hits),
            "random": rolling(baseline.runs[config.budget][0].hits),
            "full": rolling(baseline.full.hits),
        },
    )
