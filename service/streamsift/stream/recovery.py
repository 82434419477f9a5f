"""Reading the service's own output back after a (re)assignment.

When a worker starts consuming an input partition it reads the tail of the
matching decision-log partition (:meth:`LogReader.decision_tail`) to rebuild the
dedupe set. Decisions at or after the first offset it is about to consume were
logged by a worker that died before committing: for the selected ones it asks
which request ids reached label-requests since shortly before they were decided
(:meth:`LogReader.request_ids_since`) and re-sends only the missing requests, with
their logged request ids. Hence: no accepted event is lost, none is decided
twice, and no event gets two label requests.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

from aiokafka import TopicPartition

from streamsift.config import Settings
from streamsift.stream.decisions import DecisionBatch, decode_batch
from streamsift.stream.kafka_io import make_consumer, read_range, read_tail

__all__ = ["KafkaLogReader", "LogReader"]

log = logging.getLogger(__name__)


class LogReader(Protocol):
    """Read back what the service wrote."""

    async def decision_tail(self, partition: int, want_ids: int) -> list[DecisionBatch]:
        """Decision records of one partition, newest last, holding at least ``want_ids`` ids
        (or the whole partition when it holds fewer)."""
        ...

    async def request_ids_since(self, since: float) -> set[str]:
        """Request ids on label-requests written at or after ``since`` (epoch seconds)."""
        ...


def _decode_all(records: list[object]) -> list[DecisionBatch]:
    out = []
    for rec in records:
        try:
            out.append(decode_batch(rec.value))  # type: ignore[attr-defined]
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("skipping an unreadable decision record at offset %s", rec)
    return out


class KafkaLogReader:
    """A :class:`LogReader` over the broker (a short-lived consumer per call)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def decision_tail(self, partition: int, want_ids: int) -> list[DecisionBatch]:
        """See :meth:`LogReader.decision_tail`."""
        if want_ids <= 0:
            return []
        tp = TopicPartition(self.settings.topic_decisions, partition)
        consumer = make_consumer(self.settings)
        await consumer.start()
        try:
            consumer.assign([tp])

            def enough(records: list[object]) -> bool:
                return sum(len(b.decisions) for b in _decode_all(records)) >= want_ids

            return _decode_all(await read_tail(consumer, tp, enough))
        finally:
            await consumer.stop()

    async def request_ids_since(self, since: float) -> set[str]:
        """See :meth:`LogReader.request_ids_since`."""
        topic = self.settings.topic_label_requests
        consumer = make_consumer(self.settings)
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.offsets_for_times({tp: int(since * 1000) for tp in tps})
            ids: set[str] = set()
            for tp in tps:
                found = starts.get(tp)
                start = found.offset if found is not None else ends[tp]
                for rec in await read_range(consumer, tp, start, ends[tp]):
                    try:
                        ids.add(str(json.loads(rec.value)["request_id"]))
                    except (ValueError, KeyError, TypeError):
                        continue
            return ids
        finally:
            await consumer.stop()
