"""The scorer's input offsets: what was processed, what to commit.

The scorer commits inference-events offsets itself instead of through faust's
per-event acknowledgements (the agent's topic is declared ``acks=False``).
faust 0.15's ack bookkeeping is not reliable for it: when partitions are assigned,
``Recovery._resume_streams`` resumes them *before* ``perform_seek`` rewinds the
consumer to the committed offsets, so records fetched in between are delivered,
then the read offset goes back and the next record opens a "gap" over offsets
already delivered. At commit time faust folds the gap into its acked list without
its index, the real acknowledgements of those offsets are then appended a second
time, and its run-of-consecutive-offsets search stops at every duplicate: each
commit advances by one or two offsets, so a worker stopped with SIGTERM seconds
later had committed a few dozen of the thousands of events it processed (and a
gap could also let faust commit delivered-but-unprocessed offsets).

:class:`ProcessedOffsets` keeps, per input partition, one past the last offset of
the last batch :meth:`Scorer.process` completed (every message it caused was
acknowledged by the broker). Records of one partition are processed in offset
order; records delivered again after a seek are at or below that mark and never
lower it. So committing the mark never commits an unprocessed record, and
committing it at shutdown commits everything processed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streamsift.stream.records import SourceRecord

__all__ = ["ProcessedOffsets"]


class ProcessedOffsets:
    """Per-partition commit marks of the scorer's input topic (one topic)."""

    def __init__(self) -> None:
        self._done: dict[int, int] = {}
        self._committed: dict[int, int] = {}

    def record(self, records: Iterable[SourceRecord]) -> None:
        """Mark a fully processed batch (its records, any order, any partitions)."""
        done = self._done
        for rec in records:
            nxt = rec.offset + 1
            if nxt > done.get(rec.partition, -1):
                done[rec.partition] = nxt

    def due(self, owned: Iterable[int] | None = None) -> dict[int, int]:
        """Marks not committed yet (of the ``owned`` partitions, when given)."""
        keep = None if owned is None else set(owned)
        return {
            p: off
            for p, off in self._done.items()
            if (keep is None or p in keep) and off > self._committed.get(p, -1)
        }

    def committed(self, offsets: Mapping[int, int]) -> None:
        """Record that the broker accepted these commits."""
        for p, off in offsets.items():
            if off > self._committed.get(p, -1):
                self._committed[p] = off

    def committed_offset(self, partition: int) -> int | None:
        """The last mark committed for ``partition`` by this worker, if any."""
        return self._committed.get(partition)

    def processed_offset(self, partition: int) -> int | None:
        """The current mark of ``partition`` (committed or not), if any."""
        return self._done.get(partition)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop revoked partitions: a later owner may move them past our marks."""
        for p in partitions:
            self._done.pop(p, None)
            self._committed.pop(p, None)
