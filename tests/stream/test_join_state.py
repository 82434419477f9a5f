"""Tier 2: the join's per-partition annotator statistics and its own input offsets.

Statistics: saved per partition in the quality table (changelog record to that
partition), restored by a new join over the same table, released on revocation.
Offsets: the join's topics are declared without faust acks; the join commits one
past every record it handled, after flushing the producer, and skips records
delivered again at or below its mark.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any
from unittest.mock import Mock

from faust.types import TP
from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.core.quality import QualityState
from streamsift.metrics import Metrics
from streamsift.schemas import PendingItem
from streamsift.stream.app import StreamService
from streamsift.stream.join import Joiner, quality_key
from streamsift.stream.ports import MemorySink
from streamsift.stream.records import SourceRecord
from tests.stream.fakes import FakeSampler, label_bytes
from tests.stream.test_agents import service, until

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def gold_pending(event_id: str) -> bytes:
    return PendingItem(
        event_id=event_id, request_id=f"r-{event_id}", features={"x": 1.0}, score=0.5,
        p=0.25, arm="active", region="eu", requested_at="2026-01-01T00:00:00Z",
        gold_label="no",
    ).model_dump_json().encode()  # fmt: skip


def answers(seed: int, n: int, wrong: float) -> list[tuple[str, str, str]]:
    """(event id, annotator, answer): a clean and a noisy annotator on n gold items each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append((f"g-clean-{seed}-{i}", "clean", "no"))
        out.append((f"g-noisy-{seed}-{i}", "noisy", "yes" if rng.random() < wrong else "no"))
    return out


def joiner(qstore: dict[bytes, bytes], store: dict[bytes, bytes]) -> tuple[Joiner, Any]:
    s = Settings(pending_ttl_seconds=3600.0, quality_gold_min_answers=10, quality_flag_below=0.8)
    reg = CollectorRegistry()
    j = Joiner(s, FakeSampler(), MemorySink(), Metrics(reg), store, lambda: T0 + 60, qstore)
    return j, reg


def feed(j: Joiner, rows: list[tuple[str, str, str]], partition_of: dict[str, int]) -> None:
    async def go() -> None:
        for eid, who, y in rows:
            p = partition_of[eid]
            await j.on_pending(SourceRecord("streamsift.pending", p, 0, None, gold_pending(eid)))
            answer = label_bytes(eid, y, who)
            await j.on_label(SourceRecord("streamsift.labels", p, 0, None, answer))

    asyncio.run(go())


def test_statistics_are_saved_per_partition_and_restored_by_a_new_join() -> None:
    rows = answers(3, 30, wrong=0.5)
    part = {eid: i % 3 for i, (eid, _, _) in enumerate(rows)}
    qstore: dict[bytes, bytes] = {}
    store: dict[bytes, bytes] = {}
    j, _ = joiner(qstore, store)
    feed(j, rows, part)
    asyncio.run(j.expire())  # the timer saves what changed
    assert sorted(qstore) == [b"0", b"1", b"2"]
    noisy_wrong = sum(1 for _, who, y in rows if who == "noisy" and y == "yes")
    saved = [QualityState.decode(qstore[quality_key(p)]) for p in range(3)]
    assert sum(s.gold["noisy"][0] for s in saved) == 30
    assert sum(s.gold["noisy"][1] for s in saved) == 30 - noisy_wrong
    assert j.collector.flagged == {"noisy"}
    acc = j.collector.gold.accuracy("noisy")
    assert acc == (30 - noisy_wrong) / 30 < 0.8

    again, reg2 = joiner(qstore, store)  # a restarted worker over the restored tables
    assert again.collector.flagged == frozenset()  # nothing merged before a partition is seen
    assert again.load_partitions([0, 1, 2, 3]) == [0, 1, 2, 3]
    assert again.load_partitions([1]) == []  # once per assignment
    assert again.collector.flagged == {"noisy"}
    assert again.collector.gold.accuracies == j.collector.gold.accuracies
    again.refresh_quality()
    flagged = "streamsift_quality_annotator_flagged"
    assert reg2.get_sample_value(flagged, {"annotator": "noisy"}) == 1.0
    assert reg2.get_sample_value(flagged, {"annotator": "clean"}) == 0.0

    # One more correct gold answer counts on top of the restored ones, and is saved.
    feed(again, [("g-late", "noisy", "no")], {"g-late": 1})
    assert again.collector.gold.accuracy("noisy") == (31 - noisy_wrong) / 31
    assert again.save_quality() == [1]
    assert QualityState.decode(qstore[b"1"]).gold["noisy"] == (
        saved[1].gold["noisy"][0] + 1,
        saved[1].gold["noisy"][1] + 1,
    )

    # Revocation saves and takes the partition's share out; only the others remain.
    again.release_partitions([1])
    n0 = saved[0].gold["noisy"][0] + saved[2].gold["noisy"][0]
    assert again.collector.gold.n_answers("noisy") == n0
    assert again.loaded_partitions == {0, 2, 3}
    assert again.load_partitions([1]) == [1]  # assigned again: merged again, once
    assert again.collector.gold.accuracy("noisy") == (31 - noisy_wrong) / 31


