"""Global capacity: workers share their measured event rates.

Capacity (labels per hour, budget per day) is global, but each worker's sampler
only sees the events of its own partitions. Each worker publishes its measured
event rate every ``rate_publish_seconds`` to the compacted worker-rates topic
(key worker id) and follows that topic. A worker's share of the capacity is its
rate over the total rate of the live workers (those heard from within
``rate_stale_seconds``); with equal target fractions everywhere, the selected
fraction is ``capacity / total rate`` on every worker and the total request rate
stays within capacity however the partitions are split. A worker that stops
gracefully deletes its entry (tombstone); a killed one ages out.

The share is applied with ``Sampler.set_capacity_share(share)`` when the sampler
has it (the core scales its capacity, budget and pending cap by the share).

Examples
--------
>>> board = RateBoard("w1", stale_seconds=10.0)
>>> board.update("w2", 300.0, at=0.0)
>>> board.share(own_rate=100.0, now=5.0), board.live(now=5.0)
(0.25, 2)
>>> board.share(own_rate=100.0, now=20.0)  # w2 went silent
1.0
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from aiokafka import TopicPartition

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.kafka_io import make_consumer
from streamsift.stream.ports import SamplerLike, Sink

__all__ = ["RateBoard", "RateSharing"]

log = logging.getLogger(__name__)


class RateBoard:
    """The latest event rate of every worker (pure bookkeeping).

    Parameters
    ----------
    worker_id
        This worker (its own rate is passed to :meth:`share`, not stored).
    stale_seconds
        A worker not heard from for this long is no longer live.
    """

    def __init__(self, worker_id: str, stale_seconds: float) -> None:
        self.worker_id = worker_id
        self.stale_seconds = stale_seconds
        self._rates: dict[str, tuple[float, float]] = {}

    def update(self, worker: str, rate: float | None, at: float) -> None:
        """Record a worker's rate (``None``: the worker left)."""
        if worker == self.worker_id:
            return
        if rate is None:
            self._rates.pop(worker, None)
        else:
            self._rates[worker] = (max(0.0, rate), at)

    def _others(self, now: float) -> list[float]:
        return [r for r, at in self._rates.values() if now - at <= self.stale_seconds]

    def live(self, now: float) -> int:
        """Live workers, this one included."""
        return 1 + len(self._others(now))

    def share(self, own_rate: float, now: float) -> float:
        """This worker's share of the global capacity, in (0, 1]."""
        others = self._others(now)
        total = own_rate + sum(others)
        if total <= 0:
            return 1.0 / (1 + len(others))
        return max(own_rate / total, 1e-6)


class RateSharing:
    """Publish this worker's rate, follow the others', apply the share to the sampler."""

    def __init__(
        self,
        settings: Settings,
        sampler: SamplerLike,
        sink: Sink,
        metrics: Metrics,
        worker_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sampler = sampler
        self.sink = sink
        self.metrics = metrics
        self.worker_id = worker_id
        self.clock = clock
        self.board = RateBoard(worker_id, settings.rate_stale_seconds)

    def own_rate(self) -> float:
        """The sampler's measured event rate (events per second)."""
        return float(getattr(self.sampler.state, "event_rate", 0.0) or 0.0)

    def apply(self) -> float:
        """Compute the share and hand it to the sampler; return it."""
        now = self.clock()
        share = self.board.share(self.own_rate(), now)
        setter = getattr(self.sampler, "set_capacity_share", None)
        if callable(setter):
            setter(share)
        self.metrics.capacity_share.set(share)
        self.metrics.live_workers.set(self.board.live(now))
        return share

    async def publish(self, rate: float | None = None) -> None:
        """Send this worker's rate (``rate=None`` after :meth:`retire`: a tombstone)."""
        key = self.worker_id.encode()
        value = json.dumps(
            {"worker": self.worker_id, "event_rate": self.own_rate(), "at": self.clock()}
        ).encode()
        await (await self.sink.send(self.settings.topic_worker_rates, value, key=key))

    async def retire(self) -> None:
        """Delete this worker's entry (graceful stop)."""
        key = self.worker_id.encode()
        await (await self.sink.send(self.settings.topic_worker_rates, None, key=key))

    def on_record(self, key: bytes | None, value: bytes | None) -> None:
        """Fold one worker-rates record into the board."""
        if key is None:
            return
        worker = key.decode("utf-8", "replace")
        if value is None:
            self.board.update(worker, None, self.clock())
            return
        try:
            body = json.loads(value)
            self.board.update(worker, float(body["event_rate"]), float(body["at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed worker-rates record from %s", worker)

    async def follow(self) -> None:
        """Follow the worker-rates topic from its beginning until cancelled."""
        consumer = make_consumer(self.settings)
        await consumer.start()
        try:
            consumer.assign([TopicPartition(self.settings.topic_worker_rates, 0)])
            while True:
                batch = await consumer.getmany(timeout_ms=1_000)
                for records in batch.values():
                    for rec in records:
                        self.on_record(rec.key, rec.value)
                self.apply()
                await asyncio.sleep(0)
        finally:
            await consumer.stop()
