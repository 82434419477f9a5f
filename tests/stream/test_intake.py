"""Tier 2: the scorer's intake (an aiokafka ``getmany`` loop) with a fake consumer.

The fake stands in for ``AIOKafkaConsumer``: the test queues polls, drives the
rebalance listener (assignment, revocation) and sees every commit and seek. The
service around it is the real :class:`StreamService` with a memory sink.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, IllegalStateError

from streamsift.stream.app import StreamService
from streamsift.stream.intake import ScorerIntake, scorer_group
from streamsift.stream.ports import MemorySink
from tests.stream.fakes import MALFORMED, dead_letters, decided_ids, event_bytes
from tests.stream.test_agents import service, until

TOPIC = "streamsift.inference-events"


def record(partition: int, offset: int, value: bytes | None, topic: str = TOPIC) -> Any:
    """What the intake reads of an aiokafka ``ConsumerRecord``."""
    return SimpleNamespace(
        topic=topic,
        partition=partition,
        offset=offset,
        key=b"k",
        value=value,
        timestamp=1_767_225_600_000 + offset,
    )


class FakeConsumer:
    """The parts of ``AIOKafkaConsumer`` the consumer loops use, driven by the test.

    Over one topic, commits, seeks, pauses and high-water marks are keyed by
    partition; over several (the join), by ``(topic, partition)``.
    """

    def __init__(
        self, committed: Mapping[Any, int] | None = None, topics: Sequence[str] = (TOPIC,)
    ) -> None:
        self.listener: Any = None
        self.topics: list[str] = []
        self.assignable = tuple(topics)
        self.polls: asyncio.Queue[dict[TopicPartition, list[Any]]] = asyncio.Queue()
        self.started = self.stopped = False
        self.commits: list[dict[Any, int]] = []
        self.seeks: dict[Any, int] = {}
        self.broker_committed = dict(committed or {})
        self.high: dict[Any, int] = {}
        self.refuse_commits = False
        self.paused: set[Any] = set()

    def key(self, tp: TopicPartition) -> Any:
        return tp.partition if len(self.assignable) == 1 else (tp.topic, tp.partition)

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.topics, self.listener = topics, listener

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        if self.stopped:
            raise ConsumerStoppedError()
        try:
            poll = await asyncio.wait_for(self.polls.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}
        assert not self.paused, "records returned from a paused partition"
        return poll

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.broker_committed.get(self.key(tp))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[self.key(tp)] = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.stopped:  # aiokafka: the client is closed, nothing reaches the broker
            raise IllegalStateError("commit on a stopped consumer (test)")
        if self.refuse_commits:
            raise CommitFailedError("rebalanced (test)")
        done = {self.key(tp): off for tp, off in offsets.items()}
        self.commits.append(done)
        self.broker_committed.update(done)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= {self.key(tp) for tp in tps}

    def resume(self, *tps: TopicPartition) -> None:
        self.paused -= {self.key(tp) for tp in tps}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high.get(self.key(tp))

    # --- driven by the test
    def _tps(self, partitions: Sequence[int]) -> set[TopicPartition]:
        return {TopicPartition(t, p) for t in self.assignable for p in partitions}

    async def assign(self, partitions: Sequence[int]) -> None:
        await self.listener.on_partitions_assigned(self._tps(partitions))
        await self.listener.loop.settled()  # positioned in the background

    async def revoke(self, partitions: Sequence[int]) -> None:
        await self.listener.on_partitions_revoked(self._tps(partitions))

    def put(self, records: Sequence[Any]) -> None:
        poll: dict[TopicPartition, list[Any]] = {}
        for r in records:
            poll.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        self.polls.put_nowait(poll)


def with_consumer(fake: FakeConsumer, **settings: Any) -> StreamService:
    svc, _, _ = service(consumer_factory=lambda: fake, **settings)
    return svc


async def started(svc: StreamService, fake: FakeConsumer, partitions: Sequence[int]) -> Any:
    task = asyncio.create_task(svc.intake.run())
    await until(lambda: fake.started)
    await fake.assign(partitions)
    return task


def test_each_poll_is_one_batch_bad_input_dead_lettered_the_rest_decided() -> None:
    fake = FakeConsumer()
    svc = with_consumer(fake)
    sampler, sink = svc.sampler, svc.sink
    assert isinstance(sink, MemorySink)

    async def go() -> None:
        task = await started(svc, fake, [0, 1])
        values = [event_bytes(f"e{i}", select=i == 3) for i in range(10)]
        values += list(MALFORMED.values())
        values.append(event_bytes("e1"))  # producer retry of e1
        fake.put([record(i % 2, i // 2, v) for i, v in enumerate(values)])
        await until(lambda: len(sampler.decided) == 10 and len(dead_letters(sink)) == 7)
        await svc.intake.stop()
        await task

    asyncio.run(go())
    assert fake.topics == [TOPIC] and fake.stopped
    assert sorted(d.reason for d in dead_letters(sink)) == sorted(MALFORMED)
    assert sorted(decided_ids(sink)) == sorted(f"e{i}" for i in range(10))
    # one poll, one batch: one decision record per source partition
    assert sorted(m.partition for m in sink.on("streamsift.decisions")) == [0, 1]
    assert [m.key for m in sink.on("streamsift.label-requests")] == [b"e3"]
    reg = svc.registry
    assert reg.get_sample_value("streamsift_scorer_duplicates_total", {"kind": "duplicate"}) == 1
    assert reg.get_sample_value("streamsift_scorer_events_consumed_total") == 18
    assert reg.get_sample_value("streamsift_scorer_batch_duration_seconds_count") == 1
    assert fake.commits == [{0: 9, 1: 9}]  # the stop committed one past each last record


def test_marks_are_committed_periodically_and_only_for_owned_partitions() -> None:
    fake = FakeConsumer()
    svc = with_consumer(fake, commit_interval_seconds=0.05)
    sampler = svc.sampler

    async def go() -> None:
        task = await started(svc, fake, [0, 1])
        fake.put([record(0, 5, event_bytes("a")), record(1, 7, event_bytes("b"))])
        fake.put([record(0, 6, event_bytes("c")), record(2, 1, event_bytes("x"))])
        await until(lambda: len(sampler.decided) == 3)
        await until(lambda: fake.broker_committed == {0: 7, 1: 8})
        assert await svc.commit_processed() == {}  # nothing new
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert "x" not in sampler.decided  # partition 2 is not ours
    assert all(set(c) <= {0, 1} for c in fake.commits)
    assert fake.stopped  # cancelled: the consumer still stops


def test_a_refused_commit_stays_due() -> None:
    fake = FakeConsumer()
    svc = with_consumer(fake)

    async def go() -> None:
        task = await started(svc, fake, [0])
        fake.put([record(0, 41, event_bytes("a"))])
        await until(lambda: svc.offsets.processed_offset(0) == 42)
        fake.refuse_commits = True
        with pytest.raises(CommitFailedError):
            await svc.commit_processed()
        assert svc.offsets.due() == {0: 42}
        fake.refuse_commits = False
        assert await svc.commit_processed() == {0: 42}
        await svc.intake.stop()
        await task

    asyncio.run(go())


def test_a_poll_is_dropped_when_stale_rebalancing_stopping_or_not_owned() -> None:
    fake = FakeConsumer()
    svc = with_consumer(fake)
    intake, sampler = svc.intake, svc.sampler
    poll = {TopicPartition(TOPIC, 0): [record(0, 1, event_bytes("a"))]}

    async def go() -> None:
        intake.consumer = fake
        assert await intake.process(poll, 0) == 0  # nothing assigned yet
        await intake.on_assigned([0])
        gen = intake._generation
        assert await intake.process(poll, gen - 1) == 0  # polled before the assignment
        await intake.on_revoked([0])
        assert await intake.process(poll, gen) == 0  # polled before the revocation
        await intake.on_assigned([1])
        assert await intake.process(poll, intake._generation) == 0  # partition 0 is not ours
        await intake.on_assigned([0])
        intake.stopping = True
        assert await intake.process(poll, intake._generation) == 0
        intake.stopping = False
        assert await intake.process(poll, intake._generation) == 1

    asyncio.run(go())
    assert sampler.decided == ["a"]


class GatedSink(MemorySink):
    """Holds every acknowledgement until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def send(self, topic: str, value: bytes | None, **kw: Any) -> Any:
        ack = await super().send(topic, value, **kw)

        async def later() -> Any:
            self.waiting += 1
            await self.gate.wait()
            return await ack

        return later()


