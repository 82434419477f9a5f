"""The scorer's intake: a plain aiokafka consumer loop over inference-events.

The scorer does not run as a faust agent. :class:`ScorerIntake` consumes
inference-events with its own :class:`aiokafka.AIOKafkaConsumer` in the consumer
group ``<app_id>-scorer`` and hands every poll (``getmany(max_records=take_batch,
timeout_ms=take_within)``) to :meth:`Scorer.process` as one batch. Why: in
faust-streaming 0.15.3 an agent receives records one at a time (per record, mode's
``wait_first`` creates two tasks and an ``asyncio.wait``, then the conductor's
``on_message`` and the stream's take buffer); py-spy put that delivery at ~52 % of
the worker's event loop, about twice ``Scorer.process`` itself. And faust's
per-event acks were already off for this topic (its ack bookkeeping stalls
commits after a rebalance, see :mod:`streamsift.stream.offsets`). The join and the
learner keep using faust and the learner's own loop as before.

Guarantees (the same as the agent's):

* **At-least-once, commit after the acks.** A batch's offsets are marked (one past
  its last record per partition) only after ``Scorer.process`` returned, i.e. after
  every message it caused was acknowledged. Marks are committed every
  ``commit_interval_seconds`` between batches, for revoked partitions before they
  are given up, and at a graceful stop.
* **Rebalances.** The rebalance listener waits for the batch in flight, commits the
  marks of everything owned, forgets the revoked partitions (marks, dedupe set);
  an assigned partition's dedupe set is rebuilt from the decision log by the
  scorer on its first batch (and crashed requests re-sent). A batch polled before
  a rebalance started is not processed: the partition's owner reads it again from
  the committed offset.
* **Graceful stop** (:meth:`stop`): no batch is started any more, the batch in
  flight finishes, everything processed is committed, the consumer leaves the group.
* **Upgrade.** A partition without a committed offset in the scorer group starts
  from the offset the faust agent committed in the app's group (``app_id``) when
  there is one, so an upgraded worker does not re-read the whole topic.

A failed send raises out of :meth:`run` and crashes the worker (faust crashes the
app when one of its tasks raises): the batch is not committed and the next owner
recovers it (:mod:`streamsift.stream.recovery`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import ConsumerStoppedError

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.kafka_config import aiokafka_kwargs
from streamsift.stream.kafka_io import make_consumer
from streamsift.stream.offsets import ProcessedOffsets
from streamsift.stream.records import SourceRecord, from_consumer_record
from streamsift.stream.scorer import Scorer

__all__ = ["ScorerIntake", "legacy_offsets", "scorer_group"]

log = logging.getLogger(__name__)

#: Upper bound on waiting for the batch in flight before a revocation commit.
REVOKE_TIMEOUT_SECONDS = 30.0

#: ``legacy(group, partitions) -> {partition: committed offset}``.
LegacyLookup = Callable[[str, Sequence[TopicPartition]], Awaitable[Mapping[TopicPartition, int]]]


def scorer_group(settings: Settings) -> str:
    """The scorer's consumer group (the faust app's group is ``app_id``)."""
    return f"{settings.app_id}-scorer"


async def legacy_offsets(
    settings: Settings, group: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """Offsets committed by ``group`` for ``partitions`` (those it has committed)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=list(partitions))
    finally:
        await admin.close()
    return {tp: int(meta.offset) for tp, meta in found.items() if meta.offset >= 0}


