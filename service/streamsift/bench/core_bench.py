"""In-process micro-benchmarks of the core, each against a baseline timed in the same run.

No broker, no I/O: absolute times depend on the machine, so every figure is
reported next to a baseline measured on the same events in the same process, and
as a ratio (figure / baseline), which is what to compare across machines.

* ``decide`` per event (plus ``confirm`` of the selected ones, as the scorer does)
  for the production-margin strategy, the default strategy and a 5-member
  committee (vote entropy), each Sampler built by
  :func:`streamsift.factory.build_sampler` and warmed with labels first; baseline:
  ``json.loads`` of the same event's payload (what any consumer pays anyway),
  re-timed just before and after each figure (their mean is the baseline).
* contract validation (``decode(InferenceEvent, payload)``) against the same
  baseline.
* the synthetic generator (events/s, to JSON) against ``json.dumps`` of the same
  messages; the simulated labelling team (per label) against the oracle alone;
  the offline simulator (events/s through the Sampler policy) against the random
  policy on the same stream and base model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from streamsift.config import Settings
from streamsift.core.types import LabelledItem
from streamsift.factory import build_sampler
from streamsift.schemas import InferenceEvent, decode
from streamsift.tools.concept import true_label
from streamsift.tools.labelsim import LabellingTeam
from streamsift.tools.synthetic import SyntheticEvent, SyntheticStream

__all__ = ["BenchLine", "run_core_bench"]


@dataclass(frozen=True, slots=True)
class BenchLine:
    """One measured figure next to its baseline (``ratio = value / baseline_value``)."""

    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    ratio: float
    n: int
    note: str = ""


def _best_us(fn: Callable[[], object], n: int, repeats: int) -> float:
    """Best of ``repeats`` runs of ``fn`` (which processes ``n`` items), in µs per item."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def _decide_us(
    settings: Settings, warm: Sequence[SyntheticEvent], events: Sequence[Any]
) -> tuple[float, str]:
    sampler = build_sampler(settings)
    for ev in warm:
        core = ev.to_core_event()
        sampler.decide(core)
        sampler.learn(LabelledItem(ev.event_id, ev.features, ev.label, p=1.0, arm="bootstrap"))
        if sampler.state.warm:
            break
    note = "warm" if sampler.state.warm else "cold (uniform sampling)"
    decide, confirm = sampler.decide, sampler.confirm
    t0 = time.perf_counter()
    for core in events:
        d = decide(core)
        if d.selected:
            confirm(d, core.timestamp)
    return (time.perf_counter() - t0) / len(events) * 1e6, note


def _line(
    name: str, value: float, unit: str, base: str, base_value: float, n: int, note: str = ""
) -> BenchLine:
    return BenchLine(name, value, unit, base, base_value, value / base_value, n, note)


def _simulator(events: Sequence[SyntheticEvent]) -> tuple[float, float]:
    from streamsift.core.sampler import Sampler
    from streamsift.sim.engine import run
    from streamsift.sim.policies import RandomPolicy, SamplerPolicy
    from streamsift.sim.streams import LabelledEvent

    stream = [LabelledEvent(e.features, e.label, e.region) for e in events]
    classes = ["fraud", "legit", "review"]
    t0 = time.perf_counter()
    run(SamplerPolicy(Sampler(fraction=0.05, seed=0)), stream, classes=classes)
    sampler_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run(RandomPolicy(0.05, base_model="hoeffding", seed=0), stream, classes=classes)
    random_s = time.perf_counter() - t0
    return len(stream) / sampler_s, len(stream) / random_s


def run_core_bench(n_events: int = 20_000, seed: int = 0, repeats: int = 3) -> dict[str, Any]:
    """Run every micro-benchmark; return ``{"lines": [...], "n_events": ...}``."""
    stream = SyntheticStream(seed=seed)
    warm = stream.take(3_000)
    events = stream.take(n_events)
    payloads = [e.to_json() for e in events]
    cores = [e.to_core_event() for e in events]
    n = len(events)
    lines: list[BenchLine] = []

    loads = json.loads
    json_us = _best_us(lambda: [loads(p) for p in payloads], n, repeats)
    noop_us = _best_us(lambda: [None for _ in payloads], n, repeats)
    validate_us = _best_us(lambda: [decode(InferenceEvent, p) for p in payloads], n, repeats)
    lines.append(_line("json.loads (baseline)", json_us, "µs/event", "no-op loop", noop_us, n))
    lines.append(
        _line("validate InferenceEvent", validate_us, "µs/event", "json.loads", json_us, n)
    )
    for label, kw in (
        ("decide production-margin", {"strategy": "production-margin"}),
        ("decide online-margin (default)", {}),
        (
            "decide committee-vote-entropy x5",
            {"strategy": "committee-vote-entropy", "committee_size": 5},
        ),
    ):
        # the baseline is re-timed right before and after, so that a busy machine
        # slows figure and baseline alike
        before = _best_us(lambda: [loads(p) for p in payloads], n, repeats)
        us, note = _decide_us(Settings(seed=seed, **kw), warm, cores)
        after = _best_us(lambda: [loads(p) for p in payloads], n, repeats)
        lines.append(_line(label, us, "µs/event", "json.loads", (before + after) / 2, n, note))

    gen_stream = SyntheticStream(seed=seed + 1)
    gen_us = _best_us(lambda: [e.to_json() for e in gen_stream.clone().take(n)], n, repeats)
    messages = [e.to_message() for e in events]
    dumps_us = _best_us(
        lambda: [json.dumps(m, separators=(",", ":")) for m in messages], n, repeats
    )
    lines.append(
        _line(
            "synthetic generator → JSON",
            gen_us,
            "µs/event",
            "json.dumps",
            dumps_us,
            n,
            f"{1e6 / gen_us:,.0f} events/s",
        )
    )

    def team_run() -> None:
        team = LabellingTeam(annotators=5, noise=0.1, max_backlog=n + 1, seed=seed)
        for e in events:
            team.submit(e.event_id, e.features, 0.0)
        team.drain()

    team_us = _best_us(team_run, n, repeats)
    oracle_us = _best_us(lambda: [true_label(e.features) for e in events], n, repeats)
    lines.append(_line("label-sim submit+emit", team_us, "µs/label", "true_label", oracle_us, n))

    sim_n = min(n, 5_000)
    sampler_eps, random_eps = _simulator(events[:sim_n])
    lines.append(
        BenchLine(
            "offline simulator (Sampler policy)",
            sampler_eps,
            "events/s",
            "random policy",
            random_eps,
            sampler_eps / random_eps,
            sim_n,
        )
    )
    return {"n_events": n, "seed": seed, "lines": [asdict(line) for line in lines]}


def render_markdown(result: dict[str, Any]) -> str:
    """The core results as a markdown table."""
    rows = [
        "| benchmark | value | baseline (same run) | ratio | note |",
        "|---|---:|---|---:|---|",
    ]
    for line in result["lines"]:
        rows.append(
            f"| {line['name']} | {line['value']:,.2f} {line['unit']} |"
            f" {line['baseline']}: {line['baseline_value']:,.2f} | {line['ratio']:.2f}x |"
            f" {line['note']} |"
        )
    return "\n".join(rows) + "\n"