def test_an_unreadable_saved_state_is_logged_and_replaced() -> None:
    qstore = {b"0": b"garbage"}
    j, _ = joiner(qstore, {})
    assert j.load_partitions([0]) == [0] and j.collector.flagged == frozenset()
    feed(j, [("g1", "noisy", "yes")], {"g1": 0})
    assert j.save_quality() == [0]
    assert QualityState.decode(qstore[b"0"]).gold == {"noisy": (1, 0)}


def test_without_a_quality_store_nothing_is_saved_or_loaded() -> None:
    s = Settings()
    j = Joiner(s, FakeSampler(), MemorySink(), Metrics(CollectorRegistry()), {}, lambda: T0)
    assert j.load_partitions([0]) == [] and j.save_quality() == []


class Sent:
    """Records the changelog writes of a faust table (no producer in the test context)."""

    def __init__(self) -> None:
        self.records: list[tuple[int | None, Any, Any]] = []

    def __call__(self, partition: int | None, key: Any, value: Any, *a: Any, **k: Any) -> Any:
        self.records.append((partition, key, value))
        return Mock(message=Mock(partition=partition))


def test_the_service_keeps_flags_across_a_restart_through_its_quality_table() -> None:
    svc, _, _ = service(quality_gold_min_answers=10)
    svc.table.send_changelog = Mock()  # type: ignore[method-assign]
    sent = Sent()
    svc.join.table.send_changelog = sent  # type: ignore[method-assign]
    pending, labels = svc.agents
    rows = answers(11, 12, wrong=0.6)

    async def go() -> None:
        async with pending.test_context() as p_agent, labels.test_context() as l_agent:
            for eid, who, y in rows:
                await p_agent.put(value=gold_pending(eid), key=eid.encode(), partition=2)
                await l_agent.put(value=label_bytes(eid, y, who), key=eid.encode(), partition=2)
            await until(lambda: svc.joiner.collector.gold.n_answers("noisy") == 12)
            await svc.joiner.expire()

    asyncio.run(go())
    assert svc.joiner.collector.flagged == {"noisy"}
    # the statistics went to the quality table's changelog, partition 2, key b"2"
    assert [(p, k) for p, k, _ in sent.records] == [(2, b"2")]
    assert svc.join.table.partition_for_key(b"2") == 2
    saved = QualityState.decode(sent.records[-1][2])
    wrong = sum(1 for _, who, y in rows if who == "noisy" and y == "yes")
    assert saved.gold == {"clean": (12, 12), "noisy": (12, 12 - wrong)}

    new, _, _ = service(quality_gold_min_answers=10)  # the next worker, table restored
    new.join.table.data[b"2"] = sent.records[-1][2]
    assert new.joiner.load_partitions([2]) == [2]
    assert new.joiner.collector.flagged == {"noisy"}
    assert new.joiner.collector.gold.accuracies == svc.joiner.collector.gold.accuracies


