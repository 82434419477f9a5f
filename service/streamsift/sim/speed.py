"""Core speed, each figure against a baseline timed in the same run (``python -m``).

* ``decide`` per event (and ``confirm`` of the selected ones) for production
  strategies, the default online strategy and committee strategies (5 members),
  each Sampler warmed first; baseline: a plain loop calling the base model's
  ``predict_proba_one`` on the same events (what any online scorer pays).
* The simulator (events per second through the Sampler policy, prequential: predict,
  decide, learn the picks) against a plain prequential loop over the same events
  (predict every event, learn a uniform 5 % of them) with the same base model.

Each figure and its baseline are timed in alternation, one repeat of each in turn,
and the best of the repeats of each is kept: on a shared machine, load that comes
and goes then hits both alike, and the ratio holds where absolute times move by 2x.
``--cpu`` times with the process's CPU clock instead of the wall clock, which leaves
out the time the process waits for a core (not the slowdown of a shared cache).

Absolute times depend on the machine and its load; the ratios are what to compare.
Run ``python -m streamsift.sim.speed [--events N] [--repeats N] [--cpu] [--markdown PATH]``.
"""

from __future__ import annotations

import argparse
import os
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

#: A clock returning seconds.
Clock = Callable[[], float]


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


def _timed(fn: Callable[[], object], clock: Clock) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def _alternate(
    figure: Callable[[], float], baseline: Callable[[], float], repeats: int
) -> tuple[float, float]:
    """Best of ``repeats`` of each, the two timed in turn; each callable returns seconds."""
    best_figure = best_baseline = float("inf")
    for _ in range(repeats):
        best_baseline = min(best_baseline, baseline())
        best_figure = min(best_figure, figure())
    return best_figure, best_baseline


def _warm(sampler: Sampler, events: Sequence[LabelledEvent], proba: Sequence[Proba]) -> None:
    for i, ev in enumerate(events):
        core = CoreEvent(f"w{i}", ev.x, i * 0.001, proba=proba[i])
        d = sampler.decide(core)
        sampler.learn(LabelledItem(core.event_id, ev.x, ev.y, p=1.0, arm="bootstrap"))
        if d.selected:
            sampler.confirm(d, core.timestamp)
            sampler.label_arrived(core.timestamp)


def decide_lines(
    events: int = 3_000,
    repeats: int = 3,
    committee_size: int = 5,
    clock: Clock = time.perf_counter,
) -> list[SpeedLine]:
    """``decide`` µs/event per strategy against the base model's ``predict_proba_one``.

    Each repeat builds and warms a fresh Sampler (on 1,000 labelled events), then
    times ``decide`` (and ``confirm``) over ``events`` events, right after one timed
    pass of the baseline over the same events.
    """
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

    def baseline() -> float:
        predict = model.predict_proba_one
        t0 = clock()
        for c in cores:
            predict(dict(c.features))
        return clock() - t0

    cases = [
        ("production-margin", 0),
        ("production-entropy", 0),
        (DEFAULT_STRATEGY, 0),
        ("committee-vote-entropy", committee_size),
        ("committee-bald", committee_size),
    ]
    for name, k in cases:

        def figure(name: str = name, k: int = k) -> float:
            sampler = Sampler(strategy=name, committee_size=k, fraction=0.05, seed=0)
            _warm(sampler, warm, warm_p)
            decide, confirm = sampler.decide, sampler.confirm
            t0 = clock()
            for c in cores:
                d = decide(c)
                if d.selected:
                    confirm(d, c.timestamp)
            return clock() - t0

        best, base = _alternate(figure, baseline, repeats)
        label = f"decide, {name}" + (f" ({k} members)" if k else "")
        lines.append(
            SpeedLine(
                label,
                best / len(cores) * 1e6,
                "µs/event",
                f"{DEFAULT_BASE_MODEL} predict_proba_one",
                base / len(cores) * 1e6,
            )
        )
    return lines


def simulator_line(
    events: int = 20_000,
    spec: str = "synth:sea",
    repeats: int = 2,
    clock: Clock = time.perf_counter,
) -> SpeedLine:
    """Simulator events/s (default strategy) against a plain prequential loop (best of runs)."""
    stream = load_stream(spec, n=events, seed=0)
    config = SimConfig()
    prepared = prepare(stream, config)

    def plain() -> None:
        model = make_model(config.base_model, seed=0)
        rng = random.Random(0)
        for ev in prepared.events:
            model.predict_proba_one(ev.x)
            if rng.random() < config.budget:
                model.learn_one(ev.x, ev.y)

    seconds, base_seconds = _alternate(
        lambda: _timed(lambda: run_strategy(prepared, config), clock),
        lambda: _timed(plain, clock),
        repeats,
    )
    n = len(prepared.events)
    return SpeedLine(
        f"simulator, {DEFAULT_STRATEGY} at 5% ({spec})",
        n / seconds,
        "events/s",
        "plain prequential loop (predict all, learn 5% uniform)",
        n / base_seconds,
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


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not available on this platform
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print (or write) the table."""
    parser = argparse.ArgumentParser(prog="python -m streamsift.sim.speed")
    parser.add_argument("--events", type=int, default=3_000, help="timed decide events")
    parser.add_argument("--sim-events", type=int, default=20_000, help="simulator events")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (best of) per figure")
    parser.add_argument(
        "--cpu", action="store_true", help="time with the process CPU clock, not the wall clock"
    )
    parser.add_argument("--markdown", help="write the table here")
    args = parser.parse_args(argv)
    clock: Clock = time.process_time if args.cpu else time.perf_counter
    load_before = _load()
    lines = [
        *decide_lines(args.events, args.repeats, clock=clock),
        simulator_line(args.sim_events, repeats=max(2, args.repeats - 1), clock=clock),
    ]
    text = markdown(lines)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    print(text)
    clock_name = "process CPU time" if args.cpu else "wall clock"
    print(f"clock: {clock_name}; load average (1, 5, 15 min) before {load_before}, after {_load()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
