"""A fast keyed producer on aiokafka's batch API, and the paced synthetic-event loop.

kafka-python 3.0's producer tops out at a few thousand messages per second on a
2-core machine (its record accumulator contends with the sender thread), which is
below the rates the benchmark needs. :class:`BatchSender` partitions each chunk
of messages with Kafka's default (murmur2) partitioner, so keys land exactly where
``producer.send(key=...)`` would put them, and sends one batch per partition.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from streamsift.config import Settings
from streamsift.stream.kafka_config import aiokafka_kwargs
from streamsift.tools.kafka_io import ProduceStats, StopFlag
from streamsift.tools.synthetic import SyntheticStream

__all__ = ["BatchSender", "produce_synthetic_async"]


class BatchSender:
    """Keyed, batched sends to one topic through an ``AIOKafkaProducer``.

    Parameters
    ----------
    settings
        Connection settings.
    topic
        Destination topic (must exist).
    max_batch_bytes
        Largest batch per partition per send.
    """

    def __init__(self, settings: Settings, topic: str, max_batch_bytes: int = 1 << 20) -> None:
        self.settings = settings
        self.topic = topic
        self.max_batch_bytes = max_batch_bytes
        self._producer: Any = None
        self._partitions: list[int] = []
        self._pending: list[asyncio.Future[Any]] = []

    async def start(self) -> None:
        """Connect and read the topic's partitions."""
        from aiokafka import AIOKafkaProducer
        from aiokafka.partitioner import DefaultPartitioner

        self._partitioner = DefaultPartitioner()
        self._producer = AIOKafkaProducer(
            **aiokafka_kwargs(self.settings),
            acks=1,
            linger_ms=5,
            max_batch_size=self.max_batch_bytes,
            max_request_size=4 * self.max_batch_bytes,
            client_id="streamsift-tools",
        )
        await self._producer.start()
        for _ in range(50):
            parts = await self._producer.partitions_for(self.topic)
            if parts:
                self._partitions = sorted(parts)
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {self.topic} has no partitions (does it exist?)")

    async def send(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """Queue ``(key, value)`` pairs; returns once they are handed to the producer."""
        by_part: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        parts = self._partitions
        for key, value in items:
            by_part[self._partitioner(key, parts, parts)].append((key, value))
        for part, rows in by_part.items():
            batch = self._producer.create_batch()
            for key, value in rows:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    batch.close()
                    self._pending.append(
                        await self._producer.send_batch(batch, self.topic, partition=part)
                    )
                    batch = self._producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            batch.close()
            self._pending.append(await self._producer.send_batch(batch, self.topic, partition=part))
        if len(self._pending) > 256:
            await self.flush()

    async def flush(self) -> None:
        """Wait until every queued batch is acknowledged."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._producer is not None:
            try:
                await self.flush()
            finally:
                await self._producer.stop()
                self._producer = None


async def produce_synthetic_async(
    sender: BatchSender,
    stream: SyntheticStream,
    count: int | None,
    rate: float = 0.0,
    live_timestamps: bool = True,
    stop: StopFlag | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = 1000,
    clock: Callable[[], float] = time.time,
) -> ProduceStats:
    """Send ``count`` events of ``stream`` at ``rate`` events/s (0: as fast as possible).

    Same contract as :func:`streamsift.tools.kafka_io.produce_synthetic`; pacing
    sends chunks of at most 10 ms of traffic so that latency measurements see a
    smooth input.
    """
    stats = ProduceStats(first_index=stream.position)
    stop = stop if stop is not None else StopFlag()
    start = time.monotonic()
    while not stop and (count is None or stats.sent < count):
        n = chunk if count is None else min(chunk, count - stats.sent)
        if rate > 0:
            n = max(1, min(n, int(rate * 0.01)))
            ahead = start + stats.sent / rate - time.monotonic()
            while ahead > 0 and not stop:
                await asyncio.sleep(min(ahead, 0.1))
                ahead = start + stats.sent / rate - time.monotonic()
            if stop:
                break
        items = []
        for ev in stream.take(n):
            value = ev.to_json(clock() if live_timestamps else None)
            items.append((ev.event_id.encode(), value))
            stats.bytes += len(value)
            stats.drifted += ev.drifted
        await sender.send(items)
        stats.sent += n
        if on_progress is not None:
            on_progress(n)
    await sender.flush()
    stats.seconds = time.monotonic() - start
    return stats
