"""In-process micro-benchmark of the scorer's per-batch path (no broker).

``Scorer.process`` runs over batches of synthetic inference events
(:class:`~streamsift.tools.synthetic.SyntheticStream` payloads, as
:class:`~streamsift.stream.records.SourceRecord`) with a
:class:`~streamsift.stream.ports.MemorySink` (acks resolve at once), twice:

* ``stream layer``: with a constant-time sampler stub (selects every 20th event),
  so the figure is the transport's own cost per event (decode + validation,
  dedupe, decision-log encoding, requests, sends/acks, metrics);
* ``full``: with the Sampler built by :func:`streamsift.factory.build_sampler`
  from the default settings, warmed with labels.

Each is reported in µs per event (best repeat) and as a ratio against
``json.loads`` of the same payloads, timed in the same process just before and
after every repeat (the median of the per-repeat ratios), which is what to
compare across machines; ``json.loads`` is shown as best figure / median ratio.

With ``--decide``, the sampler alone as well: ``Sampler.decide`` called per event
against ``Sampler.decide_batch`` per batch, on copies of one warm sampler and of one
grown on 5,000 labels (a larger tree), with the same events, times and baseline.

Run: ``python -m streamsift.bench.scorer_bench [--events N] [--batch B] [--cpu]
[--decide]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.core.types import CoreEvent, Decision, LabelledItem
from streamsift.metrics import Metrics
from streamsift.stream.decisions import DecisionBatch
from streamsift.stream.ports import MemorySink
from streamsift.stream.records import SourceRecord
from streamsift.stream.scorer import Scorer
from streamsift.tools.synthetic import SyntheticEvent, SyntheticStream

__all__ = ["run_scorer_bench"]

TOPIC = "streamsift.inference-events"


@dataclass
class _State:
    event_rate: float = 10.0
    boosts: dict[str, float] | None = None


@dataclass
class _Model:
    version: int = 0


class _StubSampler:
    """Constant-time decisions: every 20th event is selected (arm ``active``)."""

    def __init__(self) -> None:
        self.model = _Model()
        self.state = _State()
        self._i = 0

    def decide(self, event: CoreEvent, now: float | None = None) -> Decision:
        self._i += 1
        chosen = self._i % 20 == 0
        return Decision(
            event_id=event.event_id,
            selected=chosen,
            arm="active" if chosen else "none",
            score=0.9 if chosen else 0.1,
            p=0.05,
            region=event.region or "r0",
            reason="selected" if chosen else "below_threshold",
            model_version=0,
            strategy="stub",
        )

    def decisions(
        self, events: Sequence[CoreEvent], now: Sequence[float]
    ) -> Iterator[Decision | Exception]:
        """``decide`` of each event, lazily (the shape of ``Sampler.decisions``)."""
        for event, t in zip(events, now, strict=True):
            yield self.decide(event, t)

    def confirm(self, decision: Decision, now: float) -> None:
        return None

    def take_extra(self, decision: Decision, now: float) -> bool:
        return True


class _NoReader:
    async def decision_tail(self, partition: int, want_ids: int) -> list[DecisionBatch]:
        return []

    async def request_ids_since(self, since: float) -> set[str]:
        return set()


def memory_scorer(
    sampler: Any,
    settings: Settings,
    *,
    worker_id: str = "bench",
    clock: Callable[[], float] = time.time,
) -> tuple[Scorer, MemorySink]:
    """A scorer over 4 input partitions sending to a memory sink, with no decision log
    to read back (also the scorer of :mod:`streamsift.bench.decisions_check`)."""
    sink = MemorySink()
    scorer = Scorer(
        settings,
        sampler,
        sink,
        Metrics(CollectorRegistry()),
        _NoReader(),
        input_partitions=4,
        worker_id=worker_id,
        clock=clock,
    )
    return scorer, sink


def _warm_sampler(settings: Settings, stream: SyntheticStream) -> Any:
    from streamsift.factory import build_sampler

    sampler = build_sampler(settings)
    for ev in stream.take(3_000):
        sampler.decide(ev.to_core_event())
        sampler.learn(LabelledItem(ev.event_id, ev.features, ev.label, p=1.0, arm="bootstrap"))
        if sampler.state.warm:
            break
    return sampler


def _process_us(
    make: Callable[[], tuple[Scorer, MemorySink]],
    batches: Sequence[Sequence[SourceRecord]],
    n: int,
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Best of ``repeats`` runs (a fresh scorer each, so dedupe never skips), µs/event."""
    best = float("inf")
    for _ in range(repeats):
        scorer, _sink = make()

        async def go(scorer: Scorer = scorer) -> None:
            for b in batches:
                await scorer.process(b)

        t0 = clock()
        asyncio.run(go())
        best = min(best, clock() - t0)
    return best / n * 1e6


