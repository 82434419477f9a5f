"""A consumer-group loop of the service's own: one aiokafka consumer, its marks, its commits.

The scorer (:mod:`streamsift.stream.intake`) and the join
(:mod:`streamsift.stream.join_wiring`) do not consume through faust. Each runs a
:class:`GroupLoop`: a plain :class:`aiokafka.AIOKafkaConsumer` in a consumer group
of its own whose every poll (``getmany``) is handed to :meth:`GroupLoop.handle` as
one batch. Why not faust: in faust-streaming 0.15.3 a newly assigned partition is
resumed before it is rewound to its committed offset, which broke faust's ack
bookkeeping (commits that advanced by one or two offsets, :mod:`offsets`) and, for
the join, made faust skip records after a restart (docs/stream.md); and faust's
per-record delivery cost the scorer about twice its own work.

What the loop guarantees to its subclass:

* **At-least-once, commit after the work.** A batch's records are marked (one past
  the last record per topic and partition, :class:`ProcessedOffsets`) only after
  :meth:`handle` returned. Marks are committed every ``commit_interval_seconds``
  between polls, for revoked partitions before they are given up, and at a graceful
  stop; :meth:`before_commit` runs first (the join flushes its changelogs there).
* **Rebalances.** On revocation the batch in flight finishes (up to
  :data:`REVOKE_TIMEOUT_SECONDS`; a batch that outlasts the wait marks nothing, so
  the next owner reads it again), :meth:`before_release` runs, the marks are
  committed, then the partitions are forgotten (:meth:`release`). On assignment the
  partitions are paused at once; their resume points are read and :meth:`positioned`
  runs (the join restores its state there) in a task, not in the rebalance
  listener, during which aiokafka sends no heartbeats; then they are resumed. A
  revocation cancels a positioning still under way. A poll returned before a
  rebalance started is not handled (aiokafka's ``getmany`` only returns records of
  the assignment current when it returns, so the generation at return tells).
* **Graceful stop** (:meth:`shutdown`): no batch is started any more, the batch in
  flight finishes, everything handled is committed, then the consumer leaves the
  group (closed by the stop, not by the loop, which may notice the stop first).
* **Upgrade.** A partition without a committed offset in the loop's group starts
  from the offset the faust app's group (``app_id``) committed for it, when there is
  one (a worker upgraded from the faust agents neither re-reads nor skips); that
  offset is committed in the loop's group at its next commit.

Partitions are numbers: a loop over several topics (the join's ``pending`` and
``labels``) needs them co-partitioned and assigned alike, which its consumer gets
from the range assignor. A failure while positioning an assignment (a restore that
could not be read) is raised out of :meth:`run`: the worker crashes rather than
work on without its state, and the next owner starts from the committed offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypedDict, Unpack

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import ConsumerStoppedError

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.kafka_config import aiokafka_kwargs
from streamsift.stream.kafka_io import make_consumer
from streamsift.stream.offsets import ProcessedOffsets
from streamsift.stream.records import SourceRecord, from_consumer_record

__all__ = ["REVOKE_TIMEOUT_SECONDS", "GroupLoop", "LegacyLookup", "LoopOptions", "legacy_offsets"]

log = logging.getLogger(__name__)

#: Upper bound on waiting for the batch in flight before a revocation commit.
REVOKE_TIMEOUT_SECONDS = 30.0

#: ``legacy(group, partitions) -> {partition: committed offset}``.
LegacyLookup = Callable[[str, Sequence[TopicPartition]], Awaitable[Mapping[TopicPartition, int]]]


class LoopOptions(TypedDict, total=False):
    """What a loop may be given besides its settings (tests pass fakes).

    ``consumer_factory`` builds the consumer (default: aiokafka in the loop's group);
    ``legacy`` looks up offsets committed by the faust app's group (default: no
    fallback); ``clock`` is the monotonic clock of the loop's cadences.
    """

    consumer_factory: Callable[[], Any] | None
    legacy: LegacyLookup | None
    clock: Callable[[], float]


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
    def __init__(self, loop: GroupLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.loop.on_revoked(sorted({tp.partition for tp in revoked}))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.loop.assign_in_background(sorted({tp.partition for tp in assigned}))


class GroupLoop:
    """Consume ``topics`` in consumer group ``group`` and handle every poll as one batch.

    Subclasses implement :meth:`handle` and may override the other hooks
    (:meth:`positioned`, :meth:`before_release`, :meth:`release`,
    :meth:`before_commit`, :meth:`between_polls`, :meth:`consumer_options`).

    Parameters
    ----------
    settings
        Group of the faust app (``app_id``), the most records of one poll
        (``take_batch``) and how long a poll waits (``take_within_seconds``), commit
        interval, session timeouts.
    metrics
        Consumer lag and assigned partitions, per topic.
    group
        The loop's consumer group.
    topics
        Topic name to its label in the lag and assignment gauges.
    name
        Name in log lines.
    **options
        :class:`LoopOptions`: the consumer factory, the app group's offsets, the clock.
    """

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        *,
        group: str,
        topics: Mapping[str, str],
        name: str,
        **options: Unpack[LoopOptions],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.group = group
        self.topics = dict(topics)
        self.name = name
        self.poll_records = settings.take_batch
        self.poll_timeout_seconds = settings.take_within_seconds
        self.marks = {t: ProcessedOffsets() for t in self.topics}
        self.consumer: Any = None
        self.owned: set[int] = set()
        self.rebalancing = True  # until the first assignment
        self.stopping = False
        self.revoke_timeout = REVOKE_TIMEOUT_SECONDS
        self._factory = options.get("consumer_factory") or self._make_consumer
        self._legacy = options.get("legacy")
        self._clock = clock = options.get("clock", time.monotonic)
        self._lock = asyncio.Lock()  # held while a batch is handled
        self._generation = 0  # bumped at every revocation and assignment
        self._epoch = 0  # bumped whenever revoked partitions are forgotten
        self._start: dict[TopicPartition, int] = {}  # committed offset when assigned (lag)
        self._last_commit = clock()
        self._closed = False
        self._failure: BaseException | None = None
        self._assigning: asyncio.Task[None] | None = None  # positioning an assignment

    # --- hooks -----------------------------------------------------------------------
    async def handle(self, records: list[SourceRecord]) -> None:
        """Process one poll's records of owned partitions (raise: the worker crashes)."""
        raise NotImplementedError

    async def positioned(self, partitions: list[int]) -> None:
        """Assigned ``partitions`` are paused at their resume points (lock held)."""

    async def before_release(self, partitions: list[int]) -> None:
        """Before the last commit of ``partitions`` (revocation, stop; lock held)."""

    def release(self, partitions: list[int]) -> None:
        """Revoked ``partitions`` are committed (or given up on) and forgotten."""

    async def before_commit(self) -> None:
        """Before every commit: make durable whatever the marked records wrote."""

    async def between_polls(self) -> None:
        """Housekeeping after each poll (no lock held)."""

    def consumer_options(self) -> dict[str, Any]:
        """Extra keyword arguments of the default consumer."""
        return {}

    # --- state -------------------------------------------------------------------------
    def _make_consumer(self) -> Any:
        s = self.settings
        return make_consumer(
            s,
            group_id=self.group,
            session_timeout_ms=int(s.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(s.heartbeat_interval_seconds * 1000),
            max_poll_records=self.poll_records,
            **self.consumer_options(),
        )

    def assigned(self) -> bool:
        """Whether the loop owns partitions and no rebalance is under way."""
        return bool(self.owned) and not self.rebalancing

    def _tps(self, partitions: Iterable[int]) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in self.topics for p in sorted(partitions)]

    async def on_revoked(self, partitions: Iterable[int]) -> None:
        """Rebalance: finish the batch in flight, commit, forget the partitions (a
        positioning still under way is cancelled: its partitions were never resumed)."""
        self.rebalancing = True
        self._generation += 1
        await self._cancel_assigning()
        gone = sorted(set(partitions) | self.owned)
        if self.consumer is not None and not self._closed:
            try:
                await asyncio.wait_for(self._settle(gone), timeout=self.revoke_timeout)
            except Exception as exc:  # the next owner re-reads from the committed offset
                log.warning("%s: commit before revocation failed: %r", self.name, exc)
        for marks in self.marks.values():
            marks.forget(gone)
        self._epoch += 1  # a batch still in flight (commit timed out) marks nothing
        for tp in self._tps(gone):
            self._start.pop(tp, None)
        self.release(gone)
        self.owned.clear()
        if gone:
            log.info("%s: revoked partitions %s of %s", self.name, gone, sorted(self.topics))

    async def _settle(self, partitions: list[int]) -> None:
        async with self._lock:
            await self.before_release(partitions)
            await self._commit(partitions)

    async def on_assigned(self, partitions: Iterable[int]) -> None:
        """Rebalance done: own ``partitions``, positioned (and :meth:`positioned`) while
        paused; a partition never committed in the group starts where the faust app's
        group left it, when it did."""
        owned = self._own(partitions)
        await self._position(owned)

    def assign_in_background(self, partitions: Iterable[int]) -> None:
        """The rebalance listener's :meth:`on_assigned`: the partitions are owned and
        paused at once, their positioning runs in a task. aiokafka sends no heartbeat
        while a listener runs, and a restore may outlast the session timeout; until
        the task is done the loop counts as rebalancing (not ready, nothing handled)."""
        owned = self._own(partitions)
        self._assigning = asyncio.create_task(self._position(owned))

    async def settled(self) -> None:
        """Wait until the last assignment is positioned (or given up)."""
        task = self._assigning
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _cancel_assigning(self) -> None:
        task, self._assigning = self._assigning, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _own(self, partitions: Iterable[int]) -> set[int]:
        owned = set(partitions)
        self._generation += 1
        self.owned = owned
        if self.consumer is not None and owned:
            # nothing is returned from them before they are positioned
            self.consumer.pause(*self._tps(owned))
        return owned

    async def _position(self, owned: set[int]) -> None:
        consumer = self.consumer
        if consumer is not None and owned:
            tps = self._tps(owned)
            try:
                async with self._lock:
                    await self._resume_points(consumer, tps)
                    await self.positioned(sorted(owned))
            except Exception as exc:  # raised out of run(): no work without its state
                log.error("%s: positioning partitions %s failed: %r", self.name, sorted(owned), exc)
                self._failure = exc
                return
            consumer.resume(*tps)
        self.rebalancing = False
        log.info("%s: assigned partitions %s of %s", self.name, sorted(owned), sorted(self.topics))

    async def _resume_points(self, consumer: Any, tps: Sequence[TopicPartition]) -> None:
        fresh = []
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is None:
                fresh.append(tp)
            else:
                self._start[tp] = int(committed)
        if not fresh or self._legacy is None:
            return
        try:
            found = await self._legacy(self.settings.app_id, fresh)
        except Exception as exc:  # no fallback: auto_offset_reset applies
            log.warning("reading the app group's committed offsets failed: %r", exc)
            return
        for tp, offset in found.items():
            consumer.seek(tp, offset)
            self._start[tp] = offset
            # adopted: committed in this group at the next commit, handled or not, so
            # that it no longer depends on the app group's offsets (which expire)
            self.marks[tp.topic].record(
                [SourceRecord(tp.topic, tp.partition, offset - 1, None, None)]
            )
            log.info(
                "%s: %s starts at %d, committed by group %s",
                self.name,
                tp,
                offset,
                self.settings.app_id,
            )

    # --- the loop ----------------------------------------------------------------------
    async def run(self) -> None:
        """Consume until :meth:`shutdown` (or cancellation); raise when a batch fails."""
        consumer = self.consumer = self._factory()
        consumer.subscribe(list(self.topics), listener=_Listener(self))
        await consumer.start()
        timeout_ms = max(1, int(self.poll_timeout_seconds * 1000))
        try:
            while not self.stopping:
                try:
                    polled = await consumer.getmany(
                        timeout_ms=timeout_ms, max_records=self.poll_records
                    )
                except ConsumerStoppedError:
                    break
                # getmany hands back only records of the assignment current when it
                # returns (aiokafka drains its buffer without yielding): any rebalance
                # after this point makes the poll stale.
                generation = self._generation
                if self._failure is not None:
                    raise self._failure
                if polled:
                    await self.process(polled, generation)
                await self._housekeeping()
        finally:
            # A stop under way commits, then closes the consumer itself: closing it
            # here, at the first poll after ``stopping`` was set, would make that
            # commit fail (the last periodic commit would stand).
            if not self.stopping:
                await self._close()

    async def process(self, polled: Mapping[Any, Sequence[Any]], generation: int) -> int:
        """Handle one poll as one batch unless it is stale; return records handled."""
        async with self._lock:
            if self.stopping or self.rebalancing or generation != self._generation:
                return 0  # read again by the partition's owner, from the committed offset
            owned, topics = self.owned, self.marks
            records: list[SourceRecord] = []
            for tp, batch in polled.items():
                if tp.partition in owned and tp.topic in topics:
                    records.extend(map(from_consumer_record, batch))
            if not records:
                return 0
            epoch = self._epoch
            await self.handle(records)
            if epoch == self._epoch:  # else its partitions were forgotten meanwhile
                for topic, marks in topics.items():
                    marks.record(r for r in records if r.topic == topic)
            return len(records)

    async def _housekeeping(self) -> None:
        """Between polls: the periodic commit, then the subclass's housekeeping."""
        now = self._clock()
        if now - self._last_commit >= self.settings.commit_interval_seconds and not (
            self.rebalancing
        ):
            self._last_commit = now
            try:
                await self.commit_marks(wait=False)
            except Exception as exc:  # retried next time; at worst re-read
                log.warning("%s: committing offsets failed: %r", self.name, exc)
        await self.between_polls()

    async def commit_marks(
        self, partitions: Sequence[int] | None = None, *, wait: bool = True
    ) -> dict[TopicPartition, int]:
        """Commit the marks (of ``partitions``, default all owned).

        With ``wait`` the batch in flight finishes first (revocation, graceful stop).
        Only complete batches are marked, so this never commits past work in flight.
        Returns what was committed.
        """
        if wait:
            async with self._lock:
                return await self._commit(partitions)
        return await self._commit(partitions)

    async def _commit(self, partitions: Sequence[int] | None) -> dict[TopicPartition, int]:
        if self.consumer is None:
            return {}
        keep = set(self.owned if partitions is None else partitions)
        await self.before_commit()
        due = {
            TopicPartition(topic, p): off
            for topic, marks in self.marks.items()
            for p, off in marks.due(keep).items()
        }
        if not due:
            return {}
        await self.consumer.commit(due)
        for topic, marks in self.marks.items():
            marks.committed({tp.partition: off for tp, off in due.items() if tp.topic == topic})
        return due

    async def shutdown(self) -> dict[TopicPartition, int]:
        """Graceful stop: no new batch, finish the one in flight, commit, leave the group."""
        self.stopping = True
        done: dict[TopicPartition, int] = {}
        try:
            await self._cancel_assigning()
            async with self._lock:
                await self.before_release(sorted(self.owned))
                done = await self._commit(None)
        except Exception as exc:
            log.warning("%s: commit at shutdown failed: %r", self.name, exc)
        finally:  # also when the caller's timeout cancels the stop
            await self._close()
        return done

    async def _close(self) -> None:
        if self._closed or self.consumer is None:
            return
        self._closed = True
        await self._cancel_assigning()
        try:
            await self.consumer.stop()
        except Exception as exc:  # the group coordinator times the member out instead
            log.warning("%s: stopping the consumer failed: %r", self.name, exc)

    # --- metrics -----------------------------------------------------------------------
    def lag(self, topic: str | None = None) -> int | None:
        """Records of owned partitions (of ``topic``, default all) not committed yet
        (``None`` before any high-water mark is known)."""
        consumer = self.consumer
        if consumer is None or self._closed:
            return None
        total, known = 0, False
        for t, marks in self.marks.items():
            if topic is not None and t != topic:
                continue
            for p in self.owned:
                tp = TopicPartition(t, p)
                high = consumer.highwater(tp)
                if high is None:
                    continue
                known = True
                done = marks.committed_offset(p)
                if done is None:
                    done = self._start.get(tp, 0)
                total += max(0, int(high) - int(done))
        return total if known else None

    def refresh_gauges(self) -> None:
        """Consumer lag and assigned partitions of each topic."""
        m = self.metrics
        for topic, kind in self.topics.items():
            m.assigned_partitions.labels(topic=kind).set(len(self.owned))
            lag = self.lag(topic)
            if lag is not None:
                m.consumer_lag.labels(topic=kind).set(lag)
