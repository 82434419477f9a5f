"""The join's faust wiring: its agents, its own input offsets, the annotator-statistics table.

**Offsets.** The ``pending`` and ``labels`` topics are declared without faust acks
and the join commits its own offsets, like the scorer (see
:mod:`streamsift.stream.offsets` for the faust 0.15 defect: after a restart faust's
commits of these topics advanced by one or two offsets at a time, and its false
gap could commit delivered but unprocessed records). Once :class:`Joiner` has
handled a record (every message it sent acknowledged by the broker) its partition
is marked one past it; the marks are committed every ``commit_interval_seconds``,
for revoked partitions before they are given up, and at a graceful stop (the
record in flight finishes, nothing more is taken). Before a commit the producer is
flushed, so the pending table's changelog writes of every committed record are on
the broker first. A record at or below its partition's mark (delivered again when
faust rewinds a newly assigned partition) was handled by this worker already and is
skipped, so it is not taken for a second label from the same annotator.

**Annotator statistics.** ``quality-store`` is a faust table keyed by partition
number (``b"3"``) whose changelog record for key ``p`` is written to partition
``p`` (:class:`PartitionTable`): co-partitioned with the join's topics, so the
worker that owns partition ``p`` restores exactly the statistics saved for ``p``.
The :class:`Joiner` saves, merges and releases them (see its module).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

import faust
from faust.types import TP
from mode import CrashingSupervisor

from streamsift.config import Settings
from streamsift.stream.join import Joiner
from streamsift.stream.offsets import ProcessedOffsets
from streamsift.stream.records import SourceRecord, from_faust_event

__all__ = ["QUALITY_TABLE", "JoinWiring", "PartitionTable"]

log = logging.getLogger(__name__)

#: Name of the faust table holding each partition's annotator statistics.
QUALITY_TABLE = "quality-store"


class PartitionTable(faust.Table):
    """A faust table whose keys are partition numbers (``b"3"``): the changelog record of
    key ``p`` goes to partition ``p``, wherever it is written from (a timer, a revocation
    handler), so it is restored by the worker that owns partition ``p``."""

    def partition_for_key(self, key: Any) -> int:
        """The partition named by the key."""
        return int(key)


class JoinWiring:
    """The join's agents over ``pending`` and ``labels``, its commits, its quality table.

    Parameters
    ----------
    app
        The worker's faust app.
    settings
        Topics, the commit interval.
    joiner
        Handles the records; its ``quality_store`` is set to the quality table here.
    partitions
        Partition count of the join's topics (``None``: the app's ``topic_partitions``).
    """

    def __init__(
        self, app: faust.App, settings: Settings, joiner: Joiner, partitions: int | None
    ) -> None:
        self.app = app
        self.settings = settings
        self.joiner = joiner
        self.table = cast(
            PartitionTable,
            app.tables.add(
                PartitionTable(
                    app,
                    name=QUALITY_TABLE,
                    beacon=app.tables.beacon,
                    key_type=bytes,
                    value_type=bytes,
                    partitions=partitions,
                )
            ),
        )
        joiner.quality_store = self.table
        self.topics = (settings.topic_pending, settings.topic_labels)
        self.offsets = {t: ProcessedOffsets() for t in self.topics}
        self.redelivered = 0
        self._lock = asyncio.Lock()  # held while a record is handled
        self._stopping = False
        self.agents = self._define_agents()
        self._define_timers()

    # --- records ---------------------------------------------------------------------
    async def handle(self, rec: SourceRecord, fn: Callable[[SourceRecord], Awaitable[Any]]) -> bool:
        """Handle one record unless stopping or already handled; mark it. True if handled."""
        if self._stopping:
            return False  # read again by the next owner
        marks = self.offsets[rec.topic]
        done = marks.processed_offset(rec.partition)
        if done is not None and rec.offset < done:
            self.redelivered += 1
            return False
        async with self._lock:
            if self._stopping:
                return False
            await fn(rec)
            marks.record([rec])
        return True

    def _define_agents(self) -> tuple[Any, Any]:
        app, s, joiner = self.app, self.settings, self.joiner

        def topic(name: str) -> Any:
            return app.topic(
                name,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                acks=False,
            )

        def agent(name: str, topic_name: str, fn: Callable[[SourceRecord], Awaitable[Any]]) -> Any:
            async def consume(stream: Any) -> None:
                async for event in stream.events():
                    await self.handle(from_faust_event(event), fn)

            return app.agent(
                topic(topic_name),
                name=name,
                concurrency=1,
                supervisor_strategy=CrashingSupervisor,
            )(consume)

        return (
            agent("pending", s.topic_pending, joiner.on_pending),
            agent("labels", s.topic_labels, joiner.on_label),
        )

    # --- commits, assignment, shutdown -------------------------------------------------
    def owned(self) -> set[int]:
        """Partitions of the join's topics assigned to this worker."""
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # no consumer yet
            return set()
        return {tp.partition for tp in assignment if tp.topic in self.topics}

    async def commit(
        self, partitions: Iterable[int] | None = None, *, wait: bool = True
    ) -> dict[TP, int]:
        """Commit the join's processed offsets (of ``partitions``, default all owned).

        With ``wait`` the record in flight finishes first. The producer is flushed
        first (the table's changelog writes). Returns what was committed.
        """
        if wait:
            async with self._lock:
                return await self._commit(partitions)
        return await self._commit(partitions)

    async def _commit(self, partitions: Iterable[int] | None) -> dict[TP, int]:
        consumer: Any = self.app.consumer
        assignment = consumer.assignment()
        keep = None if partitions is None else set(partitions)
        due: dict[TP, int] = {}
        for topic, marks in self.offsets.items():
            owned = {tp.partition for tp in assignment if tp.topic == topic}
            if keep is not None:
                owned &= keep
            due.update({TP(topic, p): off for p, off in marks.due(owned).items()})
        if not due:
            return {}
        await self.app.producer.flush()
        if not await consumer._commit(due):
            return {}
        for topic, marks in self.offsets.items():
            marks.committed({tp.partition: off for tp, off in due.items() if tp.topic == topic})
        seen = getattr(consumer, "_committed_offset", None)
        if isinstance(seen, dict):  # faust's view, read by the consumer-lag gauges
            seen.update(due)
        return due

    async def on_revoked(self, revoked: Iterable[TP]) -> None:
        """Before partitions are given up: save their statistics, commit, forget them."""
        gone = sorted({tp.partition for tp in revoked if tp.topic in self.topics})
        if not gone:
            return
        self.joiner.save_quality(gone)
        try:
            await asyncio.wait_for(self.commit(gone), timeout=10.0)
        except Exception as exc:  # the next owner re-reads; the join is idempotent per label
            log.warning("join commit before revocation failed: %r", exc)
        for marks in self.offsets.values():
            marks.forget(gone)
        self.joiner.release_partitions(gone)

    async def stop(self) -> None:
        """Graceful stop: take nothing more, save the statistics, commit everything handled."""
        self._stopping = True
        async with self._lock:
            self.joiner.save_quality()
            await self._commit(None)

    async def tick(self) -> None:
        """Timer: merge the statistics of newly assigned partitions, commit."""
        if self.app.rebalancing or self._stopping:
            return
        self.joiner.load_partitions(sorted(self.owned()))
        try:
            await self.commit(wait=False)
        except Exception as exc:  # retried next tick; at worst re-read
            log.warning("committing the join's offsets failed: %r", exc)

    def _define_timers(self) -> None:
        app = self.app

        @app.timer(self.settings.commit_interval_seconds)
        async def commit_join() -> None:
            await self.tick()

        async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
            await self.on_revoked(revoked)

        async def before_shutdown(sender: Any, **kwargs: Any) -> None:
            try:
                await asyncio.wait_for(self.stop(), timeout=10.0)
            except Exception as exc:
                log.warning("join commit failed at shutdown: %r", exc)

        app.on_partitions_revoked.connect(cast(Any, on_revoked))
        app.on_before_shutdown.connect(cast(Any, before_shutdown))
