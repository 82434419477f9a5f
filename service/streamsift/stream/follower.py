"""Every worker follows model-snapshots and hot-swaps to the newest verified one.

A plain consumer (no group: every worker reads every partition) first reads the
last ``snapshot_tail_records`` records of each partition and swaps in the newest
snapshot whose signature verifies -- a tampered latest record falls back to the
previous good one -- then follows new records as they come. Refused snapshots
are logged and counted by reason, never unpickled. ``ready`` is set once the
initial read is done (a model loaded, or none published yet: bootstrapping).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.schemas import ModelSnapshotHeader
from streamsift.stream.kafka_io import make_consumer, read_range
from streamsift.stream.ports import SamplerLike
from streamsift.stream.snapshots import OFFSET_HEADER, SnapshotRefusedError, load_snapshot

__all__ = ["SnapshotFollower", "training_offset"]

log = logging.getLogger(__name__)


def training_offset(headers: Sequence[tuple[str, bytes]] | None) -> int | None:
    """The training offset recorded in a snapshot's Kafka headers, if any."""
    for name, value in headers or ():
        if name == OFFSET_HEADER:
            try:
                return int(value.decode("ascii"))
            except ValueError:
                return None
    return None


class SnapshotFollower:
    """Keep the sampler's model at the newest verified snapshot.

    Parameters
    ----------
    settings
        Snapshot topic, model name, HMAC key, tail length.
    sampler
        Receives ``swap_model``; its ``model.version`` is the current version.
    metrics
        ``snapshot_loaded_total``, ``snapshot_refused_total{reason}``.
    """

    def __init__(self, settings: Settings, sampler: SamplerLike, metrics: Metrics) -> None:
        self.settings = settings
        self.sampler = sampler
        self.metrics = metrics
        self.ready = asyncio.Event()
        self.header: ModelSnapshotHeader | None = None
        self.training_offset: int | None = None
        self._key = settings.snapshot_hmac_key.get_secret_value().encode()

    def offer(self, value: bytes | None, headers: Sequence[tuple[str, bytes]] | None) -> bool:
        """Verify one snapshot record; swap it in when newer. Return whether it was loaded."""
        try:
            header, model = load_snapshot(value, key=self._key, model_name=self.settings.model_name)
        except SnapshotRefusedError as err:
            self.metrics.snapshots_refused.labels(reason=err.reason).inc()
            log.warning("%s", err)
            return False
        current = int(getattr(self.sampler.model, "version", -1))
        if self.header is not None and header.model_version <= self.header.model_version:
            return False
        self.header = header
        self.training_offset = training_offset(headers)
        if header.model_version > current:
            self.sampler.swap_model(model)
            self.metrics.snapshots_loaded.inc()
            self.metrics.model_version.set(header.model_version)
            self.metrics.labels_seen.set(header.labels_seen)
            self.metrics.model_relearning.set(int(bool(getattr(model, "relearning", False))))
            log.info(
                "model %s version %d loaded (%d labels)",
                header.model_name,
                header.model_version,
                header.labels_seen,
            )
        return True

    async def run(self) -> None:
        """Load the newest verified snapshot, then follow the topic until cancelled."""
        consumer = make_consumer(self.settings)
        await consumer.start()
        try:
            topic = self.settings.topic_model_snapshots
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or {0}
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            lows = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            candidates: list[Any] = []
            for tp in tps:
                start = max(lows[tp], ends[tp] - self.settings.snapshot_tail_records)
                candidates.extend(await read_range(consumer, tp, start, ends[tp]))
            for rec in reversed(candidates):  # newest first: stop at the first good one
                if self.offer(rec.value, rec.headers):
                    break
            self.ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=1_000)
                for records in batch.values():
                    for rec in records:
                        self.offer(rec.value, rec.headers)
        finally:
            await consumer.stop()