def test_revocation_finishes_the_batch_in_flight_commits_then_forgets() -> None:
    fake = FakeConsumer()
    sink = GatedSink()
    svc, sampler, _ = service(consumer_factory=lambda: fake, sink=sink)
    intake = svc.intake

    async def go() -> None:
        task = await started(svc, fake, [0, 1])
        fake.put([record(0, 3, event_bytes("a")), record(1, 8, event_bytes("b"))])
        await until(lambda: sink.waiting > 0)  # the batch waits for its acks
        revoking = asyncio.create_task(fake.revoke([0, 1]))
        await asyncio.sleep(0.05)
        assert not revoking.done() and fake.commits == []  # waits for the batch
        assert not intake.assigned()  # /readyz: rebalancing
        sink.gate.set()
        await revoking
        assert fake.commits == [{0: 4, 1: 9}]
        assert intake.offsets.due() == {} and intake.offsets.processed_offset(0) is None
        assert not svc.scorer.dedupe.is_loaded(0) and len(svc.scorer.dedupe) == 0
        await fake.assign([1])
        assert intake.assigned() and intake.owned == {1}
        await intake.stop()
        await task

    asyncio.run(go())
    assert sampler.decided == ["a", "b"]


def test_a_batch_outlasting_the_revocation_timeout_marks_nothing() -> None:
    fake = FakeConsumer()
    sink = GatedSink()
    svc, sampler, _ = service(consumer_factory=lambda: fake, sink=sink)
    intake = svc.intake
    intake.revoke_timeout = 0.05

    async def go() -> None:
        task = await started(svc, fake, [0])
        fake.put([record(0, 3, event_bytes("a"))])
        await until(lambda: sink.waiting > 0)
        await fake.revoke([0])  # gives up waiting, forgets partition 0
        assert fake.commits == [] and intake.owned == set()
        sink.gate.set()
        batches = "streamsift_scorer_batch_duration_seconds_count"
        await until(lambda: svc.registry.get_sample_value(batches) == 1)
        assert sampler.decided == ["a"]
        # the batch finished after its partition was forgotten: no mark to commit later
        assert intake.offsets.processed_offset(0) is None
        await fake.assign([0])
        assert await svc.commit_processed() == {}
        await intake.stop()
        await task

    asyncio.run(go())


