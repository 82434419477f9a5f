"""Tier 2: the scorer's batch processing with a memory sink and a sampler double."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.core.drift.results import DriftResult, FeatureDrift
from streamsift.metrics import Metrics
from streamsift.schemas import DECODE_REASONS, DeadLetter, LabelRequest, PendingItem
from streamsift.stream.decisions import DecisionBatch, LoggedDecision, decode_batch
from streamsift.stream.ports import MemorySink
from streamsift.stream.records import SourceRecord
from streamsift.stream.scorer import Scorer
from tests.stream.fakes import (
    MALFORMED,
    FakeReader,
    FakeSampler,
    dead_letters,
    event_bytes,
    value,
)

TOPIC = "streamsift.inference-events"


def make(
    sampler: FakeSampler | None = None,
    reader: FakeReader | None = None,
    **settings: Any,
) -> tuple[Scorer, FakeSampler, MemorySink, CollectorRegistry]:
    s = Settings(**{"labeller_features": ("age", "plan"), "dedupe_horizon": 100, **settings})
    sampler = sampler or FakeSampler()
    sink = MemorySink()
    reg = CollectorRegistry()
    scorer = Scorer(
        s,
        sampler,
        sink,
        Metrics(reg),
        reader or FakeReader(),
        input_partitions=2,
        worker_id="w-test",
        clock=lambda: 1_000.0,
    )
    return scorer, sampler, sink, reg


def rec(value: bytes | None, offset: int, partition: int = 0) -> SourceRecord:
    return SourceRecord(TOPIC, partition, offset, b"k", value)


def decided_ids(sink: MemorySink, topic: str = "streamsift.decisions") -> list[str]:
    return [d.event_id for m in sink.on(topic) for d in decode_batch(m.value or b"").decisions]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_every_malformed_kind_is_dead_lettered_with_its_reason() -> None:
    scorer, sampler, sink, reg = make()
    records = [rec(raw, i) for i, raw in enumerate(MALFORMED.values())]
    records.append(rec(None, 99))  # a tombstone is a schema violation, not a crash
    report = run(scorer.process(records))
    letters = dead_letters(sink)
    assert [d.reason for d in letters] == [*MALFORMED.keys(), "schema_violation"]
    assert report.invalid == len(records) and report.decided == 0 and sampler.decided == []
    first = letters[0]
    assert (first.source_topic, first.partition, first.offset) == (TOPIC, 0, 0)
    assert base64.b64decode(first.value_b64) == MALFORMED["undecodable"]
    assert base64.b64decode(first.key_b64 or "") == b"k"
    for reason in DECODE_REASONS:
        want = 2.0 if reason == "schema_violation" else 1.0
        labels = {"source": "inference-events", "reason": reason}
        assert reg.get_sample_value("streamsift_deadletters_total", labels) == want
        assert value(reg, "scorer_events_invalid_total", reason=reason) == want


def test_valid_events_are_decided_once_and_logged_per_source_partition() -> None:
    scorer, sampler, sink, reg = make()
    records = [rec(event_bytes(f"e{i}"), i, partition=i % 2) for i in range(6)]
    report = run(scorer.process(records))
    assert report.decided == 6 and sampler.decided == [f"e{i}" for i in range(6)]
    logs = sink.on("streamsift.decisions")
    assert sorted(m.partition for m in logs) == [0, 1]
    for m in logs:
        batch = decode_batch(m.value or b"")
        assert batch.partition == m.partition and batch.source_topic == TOPIC
        assert all(int(d.event_id[1:]) % 2 == m.partition for d in batch.decisions)
    assert reg.get_sample_value("streamsift_scorer_events_valid_total") == 6
    assert value(reg, "scorer_decisions_total", arm="none", region="eu") == 6


def test_selected_event_sends_pending_then_request_with_allow_listed_features() -> None:
    scorer, sampler, sink, reg = make()
    run(scorer.process([rec(event_bytes("s1", select=True), 0), rec(event_bytes("n1"), 1)]))
    topics = [m.topic for m in sink.sent]
    assert topics.index("streamsift.decisions") < topics.index("streamsift.pending")
    assert topics.index("streamsift.pending") < topics.index("streamsift.label-requests")
    [req_msg] = sink.on("streamsift.label-requests")
    [pend_msg] = sink.on("streamsift.pending")
    req = LabelRequest.model_validate_json(req_msg.value or b"")
    pend = PendingItem.model_validate_json(pend_msg.value or b"")
    assert req_msg.key == pend_msg.key == b"s1"
    assert set(req.features) == {"age", "plan"}  # "secret" is not allow-listed
    assert pend.features["secret"] == "s3" and pend.production_proba == {"yes": 0.4, "no": 0.6}
    assert req.request_id == pend.request_id and (req.p, req.arm) == (0.5, "active")
    assert sampler.confirmed == ["s1"]
    logged = decode_batch(sink.on("streamsift.decisions")[0].value or b"")
    assert logged.requests["s1"][0] == req_msg.value
    assert reg.get_sample_value("streamsift_scorer_label_requests_total", {"arm": "active"}) == 1


def test_a_floor_pick_is_flagged_in_its_pending_item_not_in_the_request() -> None:
    scorer, _, sink, _ = make()
    run(
        scorer.process(
            [
                rec(event_bytes("f1", select=True, floor=True), 0),
                rec(event_bytes("s1", select=True), 1),
            ]
        )
    )
    flags = {
        p.event_id: p.at_floor
        for p in (
            PendingItem.model_validate_json(m.value or b"") for m in sink.on("streamsift.pending")
        )
    }
    assert flags == {"f1": True, "s1": False}
    for msg in sink.on("streamsift.label-requests"):
        assert "at_floor" not in json.loads(msg.value or b"")  # labellers never see it


def test_no_confirm_when_the_request_send_fails() -> None:
    scorer, sampler, sink, _ = make()
    sink.fail_topics.add("streamsift.label-requests")
    with pytest.raises(ConnectionError):
        run(scorer.process([rec(event_bytes("s1", select=True), 0)]))
    assert sampler.decided == ["s1"] and sampler.confirmed == []


def test_duplicates_are_counted_not_requested_again() -> None:
    scorer, sampler, sink, reg = make()
    again = event_bytes("a", select=True)
    run(scorer.process([rec(again, 0), rec(again, 1)]))
    run(scorer.process([rec(event_bytes("a", select=True), 0, partition=0)]))  # re-read
    run(scorer.process([rec(event_bytes("a", select=True), 5, partition=1)]))  # retry elsewhere
    assert sampler.decided == ["a"] and len(sink.on("streamsift.label-requests")) == 1
    assert reg.get_sample_value("streamsift_scorer_duplicates_total", {"kind": "duplicate"}) == 2
    assert reg.get_sample_value("streamsift_scorer_duplicates_total", {"kind": "redelivered"}) == 1


def test_dedupe_is_rebuilt_from_the_decision_log_on_assignment() -> None:
    old = DecisionBatch(
        TOPIC, 0, "w-old", 900.0,
        [LoggedDecision("x1", 3, False, "none", 0.1, 0.1, "eu", 0, "not_drawn")],
    )  # fmt: skip
    reader = FakeReader({0: [old]})
    scorer, sampler, _, reg = make(reader=reader)
    run(scorer.process([rec(event_bytes("x1"), 3), rec(event_bytes("x2"), 4)]))
    assert reader.tail_calls == [0] and sampler.decided == ["x2"]
    assert reg.get_sample_value("streamsift_scorer_duplicates_total", {"kind": "redelivered"}) == 1
    scorer.on_revoked([0])
    run(scorer.process([rec(event_bytes("x3"), 5)]))
    assert reader.tail_calls == [0, 0]  # reloaded after the partition came back


def _logged_selection(event_id: str, offset: int, request_id: str) -> DecisionBatch:
    req = LabelRequest(
        request_id=request_id, event_id=event_id, requested_at="2026-01-01T00:00:00Z",
        score=0.9, strategy="fake", arm="active", p=0.5, region="eu", scored_model_version=0,
    )  # fmt: skip
    pend = PendingItem(
        event_id=event_id, request_id=request_id, features={"age": 1}, score=0.9, p=0.5,
        arm="active", region="eu", requested_at="2026-01-01T00:00:00Z",
    )  # fmt: skip
    row = LoggedDecision(event_id, offset, True, "active", 0.5, 0.9, "eu", 0, "selected")
    row = dataclasses.replace(row, request_id=request_id)
    requests = {event_id: (req.model_dump_json().encode(), pend.model_dump_json().encode())}
    return DecisionBatch(TOPIC, 0, "w-dead", 950.0, [row], requests)


def test_restart_resends_only_requests_that_never_reached_the_topic() -> None:
    logged = [_logged_selection("s-sent", 10, "r-sent"), _logged_selection("s-lost", 11, "r-lost")]
    reader = FakeReader({0: logged}, request_ids={"r-sent"})
    scorer, sampler, sink, reg = make(reader=reader)
    report = run(scorer.process([rec(event_bytes("s-sent"), 10), rec(event_bytes("s-lost"), 11)]))
    assert report.recovered == 1 and sampler.decided == []
    [req] = sink.on("streamsift.label-requests")
    assert json.loads(req.value or b"")["request_id"] == "r-lost"
    assert len(sink.on("streamsift.pending")) == 1 and sampler.confirmed == ["s-lost"]
    assert reader.since_calls == [950.0 - Settings().recovery_lookback_seconds]
    assert reg.get_sample_value("streamsift_scorer_recovered_requests_total") == 1


def test_logged_selections_before_the_committed_offset_are_not_rechecked() -> None:
    reader = FakeReader({0: [_logged_selection("s-old", 2, "r-old")]})
    scorer, _, sink, _ = make(reader=reader)
    run(scorer.process([rec(event_bytes("new"), 3)]))
    assert reader.since_calls == [] and sink.on("streamsift.label-requests") == []


def test_a_core_exception_dead_letters_the_event_and_the_batch_goes_on() -> None:
    scorer, sampler, sink, reg = make(sampler=FakeSampler(fail_on="boom"))
    report = run(scorer.process([rec(event_bytes("boom"), 0), rec(event_bytes("ok"), 1)]))
    assert report.decided == 1 and sampler.decided == ["ok"]
    [letter] = sink.on("streamsift.dead-letters")
    assert DeadLetter.model_validate_json(letter.value or b"").reason == "processing_error"
    labels = {"source": "inference-events", "reason": "processing_error"}
    assert reg.get_sample_value("streamsift_deadletters_total", labels) == 1


def test_drift_results_become_drift_events_keyed_by_region() -> None:
    sampler = FakeSampler()
    sampler.state.boosts = {"eu": 3.0}
    sampler.drift = (
        DriftResult(
            region="eu", window_index=2, window_end_timestamp=1_000.0, n_reference=500,
            n_window=500, drifted=True, new_region=False,
            features=(FeatureDrift("age", "numeric", 0.4, 1e-6, 1e-5, 0.35, "alarm"),),
        ),
    )  # fmt: skip
    scorer, _, sink, reg = make(sampler=sampler)
    run(scorer.process([rec(event_bytes("d1"), 0)]))
    [msg] = sink.on("streamsift.drift-events")
    body = json.loads(msg.value or b"")
    assert msg.key == b"eu" and body["drifted"] is True and body["boost"] == 3.0
    assert body["features"][0]["psi"] == 0.35
    assert value(reg, "drift_ks_statistic", region="eu", feature="age") == 0.4
    assert value(reg, "drift_events_total", region="eu", drifted="true") == 1


def test_drift_events_are_acknowledged_with_the_label_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three waits for a batch with a selection and a closed window (decision log;
    pending items; label requests and drift events), not four."""
    import streamsift.stream.scorer as scorer_module

    sampler = FakeSampler()
    sampler.drift = (
        DriftResult(
            region="eu", window_index=0, window_end_timestamp=1_000.0, n_reference=0,
            n_window=500, drifted=False, new_region=True, features=(),
        ),
    )  # fmt: skip
    scorer, _, sink, _ = make(sampler=sampler)
    waits: list[list[str]] = []
    gather = scorer_module.gather_acks

    async def counting(acks: Any) -> None:
        acks = list(acks)
        before = len(sink.sent)
        waits.append(sorted({m.topic for m in sink.sent[before - len(acks) : before]}))
        await gather(acks)

    monkeypatch.setattr(scorer_module, "gather_acks", counting)
    run(scorer.process([rec(event_bytes("s1", select=True), 0)]))
    assert waits == [
        ["streamsift.decisions"],
        ["streamsift.pending"],
        ["streamsift.drift-events", "streamsift.label-requests"],
    ]
    assert len(sink.on("streamsift.drift-events")) == 1