class _Listener(ConsumerRebalanceListener):
    def __init__(self, intake: ScorerIntake) -> None:
        self.intake = intake

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.intake.on_revoked([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.intake.on_assigned([tp.partition for tp in assigned])


class ScorerIntake:
    """Consume inference-events in the scorer group and process them batch by batch.

    Parameters
    ----------
    settings
        Topic, group (``app_id``), batch size and wait, commit interval, timeouts.
    scorer
        Processes each batch (:meth:`Scorer.process`); told about revocations.
    metrics
        Consumer lag and assigned partitions of inference-events.
    consumer_factory
        Builds the consumer (default: :func:`make_consumer` in :func:`scorer_group`);
        tests pass a fake.
    legacy
        Looks up offsets committed by the faust app's group (``None``: no fallback).
    clock
        Monotonic clock for the commit and drift-flush cadence.
    """

    def __init__(
        self,
        settings: Settings,
        scorer: Scorer,
        metrics: Metrics,
        *,
        consumer_factory: Callable[[], Any] | None = None,
        legacy: LegacyLookup | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.scorer = scorer
        self.metrics = metrics
        self.topic = settings.topic_inference_events
        self.group = scorer_group(settings)
        self.offsets = ProcessedOffsets()
        self.consumer: Any = None
        self.owned: set[int] = set()
        self.rebalancing = True  # until the first assignment
        self.stopping = False
        self._factory = consumer_factory or self._make_consumer
        self._legacy = legacy
        self._clock = clock
        self._lock = asyncio.Lock()  # held while a batch is processed
        self._generation = 0  # bumped at every revocation and assignment
        self._epoch = 0  # bumped whenever revoked partitions are forgotten
        self._start: dict[int, int] = {}  # committed offset when assigned (lag)
        self._last_commit = clock()
        self._last_flush = clock()
        self._closed = False

    def _make_consumer(self) -> Any:
        s = self.settings
        return make_consumer(
            s,
            group_id=self.group,
            session_timeout_ms=int(s.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_seconds * 1000),
            max_poll_records=s.take_batch,
        )

    # --- state -------------------------------------------------------------------
    def assigned(self) -> bool:
        """Whether the intake owns input partitions and no rebalance is under way."""
        return bool(self.owned) and not self.rebalancing

    async def on_revoked(self, partitions: Iterable[int]) -> None:
        """Rebalance: finish the batch in flight, commit, forget the partitions."""
        self.rebalancing = True
        self._generation += 1
        gone = sorted(set(partitions) | self.owned)
        if self.consumer is not None and not self._closed:
            try:
                await asyncio.wait_for(self.commit(gone), timeout=REVOKE_TIMEOUT_SECONDS)
            except Exception as exc:  # the next owner re-reads and dedupes
                log.warning("commit before revocation failed: %r", exc)
        self.offsets.forget(gone)
        self._epoch += 1  # a batch still in flight (commit timed out) marks nothing
        for p in gone:
            self._start.pop(p, None)
        self.scorer.on_revoked(gone)
        self.owned.clear()
        log.info("scorer: revoked %s partitions %s", self.topic, gone)

    async def on_assigned(self, partitions: Iterable[int]) -> None:
        """Rebalance done: own ``partitions``; a partition never committed in the scorer
        group starts where the faust app's group left it, when it did."""
        owned = set(partitions)
        self._generation += 1
        self.owned = owned
        self.rebalancing = False
        consumer = self.consumer
        if consumer is not None and owned:
            tps = [TopicPartition(self.topic, p) for p in sorted(owned)]
            consumer.pause(*tps)  # nothing is returned from them before they are positioned
            try:
                await self._resume_points(consumer, tps)
            finally:
                consumer.resume(*tps)
        log.info("scorer: assigned %s partitions %s", self.topic, sorted(owned))

    async def _resume_points(self, consumer: Any, tps: Sequence[TopicPartition]) -> None:
        fresh = []
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is None:
                fresh.append(tp)
            else:
                self._start[tp.partition] = int(committed)
        if not fresh or self._legacy is None:
            return
        try:
            found = await self._legacy(self.settings.app_id, fresh)
        except Exception as exc:  # no fallback: auto_offset_reset applies
            log.warning("reading the app group's committed offsets failed: %r", exc)
            return
        for tp, offset in found.items():
            consumer.seek(tp, offset)
            self._start[tp.partition] = offset
            log.info(
                "scorer: %s starts at %d, committed by group %s", tp, offset, self.settings.app_id
            )

    # --- the loop ----------------------------------------------------------------
    async def run(self) -> None:
        """Consume until :meth:`stop` (or cancellation); raise when a batch fails."""
        s = self.settings
        consumer = self.consumer = self._factory()
        consumer.subscribe([self.topic], listener=_Listener(self))
        await consumer.start()
        timeout_ms = max(1, int(s.take_within_seconds * 1000))
        try:
            while not self.stopping:
                try:
                    polled = await consumer.getmany(timeout_ms=timeout_ms, max_records=s.take_batch)
                except ConsumerStoppedError:
                    break
                # getmany hands back only records of the assignment current when it
                # returns (aiokafka drains its buffer without yielding): any rebalance
                # after this point makes the poll stale.
                generation = self._generation
                if polled:
                    await self.process(polled, generation)
                await self._housekeeping()
        finally:
            await self._close()

    async def process(self, polled: Mapping[Any, Sequence[Any]], generation: int) -> int:
        """Process one poll as one batch unless it is stale; return records processed."""
        async with self._lock:
            if self.stopping or self.rebalancing or generation != self._generation:
                return 0  # read again by the partition's owner, from the committed offset
            owned = self.owned
            records: list[SourceRecord] = []
            for tp, batch in polled.items():
                if tp.partition in owned:
                    records.extend(map(from_consumer_record, batch))
            if not records:
                return 0
            epoch = self._epoch
            await self.scorer.process(records)
            if epoch == self._epoch:  # else its partitions were forgotten meanwhile
                self.offsets.record(records)
            return len(records)

    async def _housekeeping(self) -> None:
        """Between batches: the periodic commit and the drift flush of quiet regions."""
        s, now = self.settings, self._clock()
        if now - self._last_commit >= s.commit_interval_seconds and not self.rebalancing:
            self._last_commit = now
            try:
                await self.commit(wait=False)
            except Exception as exc:  # retried next time; at worst re-read and deduped
                log.warning("committing scored offsets failed: %r", exc)
        if now - self._last_flush >= max(1.0, s.drift_window_seconds / 10):
            self._last_flush = now
            try:
                await self.scorer.flush_drift()
            except Exception as exc:  # at worst the window closes with the next event
                log.warning("drift flush failed: %r", exc)

    async def commit(
        self, partitions: Sequence[int] | None = None, *, wait: bool = True
    ) -> dict[int, int]:
        """Commit the processed marks (of ``partitions``, default all owned).

        With ``wait`` the batch in flight finishes first (revocation, graceful stop).
        Only complete batches are marked, so this never commits past work in flight.
        Returns what was committed, ``{partition: next offset}``.
        """
        if wait:
            async with self._lock:
                return await self._commit(partitions)
        return await self._commit(partitions)

    async def _commit(self, partitions: Sequence[int] | None) -> dict[int, int]:
        if self.consumer is None:
            return {}
        keep = set(self.owned if partitions is None else partitions)
        due = self.offsets.due(keep)
        if not due:
            return {}
        await self.consumer.commit({TopicPartition(self.topic, p): o for p, o in due.items()})
        self.offsets.committed(due)
        return due

    async def stop(self) -> dict[int, int]:
        """Graceful stop: no new batch, finish the one in flight, commit, leave the group."""
        self.stopping = True
        done: dict[int, int] = {}
        try:
            done = await self.commit()
        except Exception as exc:
            log.warning("commit at shutdown failed: %r", exc)
        await self._close()
        return done

    async def _close(self) -> None:
        if self._closed or self.consumer is None:
            return
        self._closed = True
        try:
            await self.consumer.stop()
        except Exception as exc:  # the group coordinator times the member out instead
            log.warning("stopping the scorer's consumer failed: %r", exc)

    # --- metrics -------------------------------------------------------------------
    def lag(self) -> int | None:
        """Records of owned partitions not committed yet (``None`` before any highwater)."""
        consumer = self.consumer
        if consumer is None or self._closed:
            return None
        total, known = 0, False
        for p in self.owned:
            high = consumer.highwater(TopicPartition(self.topic, p))
            if high is None:
                continue
            known = True
            done = self.offsets.committed_offset(p)
            if done is None:
                done = self._start.get(p, 0)
            total += max(0, int(high) - int(done))
        return total if known else None

    def refresh_gauges(self) -> None:
        """Consumer lag and assigned partitions of inference-events."""
        m = self.metrics
        m.assigned_partitions.labels(topic="inference-events").set(len(self.owned))
        lag = self.lag()
        if lag is not None:
            m.consumer_lag.labels(topic="inference-events").set(lag)
