"""Tier 2: the join of labels with pending items (dict store, memory sink)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.schemas import DeadLetter, PendingItem
from streamsift.stream.convert import decode_labelled
from streamsift.stream.join import Joiner, StoreEntry
from streamsift.stream.ports import MemorySink
from streamsift.stream.records import SourceRecord
from tests.stream.fakes import FakeSampler, dead_letters, label_bytes, value

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(**settings: Any) -> tuple[Joiner, FakeSampler, MemorySink, CollectorRegistry, Clock]:
    defaults = {"pending_ttl_seconds": 3600.0, "pending_tombstone_seconds": 7200.0}
    s = Settings(**{**defaults, "early_label_grace_seconds": 60.0, **settings})
    sampler, sink, reg, clock = FakeSampler(), MemorySink(), CollectorRegistry(), Clock(T0 + 300)
    joiner = Joiner(s, sampler, sink, Metrics(reg), {}, clock)
    return joiner, sampler, sink, reg, clock


def pending_bytes(
    event_id: str, request_id: str = "r1", arm: str = "control", at_floor: bool = False
) -> bytes:
    return PendingItem(
        event_id=event_id, request_id=request_id, features={"x": 1.5, "plan": "pro"},
        production_proba={"yes": 0.3, "no": 0.7}, score=0.8, p=0.25, arm=arm,
        region="eu", requested_at="2026-01-01T00:00:00Z", at_floor=at_floor,
    ).model_dump_json().encode()  # fmt: skip


def rec(topic: str, value: bytes, offset: int = 0) -> SourceRecord:
    return SourceRecord(topic, 0, offset, None, value)


def pend(j: Joiner, event_id: str, request_id: str = "r1", offset: int = 0) -> None:
    value = pending_bytes(event_id, request_id)
    asyncio.run(j.on_pending(rec("streamsift.pending", value, offset)))


def label(j: Joiner, event_id: str, value: object = "yes", offset: int = 0) -> Any:
    return asyncio.run(j.on_label(rec("streamsift.labels", label_bytes(event_id, value), offset)))


def reasons(sink: MemorySink) -> list[str]:
    return [d.reason for d in dead_letters(sink)]


def redelivered(reg: CollectorRegistry, source: str) -> float | None:
    return reg.get_sample_value("streamsift_join_records_redelivered_total", {"source": source})


def rejected(reg: CollectorRegistry, reason: str) -> float | None:
    return reg.get_sample_value("streamsift_join_labels_rejected_total", {"reason": reason})


def test_a_label_joins_its_pending_item_and_goes_to_the_training_topic() -> None:
    j, sampler, sink, reg, _ = make()
    pend(j, "e1")
    assert label(j, "e1") == "joined"
    [msg] = sink.on("streamsift.training")
    item = decode_labelled(msg.value)
    assert msg.partition == 0 and msg.key == b"e1"
    assert (item.label, item.p, item.arm, item.features["plan"]) == ("yes", 0.25, "control", "pro")
    assert item.production_proba == {"yes": 0.3, "no": 0.7}
    assert sampler.arrived == 1 and sampler.learned == []  # the join never trains
    assert reg.get_sample_value("streamsift_join_labels_joined_total", {"arm": "control"}) == 1
    assert reg.get_sample_value("streamsift_join_label_latency_seconds_sum") == 300.0


def test_the_floor_flag_travels_from_the_pending_item_to_the_training_topic() -> None:
    j, _, sink, _, _ = make()
    asyncio.run(j.on_pending(rec("streamsift.pending", pending_bytes("e1", "r1", "active", True))))
    asyncio.run(j.on_pending(rec("streamsift.pending", pending_bytes("e2", "r2", "active"), 1)))
    assert label(j, "e1") == "joined" and label(j, "e2", offset=1) == "joined"
    first, second = (decode_labelled(m.value) for m in sink.on("streamsift.training"))
    assert (first.arm, first.at_floor, first.drawn_uniformly) == ("active", True, True)
    assert (second.arm, second.at_floor, second.drawn_uniformly) == ("active", False, False)


def test_a_training_record_from_before_the_floor_flag_reads_as_not_at_the_floor() -> None:
    j, _, sink, _, _ = make()
    asyncio.run(j.on_pending(rec("streamsift.pending", pending_bytes("e1", "r1", "active", True))))
    label(j, "e1")
    [msg] = sink.on("streamsift.training")
    body = json.loads(msg.value)
    assert body.pop("at_floor") is True
    old = decode_labelled(json.dumps(body).encode())
    assert (old.at_floor, old.drawn_uniformly) == (False, False)


def test_duplicate_unknown_and_unlearnable_labels_are_dead_lettered_not_trained() -> None:
    j, sampler, sink, reg, clock = make()
    pend(j, "e1")
    pend(j, "e2")
    assert label(j, "e1") == "joined"
    assert label(j, "e1", offset=1) == "duplicate"
    assert label(j, "nobody", offset=2) == "early"  # its item may still come
    assert label(j, "e2", "maybe", offset=3) == "unlearnable_class"
    clock.now += 61  # the early-label grace passes: "nobody" had no request
    asyncio.run(j.expire())
    assert len(sink.on("streamsift.training")) == 1 and sampler.arrived == 1
    assert reasons(sink) == ["duplicate", "unlearnable_class", "unknown"]
    assert [rejected(reg, r) for r in ("duplicate", "unknown", "unlearnable_class")] == [1, 1, 1]
    letters = sink.on("streamsift.dead-letters")
    unknown = DeadLetter.model_validate_json(letters[2].value or b"")
    assert unknown.offset == 2 and b"nobody" in base64.b64decode(unknown.value_b64)
    assert b"nobody" not in j.store


def test_a_label_read_before_its_pending_item_waits_and_joins() -> None:
    j, sampler, sink, reg, _ = make()
    assert label(j, "e1") == "early"
    assert label(j, "e1", offset=1) == "duplicate"  # one label waits, not two
    pend(j, "e1")
    assert [m.key for m in sink.on("streamsift.training")] == [b"e1"]
    assert StoreEntry.decode(j.store[b"e1"]).state == "joined"
    assert sampler.arrived == 1 and value(reg, "join_label_arrivals_total") == 2


def test_a_label_record_read_again_after_a_restart_is_skipped_not_dead_lettered() -> None:
    """A worker killed after handling labels but before committing their offsets
    reads them again: the same (partition, offset) is a redelivery, counted and
    skipped (no dead letter, no second training record); the same annotator's label
    at another offset is still a duplicate."""
    j, sampler, sink, reg, _ = make()
    pend(j, "e1")
    assert label(j, "e1", offset=7) == "joined"
    restarted = Joiner(j.settings, sampler, sink, j.metrics, j.store, j.clock)
    again = asyncio.run(restarted.on_label(rec("streamsift.labels", label_bytes("e1"), 7)))
    assert again == "redelivered"
    assert label(j, "e1", offset=8) == "duplicate"
    assert len(sink.on("streamsift.training")) == 1 and sampler.arrived == 1
    assert reasons(sink) == ["duplicate"]
    assert redelivered(reg, "labels") == 1
    assert StoreEntry.decode(j.store[b"e1"]).seen == ((0, 7), (0, 8))  # taken, dead-lettered


def test_redelivered_labels_of_an_open_or_early_item_are_not_counted_twice() -> None:
    j, sampler, sink, reg, _ = make()
    item = PendingItem.model_validate_json(pending_bytes("e1"))
    three = item.model_copy(update={"annotators_needed": 3}).model_dump_json().encode()
    asyncio.run(j.on_pending(rec("streamsift.pending", three)))
    first = rec("streamsift.labels", label_bytes("e1", "yes", "a1"), 3)
    assert asyncio.run(j.on_label(first)) == "waiting"
    assert asyncio.run(j.on_label(first)) == "redelivered"
    assert StoreEntry.decode(j.store[b"e1"]).labels == (("a1", "yes", T0 + 300),)
    early = rec("streamsift.labels", label_bytes("e2"), 4)
    assert asyncio.run(j.on_label(early)) == "early"
    assert asyncio.run(j.on_label(early)) == "redelivered"
    assert len(StoreEntry.decode(j.store[b"e2"]).early) == 1
    pend(j, "e2")  # the parked label joins once
    assert [m.key for m in sink.on("streamsift.training")] == [b"e2"]
    assert asyncio.run(j.on_label(early)) == "redelivered"
    assert reasons(sink) == [] and redelivered(reg, "labels") == 3
    assert sampler.arrived == 2


def test_dead_lettered_labels_and_expired_items_read_again_are_redeliveries() -> None:
    """Records the join rejected, and the pending record of an item that expired,
    read again after a restart: one dead letter each, no second request."""
    j, _, sink, reg, clock = make()
    pend(j, "e1", offset=5)
    assert label(j, "e1", offset=7) == "joined"
    assert label(j, "e1", offset=8) == "duplicate"
    assert label(j, "e1", offset=8) == "redelivered"
    pend(j, "e2", offset=6)
    clock.now = T0 + 3601  # e2 expires unlabelled
    asyncio.run(j.expire())
    pend(j, "e2", offset=6)
    assert label(j, "e2", offset=9) == "expired"
    assert label(j, "e2", offset=9) == "redelivered"
    assert reasons(sink) == ["duplicate", "expired"]
    assert redelivered(reg, "pending") == 1 and redelivered(reg, "labels") == 2
    assert reg.get_sample_value("streamsift_join_duplicate_requests_total") == 0


def test_an_early_label_rejected_when_its_item_comes_is_dead_lettered_once() -> None:
    """Two early labels of a one-annotator item: the first joins when the item comes,
    the second is a duplicate; read again, neither is handled a second time."""
    j, _, sink, reg, _ = make()
    first = rec("streamsift.labels", label_bytes("e1", "yes", "a1"), 3)
    second = rec("streamsift.labels", label_bytes("e1", "yes", "a2"), 4)
    assert asyncio.run(j.on_label(first)) == "early"
    assert asyncio.run(j.on_label(second)) == "early"
    pend(j, "e1")
    assert reasons(sink) == ["duplicate"]
    for again in (first, second):
        assert asyncio.run(j.on_label(again)) == "redelivered"
    assert reasons(sink) == ["duplicate"] and len(sink.on("streamsift.training")) == 1
    assert redelivered(reg, "labels") == 2


def test_store_entries_keep_the_label_records_they_took_and_read_old_ones() -> None:
    entry = StoreEntry("joined", 5.0, part=1, seen=((1, 10), (0, 3)), pos=4)
    assert StoreEntry.decode(entry.encode()) == entry
    old = StoreEntry.decode(b'{"state": "joined", "at": 5.0, "item": null}')
    assert old.seen == () and not old.took(rec("streamsift.labels", b"", 0))


def test_items_expire_after_the_ttl_and_late_labels_are_rejected() -> None:
    j, sampler, sink, reg, clock = make()
    pend(j, "e1")
    pend(j, "e2")
    clock.now = T0 + 3000
    assert asyncio.run(j.expire()) == 0
    assert reg.get_sample_value("streamsift_join_pending_items") == 2
    assert reg.get_sample_value("streamsift_join_oldest_pending_age_seconds") == 3000
    clock.now = T0 + 3601
    assert asyncio.run(j.expire()) == 2 and sampler.expired == 2
    assert reg.get_sample_value("streamsift_join_expired_total") == 2
    assert label(j, "e1") == "expired" and reasons(sink) == ["expired"]
    clock.now = T0 + 3601 + 7201
    asyncio.run(j.expire())
    assert j.store == {}  # markers dropped after the tombstone horizon
    assert label(j, "e2") == "early"


def test_invalid_labels_and_pending_items_are_dead_lettered() -> None:
    j, _, sink, reg, _ = make()
    assert asyncio.run(j.on_label(rec("streamsift.labels", b"not json"))) is None
    asyncio.run(j.on_pending(rec("streamsift.pending", b'{"schema_version": "1.0"}')))
    assert reasons(sink) == ["invalid_json", "schema_violation"]
    assert rejected(reg, "invalid") == 1
    labels = {"source": "pending", "reason": "schema_violation"}
    assert reg.get_sample_value("streamsift_deadletters_total", labels) == 1


def test_a_second_request_for_an_event_is_counted_and_the_first_kept() -> None:
    j, _, _, reg, _ = make()
    pend(j, "e1", "r1")
    pend(j, "e1", "r1")  # redelivery of the same record: silent
    assert reg.get_sample_value("streamsift_join_duplicate_requests_total") == 0
    assert redelivered(reg, "pending") == 1
    pend(j, "e1", "r1", offset=1)  # the producer sent it twice: silent too
    pend(j, "e1", "r2", offset=2)
    assert reg.get_sample_value("streamsift_join_duplicate_requests_total") == 1
    entry = StoreEntry.decode(j.store[b"e1"])
    assert entry.item is not None and entry.item.request_id == "r1"
    assert redelivered(reg, "pending") == 1


def test_a_finished_items_pending_record_read_again_is_a_redelivery_not_a_second_request() -> None:
    j, _, sink, reg, _ = make()
    pend(j, "e1", offset=5)
    assert label(j, "e1") == "joined"
    pend(j, "e1", offset=5)  # after a SIGKILL: the marker knows the record
    assert redelivered(reg, "pending") == 1
    assert reg.get_sample_value("streamsift_join_duplicate_requests_total") == 0
    pend(j, "e1", "r2", offset=6)  # a new request for a finished event is still counted
    assert reg.get_sample_value("streamsift_join_duplicate_requests_total") == 1
    assert len(sink.on("streamsift.training")) == 1
