"""Replay the end-to-end test's setting through the core, with and without the gate.

The tier-3 end-to-end test runs a worker over 20,000 synthetic events (one region
drifting after 10,000) and checks that the published snapshots learn. This tool
replays that setting in process, through the same core objects (the Sampler the
worker builds from settings, :class:`~streamsift.core.promotion.PromotionGate`), on a
simulated clock, so that the learner's two designs can be compared over many seeds:

* ``in-place`` -- the former learner: it trains the sampler's own scoring model and
  publishes every snapshot; the gate judges each snapshot without acting, which
  shows what it would have withheld;
* ``gated`` -- the learner now: it trains a copy, the gate decides, and the sampler
  scores with the last published model only.

Each published model is scored on fresh events of the drifted stream. Run::

    python -m streamsift.bench.promotion_replay --seeds 0-9
"""

from __future__ import annotations

import argparse
import collections
import math
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from streamsift.commands.args import seed_list
from streamsift.config import Settings
from streamsift.core.promotion import PromotionGate
from streamsift.core.types import LabelledItem
from streamsift.factory import build_sampler
from streamsift.stream.snapshots import copy_model
from streamsift.tools.synthetic import SyntheticEvent, SyntheticStream

__all__ = ["ReplayResult", "main", "replay"]

Mode = Literal["in-place", "gated"]


@dataclass
class ReplayResult:
    """One replay: the published models' accuracy and the gate's verdicts."""

    seed: int
    mode: Mode
    labels: int = 0
    #: (labels seen, accuracy on fresh events) of every published model.
    published: list[tuple[int, float]] = field(default_factory=list)
    #: Snapshots the gate withheld (gated) or would have withheld (in-place), as
    #: (labels seen, fresh accuracy of the candidate, of the published model,
    #: the gate's accuracy of the candidate, of the published model).
    flagged: list[tuple[int, float, float, float, float]] = field(default_factory=list)

    def lowest(self, min_labels: int) -> float:
        """Lowest accuracy of a published model with at least ``min_labels`` labels
        (NaN when there is none)."""
        return min((a for n, a in self.published if n >= min_labels), default=math.nan)

    def late_median(self) -> float:
        """Median accuracy of the models published in the second half (by labels)."""
        if not self.published:
            return math.nan
        seen = self.published[-1][0]
        return statistics.median(a for n, a in self.published if n >= seen / 2)


def replay(
    seed: int,
    mode: Mode,
    *,
    events: int = 20_000,
    drift_at: int = 10_000,
    held_out: int = 2_000,
    snapshot_every: int = 50,
    min_labels: int = 100,
    gate: PromotionGate | None = None,
) -> ReplayResult:
    """Replay the end-to-end test's stream with sampler/tree seed ``seed``.

    The settings are the test's: 1,000 events/s, capacity 30 labels/s, control share
    0.1, drift windows of 400 events with a boost of 4 decaying over 10 windows;
    labels come back after a log-normal delay of about 0.3 s.
    """
    settings = Settings(
        capacity_per_hour=108_000,
        min_labels=min_labels,
        control_share=0.1,
        drift_window_events=400,
        drift_boost=4.0,
        drift_boost_decay_windows=10,
        seed=seed,
    )
    sampler = build_sampler(settings)
    stream = SyntheticStream(seed=1, rate=1_000.0, drift_at=drift_at, drift_regions=("ap-south",))
    fresh = [stream.event_at(i) for i in range(events, events + held_out)]
    gate = gate if gate is not None else PromotionGate()
    rng = random.Random(seed)
    result = ReplayResult(seed, mode)

    def accuracy(model: Any) -> float:
        return sum(model.predict_one(e.features) == e.label for e in fresh) / len(fresh)

    model = copy_model(sampler.model) if mode == "gated" else sampler.model
    published: Any = None
    arriving: collections.deque[tuple[float, LabelledItem]] = collections.deque()
    since = 0
    for i in range(events):
        ev: SyntheticEvent = stream.event_at(i)
        now = ev.timestamp
        while arriving and arriving[0][0] <= now:
            item = arriving.popleft()[1]
            sampler.learn(item, model)
            gate.observe(item.features, item.label)
            since += 1
            if since < snapshot_every:
                continue
            since = 0
            verdict = gate.judge(model, published)
            if not verdict.promote:
                result.flagged.append(
                    (
                        model.labels_seen,
                        accuracy(model),
                        accuracy(published),
                        verdict.candidate_accuracy,
                        verdict.published_accuracy,
                    )
                )
                if mode == "gated":
                    continue
            model.bump_version()
            published = copy_model(model)
            result.published.append((published.labels_seen, accuracy(published)))
            if mode == "gated":
                sampler.swap_model(copy_model(model))
        core = ev.to_core_event()
        decision = sampler.decide(core, now=now)
        if decision.selected:
            sampler.confirm(decision, now)
            at = now + rng.lognormvariate(-1.2, 0.2)
            item = LabelledItem(
                event_id=ev.event_id,
                features=ev.features,
                label=ev.label,
                p=decision.p,
                arm=decision.arm,
                region=decision.region,
                production_proba=core.proba,
                requested_at=now,
                labelled_at=at,
                at_floor=decision.at_floor,
            )
            arriving.append((at, item))
    result.labels = model.labels_seen
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Replay each seed in both modes and print a markdown table."""
    parser = argparse.ArgumentParser(prog="python -m streamsift.bench.promotion_replay")
    parser.add_argument(
        "--seeds", type=seed_list, default=list(range(10)), help="e.g. 0-9 or 0,3,5 (default 0-9)"
    )
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    print(
        "| seed | mode | labels | snapshots | withheld | lowest after bootstrap"
        " | second-half median |"
    )
    print("|---|---|---|---|---|---|---|")
    flagged = []
    for seed in args.seeds:
        for mode in ("in-place", "gated"):
            r = replay(seed, mode, events=args.events, drift_at=args.events // 2)
            word = "would withhold" if mode == "in-place" else "withheld"
            print(
                f"| {seed} | {mode} | {r.labels} | {len(r.published)} | {len(r.flagged)} ({word})"
                f" | {r.lowest(100):.3f} | {r.late_median():.3f} |"
            )
            flagged += [(seed, mode, f) for f in r.flagged]
    for seed, mode, (n, cand, pub, gc, gp) in flagged:
        print(
            f"seed {seed} {mode}: at {n} labels the candidate {cand:.3f} on fresh events"
            f" against {pub:.3f} published (latest labels: {gc:.3f} against {gp:.3f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
