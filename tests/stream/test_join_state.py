"""Tier 2: the join's per-partition annotator statistics.

Saved per partition in the quality store (changelog record to that partition),
restored by a new join over the same store, released on revocation; through the
service, restored from the changelog by the next worker's join loop. The loop
itself (offsets, rebalances) is tested in ``test_join_loop.py``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

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


def test_the_service_keeps_flags_across_a_restart_through_its_quality_changelog() -> None:
    from tests.stream.test_intake import FakeConsumer, record

    s = Settings()
    topics = (s.topic_pending, s.topic_labels)
    first = FakeConsumer(topics=topics)
    svc, _, sink = service(join_consumer_factory=lambda: first, quality_gold_min_answers=10)
    rows = answers(11, 12, wrong=0.6)

    async def run(svc: StreamService, fake: FakeConsumer, rows: list[Any]) -> None:
        task = asyncio.create_task(svc.join.run())
        await until(lambda: fake.started)
        await fake.assign([2])
        for i, (eid, who, y) in enumerate(rows):
            fake.put([record(2, i, gold_pending(eid), s.topic_pending)])
            fake.put([record(2, i, label_bytes(eid, y, who), s.topic_labels)])
        await until(lambda: svc.joiner.collector.gold.n_answers("noisy") == 12)
        await svc.joiner.expire()
        await svc.join.stop()
        await task

    asyncio.run(run(svc, first, rows))
    assert svc.joiner.collector.flagged == {"noisy"}
    # the statistics went to the quality changelog, partition 2, key b"2"
    changelog = f"{svc.settings.app_id}-quality-store-changelog"
    assert [(m.partition, m.key) for m in sink.on(changelog)] == [(2, b"2")]
    saved = QualityState.decode(sink.on(changelog)[-1].value or b"")
    wrong = sum(1 for _, who, y in rows if who == "noisy" and y == "yes")
    assert saved.gold == {"clean": (12, 12), "noisy": (12, 12 - wrong)}

    # the next worker (same app, same broker: the same sink) restores partition 2
    new, _, _ = service(sink=sink, app_id=svc.settings.app_id, quality_gold_min_answers=10)
    fake = FakeConsumer(topics=topics)
    new.join.consumer = fake
    asyncio.run(new.join.on_assigned([2]))
    assert new.joiner.loaded_partitions == {2}
    assert new.joiner.collector.flagged == {"noisy"}
    assert new.joiner.collector.gold.accuracies == svc.joiner.collector.gold.accuracies
    assert len(new.table) == 24 and not fake.paused  # every gold item's marker, resumed
