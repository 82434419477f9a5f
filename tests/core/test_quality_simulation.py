"""Tier 1 simulation: 5 annotators, 2 of them with 30% label noise, labelling a stream.

Every outgoing request goes through the gold mixer and the redundancy policy, labels
go through the LabelCollector, and extra opinions are routed to an annotator who has
not labelled the item yet. Ground truth is known, so we compare the accuracy of the
aggregated labels (what would train the model) with the raw first label of each item
(what would train it without quality control).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import pytest

from streamsift.core.quality import (
    Aggregated,
    GoldItem,
    GoldMixer,
    GoldSet,
    HeldOut,
    LabelCollector,
    NeedsMoreOpinions,
    Outcome,
    Policy,
    RedundancyPolicy,
)

NOISE = {"a0": 0.0, "a1": 0.0, "a2": 0.0, "a3": 0.3, "a4": 0.3}
N_CLASSES = 3


@dataclass
class SimResult:
    raw_accuracy: float
    aggregated_accuracy: float
    late_accuracy: float  # aggregated accuracy over the second half of the stream
    n_aggregated: int
    n_held_out: int
    collector: LabelCollector


@functools.cache
def simulate(policy: Policy, seed: int = 11, n_items: int = 3000) -> SimResult:
    rng = random.Random(seed)
    gold = GoldSet(GoldItem(f"g{j}", {}, rng.randrange(N_CLASSES)) for j in range(50))
    mixer = GoldMixer(gold, rate=0.05, seed=seed)
    redundancy = RedundancyPolicy(share=0.10, k=3, seed=seed)
    col = LabelCollector(timeout=100.0, gold_min_answers=10, flag_below=0.8, policy=policy)
    truth: dict[str, int] = {}
    asked: dict[str, set[str]] = {}
    raw: list[bool] = []
    agg: list[tuple[float, bool]] = []
    held = 0

    def answer(annotator: str, t: int) -> int:
        if rng.random() < NOISE[annotator]:
            return rng.choice([c for c in range(N_CLASSES) if c != t])
        return t

    def ask(item: str, n: int, now: float) -> list[Outcome]:
        free = [a for a in sorted(NOISE) if a not in asked[item]]
        out: list[Outcome] = []
        for a in rng.sample(free, min(n, len(free))):
            asked[item].add(a)
            label = answer(a, truth[item])
            if item.startswith("e") and len(asked[item]) == 1:
                raw.append(label == truth[item])
            out += col.add_label(item, a, label, now)
        return out

    for j in range(n_items):
        now = float(j)
        request = mixer.draw()
        if request is not None:
            item, n = request.request_id, 1
            truth[item] = request.gold.label  # type: ignore[assignment]
            col.expect(item, now, gold_label=request.gold.label)
        else:
            item = f"e{j}"
            truth[item] = rng.randrange(N_CLASSES)
            n = redundancy.decide(rng.random())
            col.expect(item, now, n_annotators=n)
        asked[item] = set()
        outcomes = ask(item, n, now) + col.poll(now)
        while outcomes:
            o = outcomes.pop(0)
            if isinstance(o, NeedsMoreOpinions):
                outcomes += ask(o.item_id, 1, now)
            elif isinstance(o, Aggregated):
                agg.append((now, o.label == truth[o.item_id]))
            elif isinstance(o, HeldOut):
                held += 1
    for o in col.poll(float("inf")):
        held += isinstance(o, HeldOut)
    late = [ok for t, ok in agg if t >= n_items / 2]
    return SimResult(
        raw_accuracy=sum(raw) / len(raw),
        aggregated_accuracy=sum(ok for _, ok in agg) / len(agg),
        late_accuracy=sum(late) / len(late),
        n_aggregated=len(agg),
        n_held_out=held,
        collector=col,
    )


@pytest.mark.parametrize("policy", ["exclude", "downweight"])
def test_quality_control_cleans_noisy_annotators(policy: Policy) -> None:
    r = simulate(policy)
    col = r.collector
    # Raw single labels: 3/5 perfect, 2/5 at 70% -> about 0.88.
    assert 0.86 < r.raw_accuracy < 0.90
    # With quality control the error rate drops several-fold, to zero once flagged.
    assert r.aggregated_accuracy > 0.97
    assert 1 - r.aggregated_accuracy < (1 - r.raw_accuracy) / 4
    assert r.late_accuracy >= 0.999
    assert col.flagged == frozenset({"a3", "a4"})
    stats = {s.annotator: s for s in col.annotators}
    for a in ("a3", "a4"):
        assert stats[a].flagged
        ds_acc = stats[a].ds_accuracy
        assert ds_acc is not None and abs(ds_acc - 0.7) < 0.05
        gold_acc = stats[a].gold_accuracy
        assert gold_acc is not None and gold_acc < 0.8
    for a in ("a0", "a1", "a2"):
        assert not stats[a].flagged and stats[a].weight == 1.0
    # Held-out items are the price: a small share of the stream.
    assert r.n_held_out < 0.1 * r.n_aggregated
    # Every extra label is accounted for by kind.
    extra = col.extra_labels
    assert extra["gold"] == sum(s.n_gold for s in stats.values()) > 0
    assert extra["redundancy"] > 0
    assert extra["extra_opinion"] > 0 and extra["second_opinion"] == 0


def test_simulation_exact_seeded_figures() -> None:
    figures = {}
    policies: tuple[Policy, ...] = ("exclude", "downweight")
    for policy in policies:
        r = simulate(policy)
        figures[policy] = (
            round(r.raw_accuracy, 4),
            round(r.aggregated_accuracy, 4),
            r.n_aggregated,
            r.n_held_out,
            {s.annotator: s.flagged_by for s in r.collector.annotators if s.flagged},
        )
    # (raw accuracy, aggregated accuracy, items aggregated, items held out, flagged)
    assert figures == {
        "exclude": (0.8769, 0.9742, 2635, 218, {"a3": "gold", "a4": "gold"}),
        "downweight": (0.8769, 0.9725, 2768, 85, {"a3": "gold", "a4": "gold"}),
    }
    assert simulate("exclude").late_accuracy == 1.0
