"""One simulation: a strategy against random sampling, every label and the majority class.

The production model (for strategies scoring the production model's
probabilities) is trained on a labelled prefix of the stream (default 2 %) and
frozen; the prefix is excluded from every evaluation and from the budget, and is
reported separately (``production_prefix``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamsift.core.models import DEFAULT_BASE_MODEL, make_model
from streamsift.core.sampler import DEFAULT_STRATEGY, Sampler
from streamsift.core.types import Proba
from streamsift.sim.engine import RunResult, majority_accuracy, rolling, run
from streamsift.sim.policies import FullPolicy, RandomPolicy, SamplerPolicy
from streamsift.sim.savings import RANDOM_BUDGETS, savings_vs_random
from streamsift.sim.streams import LabelledEvent, Stream

__all__ = ["SimConfig", "SimReport", "recovery_events", "simulate"]


@dataclass(frozen=True)
class SimConfig:
    """Parameters of one simulation (the CLI flags of ``streamsift simulate``)."""

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


@dataclass
class SimReport:
    """Everything a simulation measured (``to_json`` gives the documented JSON)."""

    stream: str
    config: SimConfig
    strategy_run: RunResult
    random_curve: dict[float, float]
    random_spread: dict[float, tuple[float, float]]
    random_same_budget: RunResult
    full_accuracy: float
    majority_accuracy: float
    production_prefix: int
    drift_at: int | None
    seconds: float
    curves: dict[str, list[float]] = field(default_factory=dict)

    @property
    def savings(self) -> float:
        r = self.strategy_run
        return savings_vs_random(r.accuracy, r.labelled_fraction, self.random_curve)

    def to_json(self) -> dict[str, Any]:
        r = self.strategy_run
        out: dict[str, Any] = {
            "stream": self.stream,
            "events": r.events,
            "budget": self.config.budget,
            "labels_used": r.labels_used,
            "labelled_fraction": r.labelled_fraction,
            "accuracy": r.accuracy,
            "random_accuracy": self.random_curve_at(self.config.budget),
            "savings_vs_random": self.savings,
            "drift_detections": r.drift_detections,
            "strategy": self.config.strategy,
            "base_model": self.config.base_model,
            "full_accuracy": self.full_accuracy,
            "majority_accuracy": self.majority_accuracy,
            "random_curve": {f"{b:g}": a for b, a in sorted(self.random_curve.items())},
            "random_spread": {f"{b:g}": list(v) for b, v in sorted(self.random_spread.items())},
            "production_model": self.config.production_model,
            "production_prefix": self.production_prefix,
            "label_delay": self.config.label_delay,
            "annotator_noise": self.config.annotator_noise,
            "seed": self.config.seed,
            "seconds": self.seconds,
            "events_per_second": r.events / self.seconds if self.seconds else None,
        }
        if self.drift_at is not None:
            out["drift_at"] = self.drift_at
            out["recovery_events"] = recovery_events(r.hits, self.drift_at)
            out["random_recovery_events"] = recovery_events(
                self.random_same_budget.hits, self.drift_at
            )
        return out

    def random_curve_at(self, budget: float) -> float:
        if budget in self.random_curve:
            return self.random_curve[budget]
        return self.random_same_budget.accuracy


def recovery_events(
    hits: list[int], drift_at: int, window: int = 500, tol: float = 0.02
) -> int | None:
    """Events after ``drift_at`` until rolling accuracy is back within ``tol`` of before.

    The pre-drift level is the accuracy of the ``window`` events before the drift;
    ``None`` when it never recovers.
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


def simulate(
    stream: Stream, config: SimConfig, progress: Callable[[str, int], None] | None = None
) -> SimReport:
    """Run the strategy, random sampling (budgets x seeds), every label and majority."""
    started = time.perf_counter()
    n_prefix = int(len(stream.events) * config.production_prefix) if config.production_model else 0
    production = _production(stream.events[:n_prefix], config)
    events = stream.events[n_prefix:]
    classes = sorted(stream.classes, key=repr)
    drift_at = stream.drift_at - n_prefix if stream.drift_at is not None else None
    kw: dict[str, Any] = {
        "classes": classes,
        "label_delay": config.label_delay,
        "annotator_noise": config.annotator_noise,
        "production": production,
    }

    def tick(name: str) -> Callable[[int], None] | None:
        return (lambda n: progress(name, n)) if progress else None

    sampler = Sampler(
        strategy=config.strategy,
        base_model=config.base_model,
        fraction=config.budget,
        committee_size=config.committee_size,
        min_labels=config.min_labels if config.min_labels is not None else 200,
        drift_window=config.drift_window,
        seed=config.seed,
    )
    t0 = time.perf_counter()
    strategy_run = run(
        SamplerPolicy(sampler), events, seed=config.seed, progress=tick("strategy"), **kw
    )
    strategy_seconds = time.perf_counter() - t0

    curve: dict[float, float] = {}
    spread: dict[float, tuple[float, float]] = {}
    same_budget: RunResult | None = None
    budgets = sorted(set(config.random_budgets) | {config.budget})
    for b in budgets:
        accs = []
        for s in range(config.random_seeds):
            r = run(
                RandomPolicy(b, base_model=config.base_model, seed=config.seed * 1000 + s),
                events,
                seed=config.seed * 1000 + s,
                progress=tick(f"random@{b:g}#{s}"),
                **kw,
            )
            accs.append(r.accuracy)
            if b == config.budget and s == 0:
                same_budget = r
        if b in config.random_budgets:
            curve[b] = statistics.fmean(accs)
            spread[b] = (min(accs), max(accs))
        if b == config.budget:
            curve.setdefault(b, statistics.fmean(accs))
    assert same_budget is not None
    full = run(
        FullPolicy(base_model=config.base_model, seed=config.seed),
        events,
        progress=tick("full"),
        **kw,
    )
    report = SimReport(
        stream=stream.name,
        config=config,
        strategy_run=strategy_run,
        random_curve={b: a for b, a in curve.items() if b in config.random_budgets},
        random_spread=spread,
        random_same_budget=same_budget,
        full_accuracy=full.accuracy,
        majority_accuracy=majority_accuracy(events),
        production_prefix=n_prefix,
        drift_at=drift_at,
        seconds=strategy_seconds,
        curves={
            "strategy": rolling(strategy_run.hits),
            "random": rolling(same_budget.hits),
            "full": rolling(full.hits),
        },
    )
    report.extra_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    return report
