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
commits after a rebalance, see :mod:`streamsift.stream.offsets`). The consumer loop
itself (group membership, marks, commits, rebalances, graceful stop, the upgrade
from the faust app's group) is :class:`~streamsift.stream.group_loop.GroupLoop`,
shared with the join; this module adds what is the scorer's.

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

import gc
import logging
from collections.abc import Mapping, Sequence
from typing import Unpack

from aiokafka import TopicPartition

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.group_loop import GroupLoop, LoopOptions, legacy_offsets
from streamsift.stream.records import SourceRecord
from streamsift.stream.scorer import Scorer

__all__ = ["ScorerIntake", "legacy_offsets", "quiet_full_collections", "scorer_group"]

log = logging.getLogger(__name__)


def scorer_group(settings: Settings) -> str:
    """The scorer's consumer group (the faust app's group is ``app_id``)."""
    return f"{settings.app_id}-scorer"


#: Generation-1 collections between two full (generation-2) collections, at least
#: (Python's default is 10). A full collection scans every tracked object not frozen;
#: in the worker they come every 2-5 s (the drift windows' rows, the dedupe and pending
#: tables keep promoting objects) and collect almost nothing (203 objects in 17
#: collections of a benchmark run), yet each stalled the event loop 30-110 ms and all
#: batches waiting behind it. Young cycles are still collected by generations 0 and 1.
FULL_COLLECTION_EVERY = 1_000


def quiet_full_collections(every: int = FULL_COLLECTION_EVERY) -> tuple[int, int, int]:
    """Make full collections rarer: at least ``every`` generation-1 collections apart.

    Returns the previous thresholds (``gc.get_threshold()``); leaves a threshold
    already above ``every`` (or a disabled collector's zero threshold) alone.
    """
    before = gc.get_threshold()
    g0, g1, g2 = before
    if g0 > 0 and g2 < every:
        gc.set_threshold(g0, g1, every)
    return before


def _by_partition(done: Mapping[TopicPartition, int]) -> dict[int, int]:
    return {tp.partition: off for tp, off in done.items()}


class ScorerIntake(GroupLoop):
    """Consume inference-events in the scorer group and process them batch by batch.

    Parameters
    ----------
    settings
        Topic, group (``app_id``), batch size and wait, commit interval, timeouts.
    scorer
        Processes each batch (:meth:`Scorer.process`); told about revocations.
    metrics
        Consumer lag and assigned partitions of inference-events.
    **options
        :class:`~streamsift.stream.group_loop.LoopOptions` (tests pass a fake
        consumer; the clock also paces the drift flush).
    """

    def __init__(
        self,
        settings: Settings,
        scorer: Scorer,
        metrics: Metrics,
        **options: Unpack[LoopOptions],
    ) -> None:
        topic = settings.topic_inference_events
        group = scorer_group(settings)
        super().__init__(
            settings,
            metrics,
            group=group,
            topics={topic: "inference-events"},
            name="scorer",
            **options,
        )
        self.scorer = scorer
        self.topic = topic
        self.offsets = self.marks[topic]
        self._last_flush = self._clock()

    async def run(self) -> None:
        """Consume until :meth:`stop`; full collections made rare first
        (:func:`quiet_full_collections`: they stalled the loop and the latency tail)."""
        before = quiet_full_collections()
        try:
            await super().run()
        finally:
            gc.set_threshold(*before)

    async def handle(self, records: list[SourceRecord]) -> None:
        """One poll is one batch of :meth:`Scorer.process`."""
        await self.scorer.process(records)

    def release(self, partitions: list[int]) -> None:
        """Revoked partitions: the scorer forgets their dedupe sets."""
        self.scorer.on_revoked(partitions)

    async def between_polls(self) -> None:
        """The drift flush of quiet regions (every ``drift_window_seconds / 10``, >= 1 s)."""
        now = self._clock()
        if now - self._last_flush >= max(1.0, self.settings.drift_window_seconds / 10):
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
        Returns what was committed, ``{partition: next offset}``.
        """
        return _by_partition(await self.commit_marks(partitions, wait=wait))

    async def stop(self) -> dict[int, int]:
        """Graceful stop: no new batch, finish the one in flight, commit, leave the group."""
        return _by_partition(await self.shutdown())
