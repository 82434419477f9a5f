"""Read partitions of a compacted changelog topic back into dicts (the join's restore).

When the join is assigned partition ``p`` it reads partition ``p`` of each of its
changelog topics from the beginning to its high-water mark with a consumer of no
group (assign mode), applies the records in order (a ``None`` value deletes the
key) and loads the result into its :class:`~streamsift.stream.changelog_store.ChangelogStore`
before the partition is resumed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka import TopicPartition

from streamsift.config import Settings
from streamsift.stream.kafka_io import make_consumer, read_range

__all__ = ["read_changelog"]

log = logging.getLogger(__name__)

#: Upper bound on reading one changelog partition.
RESTORE_TIMEOUT_SECONDS = 120.0


async def read_changelog(
    settings: Settings, topic: str, partitions: Sequence[int]
) -> dict[int, dict[bytes, bytes]]:
    """The current ``{key: value}`` of each of ``partitions`` of ``topic``.

    Raises
    ------
    StreamsiftError
        When a partition could not be read to its high-water mark in time.
    """
    out: dict[int, dict[bytes, bytes]] = {p: {} for p in partitions}
    if not partitions:
        return out
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        for tp in tps:
            state = out[tp.partition]
            records = await read_range(consumer, tp, begin[tp], end[tp], RESTORE_TIMEOUT_SECONDS)
            for rec in records:
                if rec.key is None:
                    continue
                if rec.value is None:
                    state.pop(rec.key, None)
                else:
                    state[rec.key] = rec.value
            log.info(
                "restored %s[%d]: %d keys from %d records (offsets %d..%d)",
                topic,
                tp.partition,
                len(state),
                len(records),
                begin[tp],
                end[tp],
            )
    finally:
        await consumer.stop()
    return out
