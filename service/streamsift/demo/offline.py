"""The savings figure: an offline, ``streamsift simulate``-style run on the demo's generator.

A live demo cannot say what random sampling would have cost: only one policy runs.
So, while the live demo runs, this module replays the *same* synthetic generator
(same seed, regions, drift region and size, drift at the same share of the stream)
through the *same* core :class:`~streamsift.core.sampler.Sampler` the worker runs
(its strategy, base model, control share and cold start), prequentially, with the
demo's label delay (in events) and the team's mean annotator noise; and random
sampling at several budgets (several seeds each) with the same base model. The
savings factor is :func:`streamsift.sim.savings.savings_vs_random`: the budget
random sampling needs to reach streamsift's accuracy over the budget streamsift
used.

Run as ``python -m streamsift.demo.offline --json OUT [options]`` (the demo starts
it as a low-priority subprocess); :func:`run_offline` is the function.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamsift.config import Settings
from streamsift.core.models import DEFAULT_BASE_MODEL
from streamsift.core.sampler import DEFAULT_STRATEGY, Sampler
from streamsift.core.types import Label, Proba
from streamsift.demo.config import DemoConfig
from streamsift.sim.engine import rolling, run
from streamsift.sim.policies import FullPolicy, RandomPolicy, SamplerPolicy
from streamsift.sim.savings import RANDOM_BUDGETS, random_budget_for, savings_vs_random
from streamsift.sim.streams import LabelledEvent
from streamsift.tools.synthetic import SyntheticStream

__all__ = ["OfflineConfig", "OfflineResult", "offline_argv", "run_offline"]

#: Points kept of each learning curve (for the plots).
CURVE_POINTS = 400


@dataclass(frozen=True)
class OfflineConfig:
    """Parameters of the offline savings run."""

    events: int = 20_000
    seeds: int = 3
    seed: int = 1
    budget: float = 0.04
    drift_region: str = "ap-south"
    drift_fraction: float = 0.4
    drift_shift: float = 1.5
    label_delay: int = 0
    annotator_noise: float = 0.0
    control_share: float = 0.1
    min_labels: int = 150
    drift_window: int = 500
    strategy: str = DEFAULT_STRATEGY
    base_model: str = DEFAULT_BASE_MODEL
    budgets: tuple[float, ...] = RANDOM_BUDGETS


@dataclass
class OfflineResult:
    """What the offline run measured (JSON round trip with :meth:`to_json`/`from_json`)."""

    config: dict[str, Any]
    strategy_accuracy: list[float]
    strategy_fraction: list[float]
    random_curve: dict[float, list[float]]
    full_accuracy: float
    production_accuracy: float
    seconds: float
    curves: dict[str, list[float]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Mean prequential accuracy of streamsift over the seeds."""
        return statistics.fmean(self.strategy_accuracy)

    @property
    def fraction(self) -> float:
        """Mean share of events streamsift labelled."""
        return statistics.fmean(self.strategy_fraction)

    @property
    def mean_curve(self) -> dict[float, float]:
        """Random sampling: budget to mean accuracy."""
        return {b: statistics.fmean(a) for b, a in sorted(self.random_curve.items())}

    @property
    def random_fraction_needed(self) -> float | None:
        """Budget random sampling needs for streamsift's accuracy (None: none reaches it)."""
        return random_budget_for(self.accuracy, self.mean_curve)

    @property
    def savings(self) -> float:
        """Savings factor (capped at ``max(budgets) / fraction`` if random never gets there)."""
        return savings_vs_random(self.accuracy, self.fraction, self.mean_curve)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["random_curve"] = {f"{b:g}": a for b, a in sorted(self.random_curve.items())}
        out["accuracy"], out["fraction"], out["savings"] = (
            self.accuracy,
            self.fraction,
            self.savings,
        )
        out["random_fraction_needed"] = self.random_fraction_needed
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> OfflineResult:
        return cls(
            config=dict(doc["config"]),
            strategy_accuracy=list(doc["strategy_accuracy"]),
            strategy_fraction=list(doc["strategy_fraction"]),
            random_curve={float(b): list(a) for b, a in doc["random_curve"].items()},
            full_accuracy=float(doc["full_accuracy"]),
            production_accuracy=float(doc["production_accuracy"]),
            seconds=float(doc["seconds"]),
            curves={k: list(v) for k, v in doc.get("curves", {}).items()},
        )


