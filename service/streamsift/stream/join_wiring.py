"""The join's own consumer loop over ``pending`` and ``labels``, and the state it owns.

**Not faust agents.** In faust-streaming 0.15.3, after a restart with a backlog,
about one restart in three faust delivered the first few records of each newly
assigned partition (fetched before its seek) and then went on 4-5 offsets further:
those records were never delivered, and the join's marks passed over them, so they
would have been committed unhandled (docs/stream.md). :class:`JoinWiring` reads both
topics with an aiokafka consumer of its own in group ``<app_id>-join`` (a
:class:`~streamsift.stream.group_loop.GroupLoop`, like the scorer's intake), with the
range assignor so that partition ``p`` of both topics goes to the same worker.

**The state follows the assignment.** faust assigns and recovers a table's
partitions from its own group, which no longer reads these topics; so the join owns
its state: two :class:`~streamsift.stream.changelog_store.ChangelogStore`\\ s, the
pending store (event_id -> entry) and the annotator statistics (partition number
-> ``QualityState``), each logged to a compacted changelog co-partitioned with the
topics (the names and record encoding faust used, so state written by a faust-era
worker is restored). On assignment of ``p``, ``p`` is paused, changelog partition
``p`` of both stores is read to its high-water mark
(:func:`~streamsift.stream.changelog_restore.read_changelog`), the statistics are
merged into the collector, then ``p`` is resumed. On revocation the record in
flight finishes, the statistics are saved, the changelogs flushed, the offsets
committed, and ``p``'s state is dropped.

**Offsets.** After :class:`Joiner` handled a poll (pending records first, then
labels; every message it sent acknowledged) its partitions are marked one past
their last record; the marks are committed every ``commit_interval_seconds``, for
revoked partitions before they are given up, and at a graceful stop. Each commit
first flushes both changelogs and waits for their acknowledgements, so the changelog
holds the effect of every committed record before its input offset moves.

**Timers.** The expiry (``expiry_check_seconds``) runs between polls under the
loop's lock, so it never interleaves with a record or a rebalance; its writes go to
the partition each key already lives in, and are flushed at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Unpack

from aiokafka import TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.changelog_restore import read_changelog
from streamsift.stream.changelog_store import ChangelogStore
from streamsift.stream.group_loop import GroupLoop, LoopOptions
from streamsift.stream.join import Joiner
from streamsift.stream.records import SourceRecord

__all__ = ["ChangelogReader", "JoinWiring", "join_group"]

log = logging.getLogger(__name__)

#: ``read(topic, partitions) -> {partition: {key: value}}``: a changelog's current state.
ChangelogReader = Callable[[str, Sequence[int]], Awaitable[dict[int, dict[bytes, bytes]]]]


def join_group(settings: Settings) -> str:
    """The join's consumer group (the faust app's group is ``app_id``)."""
    return f"{settings.app_id}-join"


class JoinWiring(GroupLoop):
    """The join's consumer loop: records to :class:`Joiner`, state restored per partition.

    Parameters
    ----------
    settings
        Topics, batch size and wait, commit and expiry intervals.
    joiner
        Handles the records; its ``store`` and ``quality_store`` must be ``store`` and
        ``quality_store``.
    metrics
        Consumer lag and assigned partitions of ``pending`` and ``labels``.
    store, quality_store
        The pending store and the annotator statistics (changelog-backed).
    read
        Reads a changelog's partitions (default :func:`read_changelog`).
    **options
        :class:`~streamsift.stream.group_loop.LoopOptions` (tests pass a fake
        consumer; the clock also paces the expiry).
    """

    def __init__(
        self,
        settings: Settings,
        joiner: Joiner,
        metrics: Metrics,
        *,
        store: ChangelogStore,
        quality_store: ChangelogStore,
        read: ChangelogReader | None = None,
        **options: Unpack[LoopOptions],
    ) -> None:
        topics = {settings.topic_pending: "pending", settings.topic_labels: "labels"}
        group = join_group(settings)
        super().__init__(settings, metrics, group=group, topics=topics, name="join", **options)
        self.joiner = joiner
        self.store = store
        self.quality_store = quality_store
        self._read = read or partial(read_changelog, settings)
        self._last_expiry = self._clock()

    def consumer_options(self) -> dict[str, Any]:
        """The range assignor: partition ``p`` of both topics to the same member."""
        return {"partition_assignment_strategy": (RangePartitionAssignor,)}

    # --- records -------------------------------------------------------------------------
    async def handle(self, records: list[SourceRecord]) -> None:
        """Pending items first (a label then finds its item), each topic in offset order;
        a new key goes to the partition of the record that wrote it."""
        pending = self.settings.topic_pending
        joiner, store = self.joiner, self.store
        for rec in sorted(records, key=lambda r: r.topic != pending):  # stable
            with store.placing(rec.partition):
                if rec.topic == pending:
                    await joiner.on_pending(rec)
                else:
                    await joiner.on_label(rec)

    # --- state ---------------------------------------------------------------------------
    async def positioned(self, partitions: list[int]) -> None:
        """Restore the assigned partitions' state from the changelogs, merge their
        statistics (before any of their records is handled)."""
        for st in (self.store, self.quality_store):
            restored = await self._read(st.topic, partitions)
            for p in partitions:
                st.load(p, restored.get(p, {}))
        self.joiner.load_partitions(partitions)
        log.info(
            "join: state of partitions %s restored (%d pending-store keys)",
            partitions,
            len(self.store),
        )

    async def before_release(self, partitions: list[int]) -> None:
        """Save the statistics of the partitions about to be given up (flushed next)."""
        self.joiner.save_quality(partitions)

    async def before_commit(self) -> None:
        """The changelogs first: every write of a marked record acknowledged."""
        for st in (self.store, self.quality_store):
            await st.flush()

    def release(self, partitions: list[int]) -> None:
        """Revoked partitions: out of the collector, their state dropped."""
        self.joiner.release_partitions(partitions)
        for st in (self.store, self.quality_store):
            st.drop(partitions)

    async def between_polls(self) -> None:
        """The expiry timer, under the lock, its writes flushed at once."""
        now = self._clock()
        if now - self._last_expiry < self.settings.expiry_check_seconds:
            return
        self._last_expiry = now
        async with self._lock:
            if self.rebalancing or self.stopping:
                return
            await self.joiner.expire()  # a failed send raises: the worker crashes
            await self.before_commit()

    # --- commits, shutdown ---------------------------------------------------------------
    async def commit(
        self, partitions: Sequence[int] | None = None, *, wait: bool = True
    ) -> dict[TopicPartition, int]:
        """Commit the join's marks (of ``partitions``, default all owned) after flushing
        the changelogs; with ``wait`` the poll in flight finishes first."""
        return await self.commit_marks(partitions, wait=wait)

    async def stop(self) -> dict[TopicPartition, int]:
        """Graceful stop: take nothing more, save the statistics, commit everything."""
        return await self.shutdown()
