"""Core speed, each figure against a baseline timed in the same run (``python -m``).

* ``decide`` per event (and ``confirm`` of the selected ones) for production
  strategies, the default online strategy and committee strategies (5 members),
  each Sampler warmed first; baseline: a plain loop calling the base model's
  ``predict_proba_one`` on the same events (what any online scorer pays).
* The simulator (events per second through the Sampler policy, prequential: predict,
  decide, learn the picks) against a plain prequential loop over the same events
  (predict every event, learn a uniform 5 % of them) with the same base model.

Absolute times depend on the machine and its load; the ratios are what to compare.
Run ``python -m streamsift.sim.speed [--events N] [--markdown PATH]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streamsift.core.models import DEFAULT_BASE_MODEL, make_model
from streamsift.core.sampler import DEFAULT_STRATEGY, Sampler
from streamsift.core.types import CoreEvent, LabelledItem, Proba
from streamsift.sim.simulate import SimConfig, prepare, run_strategy
from streamsift.sim.streams import LabelledEvent, load_stream

__all__ = ["SpeedLine", "decide_lines", "markdown", "simulator_line"]


@dataclass(frozen=True)
class SpeedLine:
    """One figure, its baseline and ``ratio = value / baseline``."""

    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float

    @property
    def ratio(self) -> float:
        """Figure over baseline."""
        return self.value / self.baseline_value


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _warm(sampler: Sampler, events: Sequence[LabelledEvent], proba: Sequence[Proba]) -> None:
    for i, ev in enumerate(events):
        core = CoreEvent(f"w{i}", ev.x, i * 0.001, proba=proba[i])
        d = sampler.decide(core)
        sampler.learn(LabelledItem(core.event_id, ev.x, ev.y, p=1.0, arm="bootstrap"))
        if d.selected:
            sampler.confirm(d, core.timestamp)
            sampler.label_arrived(core.timestamp)


def decide_lines(events: int = 3_000, repeats: int = 3, committee_size: int = 5) -> list[SpeedLine]:
    """``decide`` µs/event per strategy against the base model's ``predict_proba_one``."""
    stream = load_stream("synth:sea", n=events + 1_000, seed=0)
    config = SimConfig()
    prepared = prepare(stream, config)
    assert prepared.production is not None
    warm, timed = prepared.events[:1_000], prepared.events[1_000:]
    warm_p, timed_p = prepared.production[:1_000], prepared.production[1_000:]
    cores = [
        CoreEvent(f"e{i}", ev.x, 10.0 + i * 0.001, proba=timed_p[i]) for i, ev in enumerate(timed)
    ]
    lines: list[SpeedLine] = []
    model = make_model(DEFAULT_BASE_MODEL, seed=0)
    for ev in warm:
        model.learn_one(ev.x, ev.y)

    def baseline() -> None:
        for c in cores:
            model.predict_proba_one(dict(c.features))

    base_us = _best(baseline, repeats) / len(cores) * 1e6
    cases = [
        ("production-margin", 0),
        ("production-entropy", 0),
        (DEFAULT_STRATEGY, 0),
        ("committee-vote-entropy", committee_size),
        ("committee-bald", committee_size),
    ]
    for name, k in cases:
        best = float("inf")
        for _ in range(repeats):
            sampler = Sampler(strategy=name, committee_size=k, fraction=0.05, seed=0)
            _warm(sampler, warm, warm_p)
            decide, confirm = sampler.decide, sampler.confirm
            t0 = time.perf_counter()
            for c in cores:
                d = decide(c)
                if d.selected:
                    confirm(d, c.timestamp)
            best = min(best, time.perf_counter() - t0)
        label = f"decide, {name}" + (f" ({k} members)" if k else "")
        lines.append(
            SpeedLine(
                label,
                best / len(cores) * 1e6,
                "µs/event",
                f"{DEFAULT_BASE_MODEL} predict_proba_one",
                base_us,
            )
        )
    return lines


def simulator_line(events: int = 20_000, spec: str = "synth:sea", repeats: int = 2) -> SpeedLine:
    """Simulator events/s (default strategy) against a plain prequential loop (best of runs)."""
    stream = load_stream(spec, n=events, seed=0)
    config = SimConfig()
    prepared = prepare(stream, config)
    seconds = min(run_strategy(prepared, config)[1] for _ in range(repeats))
    sim_eps = len(prepared.events) / seconds

    def plain() -> None:
        model = make_model(config.base_model, seed=0)
        rng = random.Random(0)
        for ev in prepared.events:
            model.predict_proba_one(ev.x)
            if rng.random() < config.budget:
                model.learn_one(ev.x, ev.y)

    base_eps = len(prepared.events) / _best(plain, repeats)
    return SpeedLine(
        f"simulator, {DEFAULT_STRATEGY} at 5% ({spec})",
        sim_eps,
        "events/s",
        "plain prequential loop (predict all, learn 5% uniform)",
        base_eps,
    )


def markdown(lines: Sequence[SpeedLine]) -> str:
    """A markdown table of the figures."""
    out = [
        "| measure | value | baseline (same run) | baseline value | ratio |",
        "|---|---|---|---|---|",
    ]
    for ln in lines:
        out.append(
            f"| {ln.name} | {ln.value:,.1f} {ln.unit} | {ln.baseline} "
            f"| {ln.baseline_value:,.1f} {ln.unit} | {ln.ratio:.2f}x |"
        )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print (or write) the table."""
    parser = argparse.ArgumentParser(prog="python -m streamsift.sim.speed")
    parser.add_argument("--events", type=int, default=3_000, help="timed decide events")
    parser.add_argument("--sim-events", type=int, default=20_000, help="simulator events")
    parser.add_argument("--markdown", help="write the table here")
    args = parser.parse_args(argv)
    lines = [*decide_lines(args.events), simulator_line(args.sim_events)]
    text = markdown(lines)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