def _thin(values: Sequence[float], points: int = CURVE_POINTS) -> list[float]:
    step = max(1, len(values) // points)
    return [round(v, 4) for v in values[::step]]


def _stream(cfg: OfflineConfig) -> tuple[list[LabelledEvent], list[Proba], list[str]]:
    gen = SyntheticStream(
        seed=cfg.seed,
        drift_at=int(cfg.events * cfg.drift_fraction),
        drift_regions=(cfg.drift_region,),
        drift_shift=cfg.drift_shift,
    )
    events = list(gen.take(cfg.events))
    labelled = [LabelledEvent(dict(e.features), e.label, e.region) for e in events]
    probas: list[Proba] = [_proba(e.proba) for e in events]
    return labelled, probas, sorted({e.label for e in events})


def _proba(p: Mapping[str, float]) -> Proba:
    out: dict[Label, float] = {k: v for k, v in p.items()}
    return out


def _production(probas: Sequence[Proba]) -> Callable[[dict], Proba]:
    """The generator's own production probabilities, handed out in stream order.

    The simulation loop asks once per event, in order, so an iterator is exact.
    """
    it = iter(probas)
    return lambda x: next(it)


def run_offline(cfg: OfflineConfig, say: Callable[[str], None] = lambda m: None) -> OfflineResult:
    """Run streamsift and random sampling over the demo's generator (see module doc)."""
    started = time.perf_counter()
    events, probas, classes = _stream(cfg)
    kw: dict[str, Any] = {
        "classes": classes,
        "label_delay": cfg.label_delay,
        "annotator_noise": cfg.annotator_noise,
    }
    accs, fracs, curves = [], [], {}
    for s in range(cfg.seeds):
        sampler = Sampler(
            strategy=cfg.strategy,
            base_model=cfg.base_model,
            fraction=cfg.budget,
            control_share=cfg.control_share,
            min_labels=cfg.min_labels,
            drift_window=cfg.drift_window,
            seed=cfg.seed + s,
        )
        r = run(SamplerPolicy(sampler), events, seed=s, production=_production(probas), **kw)
        accs.append(r.accuracy)
        fracs.append(r.labelled_fraction)
        if s == 0:
            curves["streamsift"] = _thin(rolling(r.hits))
        say(f"streamsift seed {s}: accuracy {r.accuracy:.4f}, labelled {r.labelled_fraction:.2%}")
    same = round(statistics.fmean(fracs), 4)
    budgets = sorted(set(cfg.budgets) | {same})
    curve: dict[float, list[float]] = {}
    for b in budgets:
        curve[b] = []
        for s in range(cfg.seeds):
            policy = RandomPolicy(b, base_model=cfg.base_model, seed=cfg.seed * 1000 + s)
            r = run(policy, events, seed=s, production=_production(probas), **kw)
            curve[b].append(r.accuracy)
            if s == 0 and b == same:
                curves["random"] = _thin(rolling(r.hits))
        say(f"random {b:g}: accuracy {statistics.fmean(curve[b]):.4f}")
    full = run(FullPolicy(base_model=cfg.base_model, seed=cfg.seed), events, **kw)
    prod_hits = [max(p, key=p.__getitem__) == e.y for p, e in zip(probas, events, strict=True)]
    return OfflineResult(
        config=asdict(cfg),
        strategy_accuracy=accs,
        strategy_fraction=fracs,
        random_curve=curve,
        full_accuracy=full.accuracy,
        production_accuracy=sum(prod_hits) / len(prod_hits) if prod_hits else 0.0,
        seconds=time.perf_counter() - started,
        curves=curves,
    )


def offline_argv(cfg: DemoConfig, settings: Settings, json_path: Path) -> list[str]:
    """Command line of the offline run matching a demo's configuration and worker settings.

    Same generator and drift, the worker's strategy, base model, control share, cold
    start and drift window; the team's label delay (in events at the demo's rate) and
    mean annotator noise; the capacity's share of events as the budget.
    """
    args: dict[str, object] = {
        "events": cfg.offline_events,
        "seeds": cfg.sim_seeds,
        "seed": cfg.seed,
        "budget": round(cfg.target_fraction, 4),
        "drift-region": cfg.drift_region,
        "drift-fraction": cfg.drift_fraction,
        "drift-shift": cfg.drift_shift,
        "label-delay": round(cfg.label_delay_s * cfg.rate),
        "annotator-noise": round(sum(cfg.noise_by_annotator) / cfg.annotators, 4),
        "control-share": cfg.control_share,
        "min-labels": cfg.min_labels,
        "drift-window": settings.drift_window_events,
        "strategy": settings.strategy,
    }
    if settings.base_model != "default":
        args["base-model"] = settings.base_model
    argv = [sys.executable, "-m", "streamsift.demo.offline", "--nice", "10"]
    argv += ["--json", str(json_path)]
    for k, v in args.items():
        argv += [f"--{k}", str(v)]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamsift.demo.offline``: run and write the JSON result."""
    p = argparse.ArgumentParser(prog="python -m streamsift.demo.offline")
    p.add_argument("--json", required=True, help="where the result goes")
    p.add_argument("--nice", type=int, default=0, help="lower this process's priority")
    defaults = OfflineConfig()
    for name, value in asdict(defaults).items():
        if name == "budgets":
            continue
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = p.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    fields = {k: v for k, v in vars(args).items() if k not in ("json", "nice")}
    result = run_offline(OfflineConfig(**fields), say=lambda m: print(m, flush=True))
    out = Path(args.json)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)  # the demo never reads a half-written file
    print(f"savings {result.savings:.2f}x in {result.seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