class FakeConsumer:
    """What the join's commit uses of faust's consumer."""

    def __init__(self, owned: set[TP]) -> None:
        self.owned = owned
        self.commits: list[dict[TP, int]] = []
        self._committed_offset: dict[TP, int] = {}

    def assignment(self) -> set[TP]:
        return set(self.owned)

    async def _commit(self, offsets: dict[TP, int]) -> bool:
        self.commits.append(dict(offsets))
        return True


def test_the_join_commits_one_past_each_handled_record_after_a_flush() -> None:
    svc, _, _ = service()
    s: Settings = svc.settings
    svc.table.send_changelog = Mock()  # type: ignore[method-assign]
    join = svc.join
    handled: list[tuple[str, int]] = []

    async def on(rec: SourceRecord) -> None:
        handled.append((rec.topic, rec.offset))

    async def go() -> dict[TP, int]:
        for off in (0, 1, 2):
            assert await join.handle(SourceRecord(s.topic_pending, 0, off, None, b"{}"), on)
        assert await join.handle(SourceRecord(s.topic_labels, 0, 7, None, b"{}"), on)
        assert await join.handle(SourceRecord(s.topic_labels, 1, 4, None, b"{}"), on)
        # delivered again after faust's rewind: handled already, skipped
        assert not await join.handle(SourceRecord(s.topic_pending, 0, 1, None, b"{}"), on)
        flushed: list[int] = []

        async def flush() -> None:
            flushed.append(len(consumer.commits))  # before the commit

        svc.app.producer.flush = flush  # type: ignore[method-assign]
        out = await join.commit()
        assert flushed == [0]
        assert await join.commit() == {}  # nothing new
        return out

    owned = {TP(s.topic_pending, 0), TP(s.topic_labels, 0), TP(s.topic_pending, 1)}
    consumer = FakeConsumer(owned)
    svc.app.consumer = consumer  # type: ignore[assignment]
    out = asyncio.run(go())
    assert handled == [(s.topic_pending, 0), (s.topic_pending, 1), (s.topic_pending, 2),
                       (s.topic_labels, 7), (s.topic_labels, 1 - 1 + 4)]  # fmt: skip
    assert out == {TP(s.topic_pending, 0): 3, TP(s.topic_labels, 0): 8}  # labels/1 is not ours
    assert consumer.commits == [out] and consumer._committed_offset == out
    assert join.redelivered == 1

    async def stop() -> None:
        await join.stop()  # a graceful stop: nothing more is handled
        assert not await join.handle(SourceRecord(s.topic_pending, 0, 3, None, b"{}"), on)

    asyncio.run(stop())
    assert len(handled) == 5


def test_revocation_commits_then_forgets_the_partitions() -> None:
    svc, _, _ = service()
    s: Settings = svc.settings
    join = svc.join
    consumer = FakeConsumer({TP(s.topic_pending, 0), TP(s.topic_labels, 0)})
    svc.app.consumer = consumer  # type: ignore[assignment]

    async def noop(rec: SourceRecord) -> None:
        return None

    async def go() -> None:
        async def flush() -> None:
            return None

        svc.app.producer.flush = flush  # type: ignore[method-assign]
        await join.handle(SourceRecord(s.topic_labels, 0, 9, None, b"{}"), noop)
        await join.on_revoked({TP(s.topic_labels, 0), TP(s.topic_pending, 0)})

    asyncio.run(go())
    assert consumer.commits == [{TP(s.topic_labels, 0): 10}]
    assert join.offsets[s.topic_labels].processed_offset(0) is None


def test_the_join_topics_are_declared_without_faust_acks() -> None:
    svc: StreamService = service()[0]
    s = svc.settings
    channels = {agent.name.rsplit(".", 1)[-1]: agent.channel for agent in svc.join.agents}
    assert channels["pending"].get_topic_name() == s.topic_pending
    assert channels["labels"].get_topic_name() == s.topic_labels
    assert channels["pending"].acks is False and channels["labels"].acks is False
