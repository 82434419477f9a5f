"""The learner: one writer trains the model and publishes signed snapshots.

Joined labels arrive on the single-partition training topic. Every worker runs a
:class:`Learner`, but they share one consumer group over that one partition, so
exactly one of them owns it at a time: the group membership is the leader
election, and a failover is a rebalance.

**Offsets and crashes.** A snapshot records the last training offset it includes
(Kafka header ``streamsift-training-offset``). When the learner is assigned the
partition it waits for the snapshot follower's initial read, takes the model of
the newest verified snapshot and resumes at that offset + 1 -- not at the group's
committed offset. A crash therefore never loses a label the model had not
snapshotted (labels after the snapshot are read again) and never applies one twice
to the snapshotted model. The committed offset is also moved after each snapshot,
for lag monitoring only. With no verified snapshot at all (none published yet, or a
rotated key refusing them all) it learns the training topic from its first retained
record. Labels joined twice (a join replayed after a crash) are
skipped by event id over the last ``DEDUPE_LABELS`` training records, which are
re-read on assignment.

**Its own model, published through a gate.** The learner trains a copy of the
model it started from, never the model this worker's scorer uses: the scorer,
like every other worker's, swaps to a snapshot only once it is published. Before
publishing, :class:`~streamsift.core.promotion.PromotionGate` compares the copy
with the last published model on the latest ``promotion_window_labels`` labels; a
copy far less accurate (a small tree whose new leaves, after a split, have no
naive-Bayes statistics yet can predict one class for every event) is withheld and
counted, and keeps learning until a later snapshot passes. A withheld snapshot moves no offset: a
crash resumes from the last published one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition

from streamsift.config import Settings
from streamsift.core.promotion import PromotionGate
from streamsift.errors import SchemaError
from streamsift.metrics import Metrics
from streamsift.stream.convert import decode_labelled
from streamsift.stream.deadletter import DeadLetters
from streamsift.stream.follower import SnapshotFollower
from streamsift.stream.kafka_io import make_consumer, read_range
from streamsift.stream.ports import SamplerLike, Sink
from streamsift.stream.records import from_consumer_record
from streamsift.stream.snapshots import (
    OFFSET_HEADER,
    copy_model,
    encode_model_snapshot,
    load_snapshot,
)

__all__ = ["Learner"]

log = logging.getLogger(__name__)

#: Event ids remembered to skip labels joined twice.
DEDUPE_LABELS: int = 10_000


class _Listener(ConsumerRebalanceListener):
    def __init__(self, learner: Learner) -> None:
        self.learner = learner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.learner.on_revoked()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.learner.on_assigned(list(assigned))


class Learner:
    """Learn from the training topic when this worker owns it; publish snapshots.

    Parameters
    ----------
    settings
        Topics, snapshot cadence and key, model name.
    sampler
        ``learn(item, model)`` and ``model``: the model the learner starts from
        before any snapshot (``bump_version``, ``version``, ``labels_seen``).
    sink
        Where snapshots (and dead letters of bad training records) go.
    metrics
        The project's metrics.
    follower
        This worker's snapshot follower (newest verified snapshot and its offset).
    clock
        Wall clock, seconds since the epoch.
    """

    def __init__(
        self,
        settings: Settings,
        sampler: SamplerLike,
        sink: Sink,
        metrics: Metrics,
        follower: SnapshotFollower,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sampler = sampler
        self.sink = sink
        self.metrics = metrics
        self.follower = follower
        self.clock = clock
        self.dead_letters = DeadLetters(sink, settings.topic_dead_letters, metrics, clock)
        self.tp = TopicPartition(settings.topic_training, 0)
        self.owner = False
        self._consumer: Any = None
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._last_offset: int | None = None
        self._snapshot_offset: int | None = None
        self._since_snapshot = 0
        self._last_snapshot_at = clock()
        self.model: Any = None  # the learner's own model, trained while owner
        self.published: Any = None  # the last model published (a frozen copy)
        self.gate = PromotionGate(
            window=settings.promotion_window_labels,
            min_labels=settings.promotion_min_labels,
            max_drop=settings.promotion_max_drop,
        )

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Become the learner: restore from the newest snapshot, seek past it."""
        if self.tp not in assigned:
            return
        await self.follower.ready.wait()
        consumer = self._consumer
        own = self._snapshot_offset
        theirs = self.follower.training_offset
        resume_after: int | None
        if own is not None and self.published is not None and (theirs is None or own >= theirs):
            resume_after, base = own, self.published
        else:  # the follower's newest verified snapshot, or the initial model
            resume_after, base = theirs, self.sampler.model
        self.published = base if int(getattr(base, "version", 0)) > 0 else None
        self.model = self._configured(copy_model(base))
        low = (await consumer.beginning_offsets([self.tp]))[self.tp]
        if resume_after is None:
            # No verified snapshot: the model starts from nothing, so it learns every
            # label retained. The committed offset only says how far an earlier owner
            # got (for lag monitoring); a group with a committed offset but no snapshot
            # that verifies is a rotated HMAC key or a changed model name.
            committed = await consumer.committed(self.tp)
            if committed is not None and committed > low:
                log.warning(
                    "learner: no verified snapshot, but the learner group committed offset"
                    " %d: relearning the training topic from offset %d (a rotated"
                    " snapshot key or a changed model name refuses the old snapshots)",
                    committed,
                    low,
                )
            start = low
        else:
            start = max(low, resume_after + 1)
        self._recent.clear()
        self.gate.clear()
        before = await read_range(consumer, self.tp, max(low, start - DEDUPE_LABELS), start)
        for rec in before:
            self._remember(rec.key)
        for rec in before[-self.gate.window :]:  # the latest labels, for the gate
            try:
                item = decode_labelled(rec.value)
            except SchemaError:
                continue
            self.gate.observe(item.features, item.label)
        consumer.seek(self.tp, start)
        self._last_offset = start - 1 if start > low else None
        self._snapshot_offset = self._last_offset
        self._since_snapshot = 0
        self._last_snapshot_at = self.clock()
        self.owner = True
        log.info("learner: owning %s from offset %d", self.settings.topic_training, start)

    async def on_revoked(self) -> None:
        """Hand over: snapshot what was learned since the last snapshot."""
        if self.owner and self._since_snapshot:
            await self.snapshot()
        self.owner = False

    def _remember(self, key: bytes | None) -> bool:
        """Record an event id; return False if it was already learned."""
        if key is None:
            return True
        eid = key.decode("utf-8", "replace")
        if eid in self._recent:
            return False
        self._recent[eid] = None
        while len(self._recent) > DEDUPE_LABELS:
            self._recent.popitem(last=False)
        return True

    async def learn_records(self, records: list[Any]) -> int:
        """Learn a batch of training records; return how many were learned."""
        learned = 0
        model = self._own_model()
        changes = int(getattr(model, "concept_changes", 0))
        for rec in records:
            self._last_offset = rec.offset
            try:
                item = decode_labelled(rec.value)
            except SchemaError as err:
                source = from_consumer_record(rec)
                await (
                    await self.dead_letters.send(
                        source, source="training", reason=err.reason, detail=err.detail
                    )
                )
                continue
            if not self._remember(item.event_id.encode()):
                continue
            self.sampler.learn(item, model)
            self.gate.observe(item.features, item.label)
            learned += 1
        self._since_snapshot += learned
        self.metrics.labels_learned.inc(learned)
        seen = int(getattr(model, "concept_changes", 0)) - changes
        if seen > 0:
            self.metrics.concept_changes.inc(seen)
            log.warning(
                "learner: concept change on the labels (confident predictions turning out"
                " wrong); the model's leaves forget the old labels and the workers sample"
                " uniformly for the next %d labels",
                int(getattr(model, "relearn_labels", 0)),
            )
        return learned

    def _own_model(self) -> Any:
        """The learner's model; before any assignment (tests) a copy of the scorer's."""
        if self.model is None:
            self.model = self._configured(copy_model(self.sampler.model))
        return self.model

    def _configured(self, model: Any) -> Any:
        """``model`` with the configured concept watch (a snapshot pickled before the
        watch, or under other settings, gets a fresh one; the same one keeps its state)."""
        configure = getattr(model, "configure_watch", None)
        if configure is not None:
            configure(self.settings.concept_delta, self.settings.relearn_labels)
        return model

    def snapshot_due(self) -> bool:
        """Whether N labels or T seconds (with something new) passed since the last one."""
        s = self.settings
        if self._since_snapshot >= s.snapshot_every_labels:
            return True
        elapsed = self.clock() - self._last_snapshot_at
        return self._since_snapshot > 0 and elapsed >= s.snapshot_every_seconds

    async def snapshot(self) -> bool:
        """Publish the learner's model if the gate lets it; return whether it did.

        Published: bump the version, send a signed snapshot, wait for the ack, commit
        the training offset. Withheld: count it and carry on learning; offsets stay at
        the last published snapshot.
        """
        s = self.settings
        model = self._own_model()
        verdict = self.gate.judge(model, self.published)
        if not math.isnan(verdict.candidate_accuracy):
            self.metrics.promotion_accuracy.labels(model="candidate").set(
                verdict.candidate_accuracy
            )
            self.metrics.promotion_accuracy.labels(model="published").set(
                verdict.published_accuracy
            )
        if not verdict.promote:
            self._since_snapshot = 0
            self._last_snapshot_at = self.clock()
            self.metrics.snapshots_withheld.inc()
            log.warning(
                "learner: snapshot withheld, accuracy on the latest %d labels %.3f against"
                " %.3f for the published version %d",
                verdict.labels,
                verdict.candidate_accuracy,
                verdict.published_accuracy,
                int(getattr(self.published, "version", 0)),
            )
            return False
        model.bump_version()
        raw = encode_model_snapshot(model, s, self.clock())
        offset = -1 if self._last_offset is None else self._last_offset
        headers = [(OFFSET_HEADER, str(offset).encode("ascii"))]
        ack = await self.sink.send(
            s.topic_model_snapshots, raw, key=s.model_name.encode(), headers=headers
        )
        await ack
        self.published = load_snapshot(
            raw, key=s.snapshot_hmac_key.get_secret_value().encode(), model_name=s.model_name
        )[1]
        self._snapshot_offset = self._last_offset
        self._since_snapshot = 0
        self._last_snapshot_at = self.clock()
        self.metrics.snapshots_published.inc()
        self.metrics.model_version.set(model.version)
        if self._consumer is not None and self._last_offset is not None and self.owner:
            await self._consumer.commit({self.tp: self._last_offset + 1})
        log.info("learner: snapshot version %d at training offset %d", model.version, offset)
        return True

    async def run(self) -> None:
        """Consume the training topic in the learner group until cancelled."""
        s = self.settings
        consumer = make_consumer(
            s,
            group_id=f"{s.app_id}-learner",
            session_timeout_ms=int(s.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_seconds * 1000),
        )
        self._consumer = consumer
        consumer.subscribe([s.topic_training], listener=_Listener(self))
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=1_000)
                if self.owner:
                    for records in batch.values():
                        await self.learn_records(records)
                    if self.snapshot_due():
                        await self.snapshot()
                await asyncio.sleep(0)
        finally:
            await consumer.stop()

    async def close(self) -> None:
        """Graceful stop: snapshot what was learned since the last snapshot.

        Called before the app's producer stops; a crash instead just leaves the
        labels after the last snapshot to be learned again by the next owner.
        """
        if self.owner and self._since_snapshot:
            await self.snapshot()
