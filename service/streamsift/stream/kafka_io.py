"""Small aiokafka helpers: standalone consumers and bounded reads of a partition.

The faust app consumes the main topics in its consumer group. A few jobs need a
plain consumer instead: reading the tail of the decision log after a
(re)assignment, following model-snapshots and worker-rates on every worker, and
the learner's single-writer consumer with manual commits. They are built here
with the same connection settings (:mod:`streamsift.stream.kafka_config`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from streamsift.config import Settings
from streamsift.errors import StreamsiftError
from streamsift.stream.kafka_config import aiokafka_kwargs

__all__ = ["make_consumer", "read_range", "read_tail"]


def make_consumer(
    settings: Settings, *, group_id: str | None = None, **kw: Any
) -> AIOKafkaConsumer:
    """An aiokafka consumer with the service's connection settings and manual commits."""
    return AIOKafkaConsumer(
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.app_id}-{group_id or 'reader'}",
        **{**aiokafka_kwargs(settings), **kw},
    )


async def read_range(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    start: int,
    end: int,
    timeout_seconds: float = 30.0,
) -> list[ConsumerRecord[Any, Any]]:
    """Read the records of ``tp`` with ``start <= offset < end`` (``tp`` must be assigned).

    Raises
    ------
    StreamsiftError
        When the range could not be read within ``timeout_seconds``.
    """
    out: list[ConsumerRecord[Any, Any]] = []
    if start >= end:
        return out
    consumer.seek(tp, start)
    deadline = time.monotonic() + timeout_seconds
    while True:
        batch = await consumer.getmany(tp, timeout_ms=500, max_records=5_000)
        for rec in batch.get(tp, []):
            if start <= rec.offset < end:
                out.append(rec)
        position = await consumer.position(tp)
        if position >= end:
            return out
        if time.monotonic() > deadline:
            raise StreamsiftError(
                f"could not read {tp.topic}[{tp.partition}] offsets {start}..{end} within"
                f" {timeout_seconds}s (at {position})"
            )
        await asyncio.sleep(0)


async def read_tail(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    enough: Any,
    first_step: int = 16,
) -> list[ConsumerRecord[Any, Any]]:
    """Read backwards from the end of ``tp`` in doubling steps until ``enough(records)``.

    Returns the records in offset order. ``enough`` is called with everything read
    so far; reading also stops at the beginning of the partition.
    """
    low = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    records: list[ConsumerRecord[Any, Any]] = []
    start, step = end, first_step
    while start > low and not (records and enough(records)):
        new_start = max(low, start - step)
        records = await read_range(consumer, tp, new_start, start) + records
        start, step = new_start, step * 2
    return records