class _DecideOnly:
    """A Sampler seen without ``decisions``: the scorer asks ``decide`` per event."""

    def __init__(self, sampler: Any) -> None:
        self._sampler = sampler

    def __getattr__(self, name: str) -> Any:
        if name == "decisions":
            raise AttributeError(name)
        return getattr(self._sampler, name)


def test_batch_decisions_send_what_per_event_decide_sends(monkeypatch: Any) -> None:
    """Invalid records, redeliveries and repeated ids inside one batch (the segment
    rule), redundancy and gold: byte-identical messages with Sampler.decisions and
    with decide per event."""
    import random as _random
    import uuid as _uuid

    from streamsift.bench.decisions_check import _records
    from streamsift.bench.scorer_bench import memory_scorer
    from streamsift.factory import build_sampler

    settings = Settings(
        seed=1, capacity_per_hour=36_000, max_pending=1_000_000, drift_window_events=300
    )
    items = _records(1, 1_200)
    records = [
        SourceRecord("streamsift.inference-events", i % 3, i // 3, None, raw, 1.8e9 + i * 0.01)
        for i, (raw, _) in enumerate(items)
    ]
    # a batch that repeats an id of its own, twice, among other records
    records[40:40] = [records[10], records[12], records[10]]
    sent = []
    for wrap in (False, True):
        rng = _random.Random(5)
        monkeypatch.setattr(_uuid, "uuid4", lambda rng=rng: _uuid.UUID(int=rng.getrandbits(128)))
        sampler = build_sampler(settings)
        scorer, sink = memory_scorer(
            _DecideOnly(sampler) if wrap else sampler, settings, clock=lambda: 1.8e9
        )
        reports = [run(scorer.process(records[k : k + 100])) for k in range(0, len(records), 100)]
        sent.append((reports, [(m.topic, m.key, m.partition, m.value) for m in sink.sent]))
    assert sent[0] == sent[1]
    reports = sent[0][0]
    assert reports[0].duplicates >= 2  # the repeated ids, decided once
    assert sum(r.duplicates for r in reports) > 3 and sum(r.invalid for r in reports) > 10
    assert sum(r.selected for r in reports) > 0


def test_settings_reach_the_watch() -> None:
    from streamsift.config import Settings
    from streamsift.factory import build_sampler

    sampler = build_sampler(Settings(concept_delta=0.02, relearn_labels=5))
    assert repr(sampler.model._concept) == "ConceptWatch(delta=0.02, relearn_labels=5)"
    default = build_sampler(Settings())
    assert repr(default.model._concept) == "ConceptWatch(delta=0.0025, relearn_labels=100)"
    assert build_sampler(Settings(concept_delta=None)).model._concept is None
