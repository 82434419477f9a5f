"""Tier 2: the learner trains its own model and publishes it through the promotion gate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.core.types import LabelledItem
from streamsift.metrics import Metrics
from streamsift.stream.convert import encode_labelled
from streamsift.stream.follower import SnapshotFollower
from streamsift.stream.learner import Learner
from streamsift.stream.ports import MemorySink
from streamsift.stream.snapshots import OFFSET_HEADER, load_snapshot
from tests.stream.fakes import FakeModel, FakeSampler

KEY = "test-key"


class Rec:
    """A training record as aiokafka hands it over."""

    def __init__(self, offset: int, event_id: str, label: str = "yes") -> None:
        self.offset, self.key, self.topic, self.partition = offset, event_id.encode(), "t", 0
        self.value = encode_labelled(LabelledItem(event_id, {"x": 1.0}, label, p=0.5))
        self.timestamp = 0


class TrainingLog:
    """The one-partition training topic, as far as the learner's consumer reads it."""

    def __init__(
        self, tp: TopicPartition, records: list[Rec], committed: int | None = None
    ) -> None:
        self.tp, self.records, self.pos, self._committed = tp, records, 0, committed
        self.commits: list[dict[TopicPartition, int]] = []

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 0 for tps_ in [tps] for tp in tps_}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self._committed

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.pos = offset

    async def getmany(self, *tps: Any, **kw: Any) -> dict[TopicPartition, list[Rec]]:
        batch = [r for r in self.records if r.offset >= self.pos]
        self.pos = len(self.records)
        return {self.tp: batch}

    async def position(self, tp: TopicPartition) -> int:
        return self.pos

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


def make(**overrides: Any) -> tuple[Learner, FakeSampler, MemorySink, CollectorRegistry]:
    fields: dict[str, Any] = {
        "model_name": "m",
        "snapshot_hmac_key": KEY,
        "promotion_window_labels": 10,
        "promotion_min_labels": 4,
        "promotion_max_drop": 0.1,
    }
    s = Settings(**{**fields, **overrides})
    sampler, sink, reg = FakeSampler(), MemorySink(), CollectorRegistry()
    metrics = Metrics(reg)
    follower = SnapshotFollower(s, sampler, metrics)
    follower.ready.set()
    return Learner(s, sampler, sink, metrics, follower, clock=lambda: 0.0), sampler, sink, reg


def published(sink: MemorySink, s: Settings) -> list[tuple[Any, Any]]:
    return [
        load_snapshot(m.value, key=KEY.encode(), model_name="m")
        for m in sink.on(s.topic_model_snapshots)
    ]


def test_the_learner_trains_a_copy_and_the_scorer_takes_it_only_once_published() -> None:
    learner, sampler, sink, _reg = make()
    log = TrainingLog(learner.tp, [Rec(i, f"e{i}") for i in range(6)])
    learner._consumer = log

    async def go() -> None:
        await learner.on_assigned([learner.tp])
        assert log.pos == 0 and learner.published is None  # nothing published yet
        await learner.learn_records(log.records)
        assert sampler.model.labels_seen == 0  # the scorer's model was not touched
        assert await learner.snapshot()

    asyncio.run(go())
    [(header, model)] = published(sink, learner.settings)
    assert header.model_version == 1 and header.labels_seen == 6 == model.labels_seen
    assert learner.published == model and learner.published is not learner.model
    assert log.commits == [{learner.tp: 6}]
    # This worker's follower swaps the published snapshot in, like any other worker's.
    [msg] = sink.on(learner.settings.topic_model_snapshots)
    assert learner.follower.offer(msg.value, msg.headers)
    assert sampler.swapped and sampler.swapped[-1].version == 1


def test_a_far_worse_model_is_withheld_until_it_recovers() -> None:
    learner, sampler, sink, reg = make()
    sampler.model = FakeModel(version=3, labels_seen=100, answer="yes")  # the published model
    learner.follower.training_offset = 99
    log = TrainingLog(learner.tp, [Rec(i, f"e{i}", "yes") for i in range(110)])
    learner._consumer = log

    async def go() -> None:
        await learner.on_assigned([learner.tp])
        assert log.pos == 100 and learner.published is sampler.model
        assert len(learner.gate) == 10  # filled from the latest records before the resume
        learner.model.answer = "no"  # the learner's copy collapses to the wrong class
        await learner.learn_records(log.records[100:])
        assert not await learner.snapshot()
        assert sink.on(learner.settings.topic_model_snapshots) == []
        assert learner._snapshot_offset == 99 and log.commits == []  # offsets stay put
        assert not learner.snapshot_due()  # the cadence restarts
        learner.model.answer = "yes"  # recovered
        assert await learner.snapshot()

    asyncio.run(go())
    assert reg.get_sample_value("streamsift_learner_snapshots_withheld_total") == 1
    assert reg.get_sample_value("streamsift_learner_snapshots_published_total") == 1
    acc = "streamsift_learner_promotion_accuracy_ratio"
    assert reg.get_sample_value(acc, {"model": "candidate"}) == 1.0
    assert reg.get_sample_value(acc, {"model": "published"}) == 1.0
    [(header, model)] = published(sink, learner.settings)
    assert header.model_version == 4 and model.labels_seen == 110


