"""Tier 2: label quality control in the stream service (no broker).

The scorer injects gold requests and sets ``annotators_needed``; the join drives the
core's LabelCollector: aggregates train, gold never does, contradictions of a
confident model get a second opinion, the collector's item state survives a
restart through the store, annotator quality reaches the metrics.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.schemas import LabelRequest, PendingItem
from streamsift.stream.convert import decode_labelled
from streamsift.stream.join import Joiner, StoreEntry
from streamsift.stream.ports import MemorySink
from streamsift.stream.records import SourceRecord
from streamsift.stream.scorer import Scorer
from tests.stream.fakes import FakeModel, FakeReader, FakeSampler, event_bytes, label_bytes, value

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
TRAINING = "streamsift.training"
REQUESTS = "streamsift.label-requests"


def gold_file(tmp_path: Path, n: int = 5) -> str:
    path = tmp_path / "gold.jsonl"
    rows = [
        {"id": f"g{i}", "features": {"age": 30 + i, "plan": "basic", "secret": "x"}, "label": "no"}
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def scorer(**settings: Any) -> tuple[Scorer, FakeSampler, MemorySink, CollectorRegistry]:
    s = Settings(**{"labeller_features": ("age", "plan"), "dedupe_horizon": 10_000, **settings})
    sampler, sink, reg = FakeSampler(), MemorySink(), CollectorRegistry()
    sc = Scorer(
        s, sampler, sink, Metrics(reg), FakeReader(), input_partitions=1, worker_id="w",
        clock=lambda: T0,
    )  # fmt: skip
    return sc, sampler, sink, reg


def score(sc: Scorer, n: int) -> None:
    records = [
        SourceRecord("streamsift.inference-events", 0, i, b"k", event_bytes(f"e{i}", select=True))
        for i in range(n)
    ]
    asyncio.run(sc.process(records))


def test_gold_requests_are_injected_at_the_rate_and_look_like_the_others(tmp_path: Path) -> None:
    sc, sampler, sink, reg = scorer(
        gold_path=gold_file(tmp_path), gold_rate=0.2, redundancy_share=0.0
    )
    score(sc, 500)
    requests = [LabelRequest.model_validate_json(m.value or b"") for m in sink.on(REQUESTS)]
    pendings = {
        p.event_id: p
        for p in (
            PendingItem.model_validate_json(m.value or b"") for m in sink.on("streamsift.pending")
        )
    }
    gold = [r for r in requests if pendings[r.event_id].gold_label is not None]
    real = [r for r in requests if pendings[r.event_id].gold_label is None]
    assert len(real) == 500
    assert 0.14 < len(gold) / len(real) < 0.26  # gold_rate of the requests, seeded mixer
    assert value(reg, "quality_extra_labels_total", kind="gold") == len(gold)
    raw = {
        json.loads(m.value or b"")["event_id"]: json.loads(m.value or b"")
        for m in sink.on(REQUESTS)
    }
    g, r = gold[0], real[0]
    assert raw[g.event_id].keys() == raw[r.event_id].keys()  # same fields, nothing extra
    assert len(g.request_id) == len(r.request_id) and g.event_id not in {"g0", "g1"}
    assert set(g.features) == {"age", "plan"}  # allow-listed like any request
    assert (g.arm, g.p, g.score, g.strategy, g.annotators_needed) == (
        r.arm,
        r.p,
        r.score,
        r.strategy,
        1,
    )
    assert pendings[g.event_id].gold_label == "no" and "secret" in pendings[g.event_id].features
    assert len(sampler.confirmed) == len(real) + len(gold)  # gold spends capacity too
    assert not any(d.startswith("g") for d in sampler.decided)


def test_redundant_items_ask_k_annotators_and_confirm_k_labels() -> None:
    sc, sampler, sink, reg = scorer(redundancy_share=1.0, redundancy_k=3)
    score(sc, 10)
    requests = [LabelRequest.model_validate_json(m.value or b"") for m in sink.on(REQUESTS)]
    assert {r.annotators_needed for r in requests} == {3}
    assert {
        PendingItem.model_validate_json(m.value or b"").annotators_needed
        for m in sink.on("streamsift.pending")
    } == {3}
    assert len(sampler.confirmed) == 30
    assert value(reg, "quality_extra_labels_total", kind="redundancy") == 20


class CountingSampler(FakeSampler):
    """Notes how many label requests were already sent at each ``take_extra``."""

    def __init__(self, sink: MemorySink, capacity: int) -> None:
        super().__init__()
        self.sink = sink
        self.extra_capacity = capacity
        self.requests_at_take: list[int] = []

    def take_extra(self, decision: Any, now: float) -> bool:
        self.requests_at_take.append(len(self.sink.on(REQUESTS)))
        return super().take_extra(decision, now)


def test_extra_annotators_take_capacity_before_the_request_and_refusals_lower_k() -> None:
    sc, _, sink, reg = scorer(redundancy_share=1.0, redundancy_k=3)
    sampler = sc.sampler = CountingSampler(sink, capacity=3)
    score(sc, 5)
    requests = [LabelRequest.model_validate_json(m.value or b"") for m in sink.on(REQUESTS)]
    pendings = [
        PendingItem.model_validate_json(m.value or b"") for m in sink.on("streamsift.pending")
    ]
    # e0 gets its two extra annotators, e1 one (then the bucket is empty), the rest none
    assert [r.annotators_needed for r in requests] == [3, 2, 1, 1, 1]
    assert [p.annotators_needed for p in pendings] == [3, 2, 1, 1, 1]
    assert set(sampler.requests_at_take) == {0}  # every token taken before any request
    # one token per extra label taken (3), one confirm per selection after its send (5):
    # the extras are not confirmed a second time
    assert len(sampler.confirmed) == 3 + 5
    assert value(reg, "quality_extra_labels_total", kind="redundancy") == 3
    # refused: e1's third annotator, and two for each of e2..e4
    assert value(reg, "quality_extra_labels_refused_total", kind="redundancy") == 7


def test_a_gold_request_without_capacity_is_not_made_and_is_counted(tmp_path: Path) -> None:
    sc, _, sink, reg = scorer(gold_path=gold_file(tmp_path), gold_rate=0.5, redundancy_share=0.0)
    sampler = sc.sampler = CountingSampler(sink, capacity=2)
    score(sc, 40)
    assert sc.gold is not None and sc.gold.n_injected > 2  # seeded: gold was drawn often
    pendings = [
        PendingItem.model_validate_json(m.value or b"") for m in sink.on("streamsift.pending")
    ]
    gold = [p for p in pendings if p.gold_label is not None]
    assert len(gold) == 2 and len(sink.on(REQUESTS)) == 40 + 2
    assert len(sampler.refused) == sc.gold.n_injected - 2
    assert value(reg, "quality_extra_labels_refused_total", kind="gold") == sc.gold.n_injected - 2
    assert value(reg, "quality_extra_labels_total", kind="gold") == 2
    assert len(sampler.confirmed) == 40 + 2  # the gold labels' tokens, not confirmed again


# --- join ----------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ConfidentModel(FakeModel):
    def predict_proba_one(self, x: dict[str, Any]) -> dict[str, float]:
        return {"no": 0.95, "yes": 0.05}


#: Offsets of the records built here: each one a new record (the same partition and
#: offset read twice is a redelivery, which the join skips).
OFFSETS = itertools.count()


def joiner(
    store: dict[bytes, bytes] | None = None, sampler: FakeSampler | None = None, **settings: Any
) -> tuple[Joiner, FakeSampler, MemorySink, CollectorRegistry, Clock]:
    s = Settings(**{"pending_ttl_seconds": 3600.0, **settings})
    sampler = sampler or FakeSampler()
    sink, reg, clock = MemorySink(), CollectorRegistry(), Clock(T0 + 300)
    j = Joiner(
        s, sampler, sink, Metrics(reg, max_annotators=3), {} if store is None else store, clock
    )
    return j, sampler, sink, reg, clock


def pend(j: Joiner, event_id: str, *, n: int = 1, gold: str | None = None) -> None:
    item = PendingItem(
        event_id=event_id, request_id=f"r-{event_id}", features={"x": 1.5, "plan": "pro"},
        score=0.8, p=0.25, arm="active", region="eu", requested_at="2026-01-01T00:00:00Z",
        annotators_needed=n, gold_label=gold,
    )  # fmt: skip
    rec = SourceRecord(
        "streamsift.pending", 0, next(OFFSETS), None, item.model_dump_json().encode()
    )
    asyncio.run(j.on_pending(rec))


def label(j: Joiner, event_id: str, y: object, annotator: str) -> Any:
    rec = SourceRecord(
        "streamsift.labels", 0, next(OFFSETS), None, label_bytes(event_id, y, annotator)
    )
    return asyncio.run(j.on_label(rec))


def trained(sink: MemorySink) -> list[tuple[str, object]]:
    return [(i.event_id, i.label) for i in (decode_labelled(m.value) for m in sink.on(TRAINING))]


def test_k_labels_are_aggregated_and_only_the_aggregate_trains() -> None:
    j, sampler, sink, reg, _ = joiner()
    pend(j, "e1", n=3)
    assert label(j, "e1", "yes", "a") == "waiting"
    assert label(j, "e1", "yes", "a") == "duplicate"  # same annotator twice
    assert label(j, "e1", "no", "b") == "waiting"
    assert trained(sink) == []
    assert label(j, "e1", "yes", "c") == "joined"
    assert trained(sink) == [("e1", "yes")]
    assert value(reg, "quality_aggregated_total", method="majority") == 1
    assert sampler.arrived == 3 and StoreEntry.decode(j.store[b"e1"]).state == "joined"
    assert label(j, "e1", "no", "d") == "duplicate"


def test_gold_answers_are_scored_and_never_train() -> None:
    j, _, sink, reg, _ = joiner()
    pend(j, "g-1", gold="no")
    pend(j, "g-2", gold="no")
    assert label(j, "g-1", "no", "good") == "gold"
    assert label(j, "g-2", "yes", "bad") == "gold"
    assert trained(sink) == []
    assert value(reg, "quality_gold_answers_total", annotator="good", result="correct") == 1
    assert value(reg, "quality_gold_answers_total", annotator="bad", result="wrong") == 1
    assert label(j, "g-1", "no", "other-one") == "duplicate"


def test_a_label_contradicting_a_confident_model_gets_a_second_opinion() -> None:
    sampler = FakeSampler()
    sampler.model = ConfidentModel()
    j, _, sink, reg, _ = joiner(sampler=sampler)
    pend(j, "e1")
    assert label(j, "e1", "yes", "a") == "more_opinions"
    [req] = [LabelRequest.model_validate_json(m.value or b"") for m in sink.on(REQUESTS)]
    assert req.event_id == "e1" and req.request_id != "r-e1" and req.annotators_needed == 1
    assert sampler.confirmed == ["e1"]  # the extra label spends capacity
    assert value(reg, "quality_contradictions_total") == 1
    assert value(reg, "quality_extra_labels_total", kind="second_opinion") == 1
    assert trained(sink) == []
    assert label(j, "e1", "yes", "b") == "joined"  # two humans agree against the model
    assert trained(sink) == [("e1", "yes")]


def test_an_extra_opinion_without_capacity_is_not_requested_and_the_item_is_held_out() -> None:
    sampler = FakeSampler()
    sampler.model = ConfidentModel()
    sampler.extra_capacity = 1  # room for one extra label, then none
    j, _, sink, reg, _ = joiner(sampler=sampler)
    pend(j, "e1")
    pend(j, "e2")
    assert label(j, "e1", "yes", "a") == "more_opinions"
    assert label(j, "e2", "yes", "a") == "held_out"  # contradicts, but no capacity left
    assert [r.key for r in sink.on(REQUESTS)] == [b"e1"]  # only the granted one was asked
    assert sampler.confirmed == ["e1"] and sampler.refused == ["e2"]
    assert value(reg, "quality_extra_labels_total", kind="second_opinion") == 1
    assert value(reg, "quality_extra_labels_refused_total", kind="second_opinion") == 1
    assert value(reg, "quality_contradictions_total") == 2
    assert value(reg, "quality_held_out_total", reason="contradicts_model") == 1
    assert StoreEntry.decode(j.store[b"e2"]).state == "held_out" and trained(sink) == []
    assert j.collector.extra_labels["second_opinion"] == 1
    assert label(j, "e2", "yes", "b") == "duplicate"  # a late label: the item is done


def test_while_the_model_relearns_a_contradicting_label_trains_without_a_second_opinion() -> None:
    """After a concept change the model's confidence is stale: a label contradicting
    it is not held out for want of capacity (the learner's watch and the new concept
    need exactly those labels); once relearning ends the check is back."""
    sampler = FakeSampler()
    sampler.model = ConfidentModel()
    sampler.model.relearning = True
    sampler.extra_capacity = 0  # no room for any second opinion
    j, _, sink, reg, _ = joiner(sampler=sampler)
    pend(j, "e1")
    assert label(j, "e1", "yes", "a") == "joined"
    assert trained(sink) == [("e1", "yes")]
    assert value(reg, "quality_contradictions_total") == 0 and sampler.refused == []
    sampler.model.relearning = False
    pend(j, "e2")
    assert label(j, "e2", "yes", "a") == "held_out"
    assert value(reg, "quality_contradictions_total") == 1 and sampler.refused == ["e2"]


def test_a_contradiction_without_a_second_opinion_is_held_out_at_the_timeout() -> None:
    sampler = FakeSampler()
    sampler.model = ConfidentModel()
    j, _, sink, reg, clock = joiner(sampler=sampler)
    pend(j, "e1")
    assert label(j, "e1", "yes", "a") == "more_opinions"
    clock.now = T0 + 300 + 3601
    asyncio.run(j.expire())
    assert trained(sink) == []
    assert value(reg, "quality_held_out_total", reason="contradicts_model") == 1
    assert sampler.expired == 1  # the second opinion never came


def test_the_collector_state_survives_a_restart_through_the_store() -> None:
    store: dict[bytes, bytes] = {}
    j, _, _, _, _ = joiner(store)
    pend(j, "e1", n=3)
    label(j, "e1", "no", "a")
    label(j, "e1", "no", "b")
    j2, _, sink, _, _ = joiner(store)  # a new worker over the restored table
    assert label(j2, "e1", "no", "a") == "duplicate"
    assert label(j2, "e1", "yes", "c") == "joined"
    assert trained(sink) == [("e1", "no")]


def test_an_item_short_of_its_labels_is_aggregated_at_the_timeout() -> None:
    j, sampler, sink, _, clock = joiner()
    pend(j, "e1", n=3)
    pend(j, "e2", n=3)
    label(j, "e1", "yes", "a")
    label(j, "e1", "yes", "b")
    clock.now = T0 + 3601
    assert asyncio.run(j.expire()) == 1  # e2: nothing came, expired
    assert trained(sink) == [("e1", "yes")]
    assert sampler.expired == 1 + 3


def test_annotator_quality_reaches_the_metrics_with_capped_names() -> None:
    j, _, _, reg, _ = joiner(quality_gold_min_answers=5)
    for i in range(6):
        for who, y in (("good", "no"), ("bad", "yes"), ("b3", "no"), ("b4", "no")):
            pend(j, f"g-{who}-{i}", gold="no")
            label(j, f"g-{who}-{i}", y, who)
    j.refresh_quality()
    assert value(reg, "quality_annotator_flagged", annotator="bad") == 1
    assert value(reg, "quality_annotator_flagged", annotator="good") == 0
    assert value(reg, "quality_annotator_accuracy_ratio", annotator="bad", source="gold") == 0.0
    assert value(reg, "quality_annotator_accuracy_ratio", annotator="good", source="gold") == 1.0
    assert value(reg, "quality_gold_answers_total", annotator="other", result="correct") == 6


def test_a_pending_second_opinion_survives_a_restart() -> None:
    sampler = FakeSampler()
    sampler.model = ConfidentModel()
    store: dict[bytes, bytes] = {}
    j, _, _, _, _ = joiner(store, sampler=sampler)
    pend(j, "e1")
    assert label(j, "e1", "yes", "a") == "more_opinions"
    j2, _, sink, reg, clock = joiner(store, sampler=sampler)  # restarted before the answer
    clock.now = T0 + 300 + 3601
    asyncio.run(j2.expire())
    assert trained(sink) == []  # the contradicting label never trains alone
    assert value(reg, "quality_held_out_total", reason="contradicts_model") == 1


def test_agreement_over_multi_label_items_is_exported() -> None:
    j, _, _, reg, _ = joiner()
    for i, votes in enumerate((("yes", "yes", "yes"), ("no", "no", "no"), ("yes", "yes", "no"))):
        pend(j, f"e{i}", n=3)
        for who, y in zip(("a", "b", "c"), votes, strict=True):
            label(j, f"e{i}", y, who)
    j.refresh_quality()
    alpha = value(reg, "quality_agreement_ratio", statistic="krippendorff_alpha")
    kappa = value(reg, "quality_agreement_ratio", statistic="fleiss_kappa")
    assert alpha is not None and kappa is not None and 0.0 < kappa < 1.0 and 0.0 < alpha < 1.0


def test_an_unanswered_gold_item_expires_and_frees_its_capacity() -> None:
    j, sampler, sink, reg, clock = joiner()
    pend(j, "g-1", gold="no")
    clock.now = T0 + 3601
    assert asyncio.run(j.expire()) == 1
    assert sampler.expired == 1 and StoreEntry.decode(j.store[b"g-1"]).state == "expired"
    assert label(j, "g-1", "no", "late") == "expired" and trained(sink) == []
    assert value(reg, "join_pending_items") == 0