def test_a_graceful_stop_commits_everything_processed_and_takes_nothing_more() -> None:
    fake = FakeConsumer()
    svc = with_consumer(fake)
    sampler = svc.sampler

    async def go() -> None:
        task = await started(svc, fake, [0])
        fake.put([record(0, 0, event_bytes("before"))])
        await until(lambda: sampler.decided == ["before"])
        done = await svc.intake.stop()
        assert done == {0: 1}
        fake.put([record(0, 1, event_bytes("after"))])
        await asyncio.wait_for(task, 2.0)  # the loop ends

    asyncio.run(go())
    assert sampler.decided == ["before"] and fake.stopped
    assert fake.broker_committed == {0: 1}


def test_the_loop_leaves_the_consumer_open_until_the_stop_has_committed() -> None:
    """The run loop sees ``stopping`` at its next poll, which may come while the stop
    is still flushing: closing the consumer then made the stop's commit fail (a CI
    run of 2026-11-27 found 274 of 300 handled labels committed after a graceful
    stop, the last periodic commit)."""
    fake = FakeConsumer()
    svc = with_consumer(fake, take_within_seconds=0.005, commit_interval_seconds=3600.0)
    intake = svc.intake
    slow = asyncio.Event()

    async def slow_flush() -> None:
        slow.set()
        await asyncio.sleep(0.2)  # several polls of the loop meanwhile

    async def go() -> None:
        task = await started(svc, fake, [0])
        fake.put([record(0, 0, event_bytes("a")), record(0, 1, event_bytes("b"))])
        await until(lambda: svc.sampler.decided == ["a", "b"])
        intake.before_commit = slow_flush  # type: ignore[method-assign]
        done = await intake.stop()
        assert slow.is_set() and done == {0: 2}
        await asyncio.wait_for(task, 2.0)

    asyncio.run(go())
    assert fake.broker_committed == {0: 2} and fake.stopped