def test_a_new_owner_resumes_from_its_own_newer_snapshot() -> None:
    learner, _sampler, sink, _reg = make(snapshot_every_labels=5)
    log = TrainingLog(learner.tp, [Rec(i, f"e{i}") for i in range(20)])
    learner._consumer = log

    async def go() -> None:
        await learner.on_assigned([learner.tp])
        await learner.learn_records(log.records[:8])
        assert await learner.snapshot()
        await learner.on_revoked()  # nothing new: no snapshot
        # Assigned again before this worker's follower heard of its own snapshot.
        await learner.on_assigned([learner.tp])
        assert log.pos == 8 and learner.published.version == 1
        assert learner.model.labels_seen == 8 and learner.model is not learner.published

    asyncio.run(go())
    assert len(published(sink, learner.settings)) == 1
    [msg] = sink.on(learner.settings.topic_model_snapshots)
    assert dict(msg.headers or [])[OFFSET_HEADER] == b"7"


def test_the_gate_can_be_disabled() -> None:
    learner, _sampler, sink, reg = make(promotion_max_drop=1.0)
    learner.published = FakeModel(version=1, answer="yes")
    learner.model = FakeModel(version=1, answer="no")
    learner.owner = True

    async def go() -> None:
        await learner.learn_records([Rec(i, f"e{i}") for i in range(6)])
        assert await learner.snapshot()

    asyncio.run(go())
    [(header, model)] = published(sink, learner.settings)
    assert header.model_version == 2 and model.answer == "no"
    assert reg.get_sample_value("streamsift_learner_snapshots_withheld_total") == 0


def test_without_a_verified_snapshot_the_learner_relearns_every_retained_label(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An earlier owner committed offset 8, but no snapshot verifies (a rotated key):
    # starting at 8 with an empty model would drop the first 8 labels for good.
    learner, _sampler, _sink, _reg = make()
    log = TrainingLog(learner.tp, [Rec(i, f"e{i}") for i in range(12)], committed=8)
    learner._consumer = log

    async def go() -> None:
        await learner.on_assigned([learner.tp])
        assert log.pos == 0 and learner.published is None
        batch = await log.getmany()
        await learner.learn_records(batch[learner.tp])

    with caplog.at_level("WARNING"):
        asyncio.run(go())
    assert learner.model.labels_seen == 12
    assert "relearning the training topic from offset 0" in caplog.text


class ChangingModel(FakeModel):
    """A model whose concept watch raises an alarm on every "no" label."""

    concept_changes = 0
    relearning = False
    relearn_labels = 200


class ChangingSampler(FakeSampler):
    def learn(self, item: LabelledItem, model: Any = None) -> None:
        super().learn(item, model)
        target = self.model if model is None else model
        if item.label == "no":
            target.concept_changes += 1
            target.relearning = True


def test_concept_changes_are_counted_and_the_workers_report_relearning() -> None:
    learner, _sampler, sink, reg = make()
    sampler = ChangingSampler()
    sampler.model = ChangingModel()
    learner.sampler = sampler
    learner.follower.sampler = sampler
    records = [Rec(i, f"e{i}", label="no" if i in (3, 5) else "yes") for i in range(6)]
    log = TrainingLog(learner.tp, records)
    learner._consumer = log

    async def go() -> None:
        await learner.on_assigned([learner.tp])
        await learner.learn_records(log.records[:3])
        assert reg.get_sample_value("streamsift_learner_concept_changes_total") == 0
        await learner.learn_records(log.records[3:])
        assert await learner.snapshot()

    asyncio.run(go())
    assert reg.get_sample_value("streamsift_learner_concept_changes_total") == 2
    [msg] = sink.on(learner.settings.topic_model_snapshots)
    assert reg.get_sample_value("streamsift_model_relearning") == 0
    assert learner.follower.offer(msg.value, msg.headers)
    assert reg.get_sample_value("streamsift_model_relearning") == 1


def test_a_snapshot_from_before_the_concept_watch_gets_one_in_the_learner() -> None:
    from streamsift.core.online import OnlineModel

    learner, sampler, _sink, _reg = make(concept_delta=0.02, relearn_labels=7)
    old = OnlineModel("hoeffding")  # a model pickled before the watch: none
    assert old._concept is None
    sampler.model = old
    learner._consumer = TrainingLog(learner.tp, [])
    asyncio.run(learner.on_assigned([learner.tp]))
    assert repr(learner.model._concept) == "ConceptWatch(delta=0.02, relearn_labels=7)"
    assert sampler.model._concept is None  # the scorer's model is not touched