def _loads_us(
    payloads: Sequence[bytes], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    loads = json.loads
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        for p in payloads:
            loads(p)
        best = min(best, clock() - t0)
    return best / len(payloads) * 1e6


def run_scorer_bench(
    n_events: int = 20_000,
    batch: int = 500,
    seed: int = 0,
    repeats: int = 3,
    cpu: bool = False,
    decide: bool = False,
) -> dict[str, Any]:
    """Time ``Scorer.process``; return ``{"lines": [...], "n_events", "batch"}``.

    ``decide``: also time the sampler alone, ``Sampler.decide`` per event against
    ``Sampler.decide_batch`` per batch (a warm sampler and one grown on 5,000 labels).

    ``cpu``: time with the process CPU clock instead of the wall clock (what a
    shared, loaded machine disturbs least: time spent waiting for a core is not
    counted).
    """
    clock = time.process_time if cpu else time.perf_counter
    stream = SyntheticStream(seed=seed)
    settings = Settings(seed=seed)
    warm_stream = SyntheticStream(seed=seed + 1)
    events = stream.take(n_events)
    payloads = [e.to_json() for e in events]
    records = [
        SourceRecord(TOPIC, i % 4, i // 4, e.event_id.encode(), p, 1.7e9 + i * 0.01)
        for i, (e, p) in enumerate(zip(events, payloads, strict=True))
    ]
    batches = [records[i : i + batch] for i in range(0, len(records), batch)]
    n = len(records)
    lines = []
    for name, make in (
        (
            "scorer.process, stream layer (stub sampler)",
            lambda: memory_scorer(_StubSampler(), settings),
        ),
        (
            "scorer.process, full (default Sampler, warm)",
            lambda: memory_scorer(_warm_sampler(settings, warm_stream), settings),
        ),
    ):
        # each repeat is bracketed by its own baseline, so that a busy machine slows
        # figure and baseline alike; the median ratio is reported
        figures, ratios = [], []
        for _ in range(repeats):
            before = _loads_us(payloads, 1, clock)
            us = _process_us(make, batches, n, 1, clock)
            after = _loads_us(payloads, 1, clock)
            figures.append(us)
            ratios.append(us / ((before + after) / 2))
        base = min(figures) / statistics.median(ratios)
        lines.append(
            {
                "name": name,
                "us_per_event": round(min(figures), 2),
                "json_loads_us": round(base, 3),
                "ratio": round(statistics.median(ratios), 2),
            }
        )
    if decide:
        lines.extend(_decide_lines(settings, events, batch, repeats, clock, payloads))
    return {"lines": lines, "n_events": n, "batch": batch}


def _grown_sampler(settings: Settings, stream: SyntheticStream, labels: int) -> Any:
    """The default Sampler after ``labels`` labels (a grown tree, not just a warm one)."""
    from streamsift.factory import build_sampler

    sampler = build_sampler(settings)
    for ev in stream.take(labels):
        sampler.learn(LabelledItem(ev.event_id, ev.features, ev.label, p=1.0, arm="bootstrap"))
    return sampler


def _decide_lines(
    settings: Settings,
    events: Sequence[SyntheticEvent],
    batch: int,
    repeats: int,
    clock: Callable[[], float],
    payloads: Sequence[bytes],
) -> list[dict[str, Any]]:
    """The sampler alone: ``decide`` per event against ``decide_batch`` per batch, on
    copies of one sampler (warm, then grown on 5,000 labels), same events and times."""
    cores = [e.to_core_event() for e in events]
    times = [1.7e9 + i * 0.01 for i in range(len(cores))]
    n = len(cores)
    lines = []
    for label, sampler in (
        ("warm", _warm_sampler(settings, SyntheticStream(seed=settings.seed + 1))),
        ("5,000 labels", _grown_sampler(settings, SyntheticStream(seed=settings.seed + 2), 5_000)),
    ):
        blob = pickle.dumps(sampler)

        def one(s: Any) -> None:
            decide = s.decide
            for e, t in zip(cores, times, strict=True):
                decide(e, t)

        def many(s: Any) -> None:
            for k in range(0, n, batch):
                s.decide_batch(cores[k : k + batch], times[k : k + batch])

        for name, run in (("decide per event", one), ("decide_batch", many)):
            figures, ratios = [], []
            for _ in range(repeats):
                copy = pickle.loads(blob)
                before = _loads_us(payloads, 1, clock)
                t0 = clock()
                run(copy)
                us = (clock() - t0) / n * 1e6
                after = _loads_us(payloads, 1, clock)
                figures.append(us)
                ratios.append(us / ((before + after) / 2))
            base = min(figures) / statistics.median(ratios)
            lines.append(
                {
                    "name": f"Sampler.{name} ({label})",
                    "us_per_event": round(min(figures), 2),
                    "json_loads_us": round(base, 3),
                    "ratio": round(statistics.median(ratios), 2),
                }
            )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="process CPU clock, not wall clock")
    parser.add_argument(
        "--decide", action="store_true", help="also the sampler alone: decide vs decide_batch"
    )
    args = parser.parse_args(argv)
    out = run_scorer_bench(
        args.events, args.batch, repeats=args.repeats, cpu=args.cpu, decide=args.decide
    )
    print(f"{out['n_events']} events, batches of {out['batch']}")
    for line in out["lines"]:
        print(
            f"  {line['name']:<50} {line['us_per_event']:>9.2f} µs/event"
            f"  json.loads {line['json_loads_us']:.3f} µs  ratio {line['ratio']:.2f}x"
        )


if __name__ == "__main__":
    main()
