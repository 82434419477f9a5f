"""Tier 2: the join's own consumer loop over pending and labels, with a fake consumer.

Assignment pauses the partitions while their state is restored from the changelogs;
each commit flushes the changelogs first; a revocation finishes the poll in flight,
saves the statistics, commits, then drops the partitions' state; stale polls are
skipped; a graceful stop commits everything handled; the expiry's writes go to the
partition the key lives in; a partition never committed by the join group starts
where the faust app's group left it; a restore that fails stops the loop; readiness
and the pending / labels gauges follow the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition

from streamsift.config import Settings
from streamsift.stream.app import StreamService
from streamsift.stream.join_wiring import JoinWiring, join_group
from streamsift.stream.ports import MemorySink
from tests.stream.fakes import dead_letters, label_bytes
from tests.stream.test_agents import service, until
from tests.stream.test_intake import FakeConsumer, GatedSink, record
from tests.stream.test_join import pending_bytes

S = Settings()
PENDING, LABELS = S.topic_pending, S.topic_labels


def join_service(
    *, sink: MemorySink | None = None, **settings: Any
) -> tuple[StreamService, FakeConsumer, MemorySink]:
    fake = FakeConsumer(topics=(PENDING, LABELS))
    settings = {"commit_interval_seconds": 3600.0, **settings}  # commits driven by the test
    svc, _, sink = service(join_consumer_factory=lambda: fake, sink=sink, **settings)
    return svc, fake, sink


async def started(svc: StreamService, fake: FakeConsumer, partitions: Sequence[int]) -> Any:
    task = asyncio.create_task(svc.join.run())
    await until(lambda: fake.started)
    await fake.assign(partitions)
    return task


def changelog(svc: StreamService) -> str:
    return f"{svc.settings.app_id}-pending-store-changelog"


def test_a_poll_is_handled_pending_first_and_committed_after_the_changelog() -> None:
    svc, fake, sink = join_service()
    order: list[str] = []
    flush = svc.table.flush

    async def logged_flush() -> int:
        n = await flush()
        order.append(f"flush {n}")
        return n

    svc.table.flush = logged_flush  # type: ignore[method-assign]
    commit = fake.commit

    async def logged_commit(offsets: dict[TopicPartition, int]) -> None:
        order.append("commit")
        await commit(offsets)

    fake.commit = logged_commit  # type: ignore[method-assign]

    async def go() -> None:
        task = await started(svc, fake, [0, 1])
        labels = [record(1, 7, label_bytes("b"), LABELS), record(0, 4, label_bytes("a"), LABELS)]
        items = [
            record(0, 3, pending_bytes("a"), PENDING),
            record(1, 9, pending_bytes("b"), PENDING),
        ]
        fake.put([*labels, *items])  # the labels first in the poll
        await until(lambda: len(sink.on("streamsift.training")) == 2)
        assert await svc.join.commit() == {
            TopicPartition(PENDING, 0): 4,
            TopicPartition(PENDING, 1): 10,
            TopicPartition(LABELS, 0): 5,
            TopicPartition(LABELS, 1): 8,
        }
        assert await svc.join.commit() == {}  # nothing new
        await svc.join.stop()
        await task

    asyncio.run(go())
    assert dead_letters(sink) == []  # no label was taken for an early one
    # pending entries, then the joined markers: one changelog record per key and write
    assert {(m.partition, m.key) for m in sink.on(changelog(svc))} == {(0, b"a"), (1, b"b")}
    assert order[:2] == ["flush 2", "commit"]  # the changelog is acknowledged first
    assert fake.topics == [PENDING, LABELS] and fake.stopped


def test_assignment_restores_each_partition_while_it_is_paused() -> None:
    reads: list[tuple[str, list[int], set[Any]]] = []
    svc, fake, _ = join_service()

    async def read(topic: str, partitions: Sequence[int]) -> dict[int, dict[bytes, bytes]]:
        reads.append((topic, list(partitions), set(fake.paused)))
        return {p: {} for p in partitions}

    svc.join._read = read

    async def go() -> None:
        svc.join.consumer = fake
        await svc.join.on_assigned([1, 3])
        assert fake.paused == set() and svc.join.assigned()

    asyncio.run(go())
    app = svc.settings.app_id
    paused = {(t, p) for t in (PENDING, LABELS) for p in (1, 3)}
    assert reads == [
        (f"{app}-pending-store-changelog", [1, 3], paused),
        (f"{app}-quality-store-changelog", [1, 3], paused),
    ]
    assert svc.table.partitions == svc.quality_table.partitions == {1, 3}
    assert svc.joiner.loaded_partitions == {1, 3}
    assert join_group(svc.settings) == f"{app}-join"


def test_revocation_finishes_the_poll_saves_commits_then_drops_the_state() -> None:
    sink = GatedSink()
    svc, fake, _ = join_service(sink=sink)
    join = svc.join

    async def go() -> None:
        task = await started(svc, fake, [0, 1])
        fake.put(
            [record(0, 3, pending_bytes("a"), PENDING), record(1, 8, pending_bytes("b"), PENDING)]
        )
        await until(lambda: len(svc.table) == 2)
        fake.put([record(0, 4, label_bytes("a"), LABELS)])
        await until(lambda: sink.waiting > 0)  # the training send waits for its ack
        revoking = asyncio.create_task(fake.revoke([0, 1]))
        await asyncio.sleep(0.05)
        assert not revoking.done() and fake.commits == []  # waits for the poll
        assert not join.assigned()  # /readyz: rebalancing
        sink.gate.set()
        await revoking
        assert fake.commits == [{(PENDING, 0): 4, (PENDING, 1): 9, (LABELS, 0): 5}]
        assert len(svc.table) == 0 and svc.table.partitions == frozenset()
        assert svc.joiner.loaded_partitions == frozenset()
        assert all(marks.due() == {} for marks in join.marks.values())
        # a poll returned before the revocation is not handled
        stale = {TopicPartition(LABELS, 1): [record(1, 9, label_bytes("b"), LABELS)]}
        assert await join.process(stale, join._generation - 1) == 0
        await fake.assign([1])  # partition 1 comes back: its pending item is restored
        assert sorted(svc.table) == [b"b"] and join.owned == {1}
        await join.stop()
        await task

    asyncio.run(go())
    # flushed once before the revocation's commit: the last value of each key
    entries = [(m.partition, m.key, m.value) for m in sink.on(changelog(svc))]
    assert [e[:2] for e in entries] == [(0, b"a"), (1, b"b")]
    assert b'"joined"' in (entries[0][2] or b"") and b'"pending"' in (entries[1][2] or b"")


def test_a_graceful_stop_commits_everything_handled_and_takes_nothing_more() -> None:
    svc, fake, sink = join_service()

    async def go() -> None:
        task = await started(svc, fake, [2])
        fake.put([record(2, 0, pending_bytes("a"), PENDING)])
        await until(lambda: len(svc.table) == 1)
        done = await svc.join.stop()
        assert done == {TopicPartition(PENDING, 2): 1}
        fake.put([record(2, 0, label_bytes("a"), LABELS)])
        await asyncio.wait_for(task, 2.0)  # the loop ends

    asyncio.run(go())
    assert sink.on("streamsift.training") == [] and fake.stopped
    assert fake.broker_committed == {(PENDING, 2): 1}
    assert [(m.partition, m.key) for m in sink.on(changelog(svc))] == [(2, b"a")]


def test_the_expiry_runs_between_polls_and_writes_where_the_key_lives() -> None:
    now = [1_767_225_600.0 + 10_000]  # the items were requested at T0: long expired
    svc, fake, sink = join_service(pending_ttl_seconds=60, expiry_check_seconds=0.01)
    svc.joiner.clock = lambda: now[0]

    async def go() -> None:
        task = await started(svc, fake, [0, 3])
        fake.put([record(3, 0, pending_bytes("x"), PENDING)])
        await until(lambda: svc.sampler.expired == 1)
        # flushed with the expiry, without a commit (the pending entry and its marker
        # coalesced: the last value of the key)
        await until(lambda: len(sink.on(changelog(svc))) == 1)
        assert fake.commits == []
        await svc.join.stop()
        await task

    asyncio.run(go())
    assert [(m.partition, m.key) for m in sink.on(changelog(svc))] == [(3, b"x")]
    assert b'"expired"' in (sink.on(changelog(svc))[-1].value or b"")


def test_a_partition_never_committed_by_the_join_group_resumes_from_the_app_group() -> None:
    asked: list[tuple[str, list[tuple[str, int]]]] = []

    async def legacy(group: str, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        asked.append((group, [(tp.topic, tp.partition) for tp in tps]))
        return {tp: 100 + tp.partition for tp in tps if tp.partition != 2}

    svc, _, _ = join_service()
    fake = FakeConsumer(committed={(PENDING, 0): 7, (LABELS, 0): 5}, topics=(PENDING, LABELS))
    join = JoinWiring(
        svc.settings,
        svc.joiner,
        svc.metrics,
        store=svc.table,
        quality_store=svc.quality_table,
        read=svc.join._read,
        consumer_factory=lambda: fake,
        legacy=legacy,
    )
    join.consumer = fake
    asyncio.run(join.on_assigned([0, 1, 2]))
    fresh = [(t, p) for t in (PENDING, LABELS) for p in (1, 2)]
    assert asked == [(svc.settings.app_id, fresh)]  # 0 has its own committed offsets
    assert fake.seeks == {(PENDING, 1): 101, (LABELS, 1): 101}  # 2: auto_offset_reset
    # the adopted offsets are committed in the join group at the next commit
    assert asyncio.run(join.commit()) == {
        TopicPartition(PENDING, 1): 101,
        TopicPartition(LABELS, 1): 101,
    }


def test_a_failed_restore_stops_the_loop_with_the_partitions_paused() -> None:
    svc, fake, _ = join_service()

    async def broken(topic: str, partitions: Sequence[int]) -> dict[int, dict[bytes, bytes]]:
        raise ConnectionError("changelog unreadable (test)")

    svc.join._read = broken

    async def go() -> None:
        task = await started(svc, fake, [0])
        assert fake.paused == {(PENDING, 0), (LABELS, 0)} and not svc.join.assigned()
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(task, 2.0)

    asyncio.run(go())
    assert fake.commits == [] and fake.stopped


def test_readiness_and_the_pending_and_labels_gauges_follow_the_join() -> None:
    svc, fake, _ = join_service()
    fake.broker_committed = {(PENDING, 0): 10, (LABELS, 0): 4}
    reg = svc.registry

    async def go() -> None:
        svc.health.broker_ok()
        svc.follower.ready.set()
        await svc.intake.on_assigned([0])  # (no consumer: the scorer's side is ready)
        assert svc.health.ready()[0] is False
        task = await started(svc, fake, [0])
        assert svc.health.ready()[0] is True
        fake.high = {(PENDING, 0): 15, (LABELS, 0): 4}
        svc.refresh_gauges()
        for kind, lag in (("pending", 5), ("labels", 0)):
            labels = {"topic": kind}
            assert reg.get_sample_value("streamsift_consumer_lag_messages", labels) == lag
            assert reg.get_sample_value("streamsift_worker_assigned_partitions", labels) == 1
        await fake.revoke([0])
        assert svc.health.ready()[0] is False
        await svc.join.stop()
        await task

    asyncio.run(go())


def test_a_revocation_during_a_restore_cancels_it_and_the_next_assignment_restores() -> None:
    svc, fake, sink = join_service()
    gate = asyncio.Event()
    read = svc.join._read
    reads: list[list[int]] = []

    async def slow(topic: str, partitions: Sequence[int]) -> dict[int, dict[bytes, bytes]]:
        reads.append(list(partitions))
        await gate.wait()  # a restore longer than the rebalance
        return await read(topic, partitions)

    svc.join._read = slow

    async def go() -> None:
        task = asyncio.create_task(svc.join.run())
        await until(lambda: fake.started)
        # the listener returns at once (aiokafka heartbeats again); the restore goes on
        await fake.listener.on_partitions_assigned({TopicPartition(PENDING, 0)})
        await until(lambda: reads == [[0]])
        assert fake.paused == {(PENDING, 0), (LABELS, 0)} and not svc.join.assigned()
        await fake.revoke([0])  # cancels the restore: nothing resumed, nothing kept
        assert fake.paused == {(PENDING, 0), (LABELS, 0)} and svc.table.partitions == set()
        gate.set()
        await fake.assign([0])
        assert svc.join.assigned() and fake.paused == set()
        assert svc.table.partitions == svc.quality_table.partitions == {0}
        await svc.join.stop()
        await task

    asyncio.run(go())
    assert fake.commits == [] and sink.sent == []