def test_a_partition_never_committed_by_the_scorer_group_resumes_from_the_app_group() -> None:
    asked: list[tuple[str, list[int]]] = []

    async def legacy(group: str, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        asked.append((group, [tp.partition for tp in tps]))
        return {tp: 100 + tp.partition for tp in tps if tp.partition != 2}

    fake = FakeConsumer(committed={0: 7})
    svc, _, _ = service()
    intake = ScorerIntake(
        svc.settings, svc.scorer, svc.metrics, consumer_factory=lambda: fake, legacy=legacy
    )
    intake.consumer = fake
    asyncio.run(intake.on_assigned([0, 1, 2]))
    assert asked == [(svc.settings.app_id, [1, 2])]  # 0 has its own committed offset
    assert fake.seeks == {1: 101}  # 2 was never committed anywhere: auto_offset_reset
    assert scorer_group(svc.settings) == f"{svc.settings.app_id}-scorer"


def test_readiness_and_lag_follow_the_intake() -> None:
    fake = FakeConsumer(committed={0: 10, 1: 20})
    svc = with_consumer(fake)
    reg = svc.registry

    async def go() -> None:
        svc.health.broker_ok()
        svc.follower.ready.set()
        assert svc.health.checks()["partitions_assigned"] is False
        task = await started(svc, fake, [0, 1])
        assert svc.health.ready()[0] is False  # the join has no partitions yet
        await svc.join.on_assigned([0, 1])  # (no consumer: nothing to position)
        assert svc.health.ready()[0] is True
        fake.high = {0: 15, 1: 20}
        svc.refresh_gauges()
        lag = {"topic": "inference-events"}
        assert reg.get_sample_value("streamsift_consumer_lag_messages", lag) == 5
        assert reg.get_sample_value("streamsift_worker_assigned_partitions", lag) == 2
        fake.put([record(0, 10, event_bytes("a")), record(0, 11, event_bytes("b"))])
        await until(lambda: svc.offsets.processed_offset(0) == 12)
        await svc.commit_processed()
        svc.refresh_gauges()
        assert reg.get_sample_value("streamsift_consumer_lag_messages", lag) == 3
        await fake.revoke([0, 1])
        assert svc.health.ready()[0] is False
        await svc.intake.stop()
        await task

    asyncio.run(go())


def test_a_failed_batch_stops_the_loop_uncommitted() -> None:
    fake = FakeConsumer()
    svc = with_consumer(fake)
    sink = svc.sink
    assert isinstance(sink, MemorySink)
    sink.fail_topics.add("streamsift.decisions")

    async def go() -> None:
        task = await started(svc, fake, [0])
        fake.put([record(0, 0, event_bytes("a"))])
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(task, 2.0)

    asyncio.run(go())
    assert svc.offsets.due() == {} and fake.commits == [] and fake.stopped


def test_full_collections_are_made_rare_and_the_thresholds_kept_otherwise() -> None:
    import gc

    from streamsift.stream.intake import quiet_full_collections

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        assert quiet_full_collections(1_000) == (700, 10, 10)
        assert gc.get_threshold() == (700, 10, 1_000)
        gc.set_threshold(700, 10, 5_000)  # already rarer: left alone
        quiet_full_collections(1_000)
        assert gc.get_threshold() == (700, 10, 5_000)
        gc.set_threshold(0, 10, 10)  # collector disabled by threshold: left alone
        quiet_full_collections(1_000)
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*saved)
