"""The faust application: topics, the pending table, agents, timers, background tasks.

:class:`StreamService` wires the transport pieces around one sampler:

* agent ``scorer`` over inference-events (concurrency 1, batches; the topic is
  declared without faust acks: the scorer commits its own offsets, one past the
  last record of each batch :meth:`Scorer.process` completed, i.e. after every
  message it caused was acknowledged by the broker; every ``commit_interval``,
  before revoked partitions are given up, and at a graceful stop, see
  :mod:`streamsift.stream.offsets`);
* agents ``pending`` and ``labels`` filling and joining the pending table (a faust
  table with a changelog, keyed by event_id bytes, partitioned like the topics);
* timers: pending expiry, sampler-state gauges and consumer lag, worker-rate
  publication;
* background tasks: the snapshot follower, the learner, the worker-rates follower;
* HTTP views (:mod:`streamsift.stream.web`).

An unexpected exception in an agent crashes the worker (``CrashingSupervisor``):
the uncommitted batch is read again by the next worker, which is safe (see
:mod:`streamsift.stream.recovery`), whereas carrying on could commit past it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import faust
from faust.types import TP
from mode import CrashingSupervisor
from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.follower import SnapshotFollower
from streamsift.stream.join import Joiner
from streamsift.stream.kafka_config import faust_broker_url, faust_credentials
from streamsift.stream.learner import Learner
from streamsift.stream.offsets import ProcessedOffsets
from streamsift.stream.ports import Sink
from streamsift.stream.rates import RateSharing
from streamsift.stream.records import SourceRecord, from_faust_event
from streamsift.stream.recovery import KafkaLogReader, LogReader
from streamsift.stream.scorer import Scorer
from streamsift.stream.topics import PENDING_TABLE
from streamsift.stream.web import Health, register_views

__all__ = ["FaustSink", "StreamService", "default_worker_id"]

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """``host-pid``: unique per process, readable in the worker-rates topic."""
    return f"{socket.gethostname()}-{os.getpid()}"


class FaustSink:
    """A :class:`~streamsift.stream.ports.Sink` over the faust app's producer."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        """Queue one message on the app's producer; return its acknowledgement."""
        fut = await self.app.producer.send(
            topic,
            key,
            value,
            partition,
            None,
            list(headers) if headers is not None else None,
        )
        return fut


def _raw_topic(app: faust.App, name: str, *, acks: bool = True) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        acks=acks,
    )


class StreamService:
    """One streamsift worker: the faust app and everything it runs.

    Parameters
    ----------
    settings
        Everything configurable.
    sampler
        The core's sampler (shared by scorer, join and learner of this worker).
    registry
        Where metrics are registered (the process-wide registry in production).
    input_partitions
        Partition count of inference-events (from :func:`ensure_topics`).
    join_partitions
        Partition count of labels / label-requests / pending.
    worker_id
        Name of this worker in worker-rates and decision records.
    reader
        Reads the service's own output back (default: over the broker).
    sink
        Where messages go (default: the app's producer; tests pass a memory sink).
    clock
        Wall clock.
    """

    def __init__(
        self,
        settings: Settings,
        sampler: Any,
        registry: CollectorRegistry,
        *,
        input_partitions: int,
        join_partitions: int,
        worker_id: str | None = None,
        reader: LogReader | None = None,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        s = self.settings = settings
        self.sampler = sampler
        self.registry = registry
        self.worker_id = worker_id or s.worker_id or default_worker_id()
        self.metrics = Metrics(
            registry,
            max_regions=s.max_regions,
            max_features=s.metrics_max_features,
            max_annotators=s.metrics_max_annotators,
        )
        self.app = app = faust.App(
            s.app_id,
            broker=faust_broker_url(s),
            broker_credentials=faust_credentials(s),
            store=s.store,
            web_port=s.web_port or 6066,
            web_bind=s.web_host,
            web_host=s.web_host,
            topic_partitions=join_partitions,
            topic_replication_factor=s.topic_replication,
            table_standby_replicas=0,
            broker_commit_interval=s.commit_interval_seconds,
            broker_session_timeout=s.session_timeout_seconds,
            broker_heartbeat_interval=s.heartbeat_interval_seconds,
            consumer_auto_offset_reset="earliest",
            stream_buffer_maxsize=max(4 * s.take_batch, 4_096),
            producer_acks=-1,
            web_enabled=s.web_port > 0,  # web_port 0: no HTTP server (tests)
        )
        self.sink: Sink = sink if sink is not None else FaustSink(app)
        self.follower = SnapshotFollower(s, sampler, self.metrics)
        self.scorer = Scorer(
            s,
            sampler,
            self.sink,
            self.metrics,
            reader or KafkaLogReader(s),
            input_partitions=input_partitions,
            worker_id=self.worker_id,
            clock=clock,
        )
        self.table = app.Table(
            PENDING_TABLE,
            key_type=bytes,
            value_type=bytes,
            partitions=join_partitions,
            use_partitioner=True,
        )
        self.joiner = Joiner(s, sampler, self.sink, self.metrics, self.table, clock)
        self.learner = Learner(s, sampler, self.sink, self.metrics, self.follower, clock)
        self.rates = RateSharing(s, sampler, self.sink, self.metrics, self.worker_id, clock)
        self.health = Health(app, self.follower, self.metrics)
        self.offsets = ProcessedOffsets()
        self._batch_lock = asyncio.Lock()  # held while the scorer processes a batch
        self._stopping = False
        self._define_agents()
        self._define_timers()
        register_views(app, registry, self.health)

    # --- agents -----------------------------------------------------------------
    def _define_agents(self) -> None:
        s, app = self.settings, self.app
        scorer, joiner = self.scorer, self.joiner

        @app.agent(
            _raw_topic(app, s.topic_inference_events, acks=False),
            name="scorer",
            concurrency=1,
            supervisor_strategy=CrashingSupervisor,
        )
        async def score(stream: Any) -> None:
            offsets, lock = self.offsets, self._batch_lock
            async for events in stream.noack_take(s.take_batch, within=s.take_within_seconds):
                async with lock:
                    records = self._current(events)
                    if records:
                        await scorer.process(records)
                        offsets.record(records)

        @app.agent(
            _raw_topic(app, s.topic_pending),
            name="pending",
            concurrency=1,
            supervisor_strategy=CrashingSupervisor,
        )
        async def pending(stream: Any) -> None:
            async for event in stream.events():
                await joiner.on_pending(from_faust_event(event))

        @app.agent(
            _raw_topic(app, s.topic_labels),
            name="labels",
            concurrency=1,
            supervisor_strategy=CrashingSupervisor,
        )
        async def labels(stream: Any) -> None:
            async for event in stream.events():
                await joiner.on_label(from_faust_event(event))

        async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
            gone = [tp.partition for tp in revoked if tp.topic == s.topic_inference_events]
            if gone:
                # Still assigned here: wait for the batch in flight, commit, then forget.
                try:
                    await asyncio.wait_for(self.commit_processed(gone), timeout=10.0)
                except Exception as exc:  # the next owner re-reads and dedupes
                    log.warning("commit before revocation failed: %r", exc)
                self.offsets.forget(gone)
            scorer.on_revoked(gone)

        app.on_partitions_revoked.connect(cast(Any, on_revoked))
        self.agents = (score, pending, labels)

    # --- timers and background tasks ---------------------------------------------
    def _define_timers(self) -> None:
        s, app = self.settings, self.app

        @app.timer(s.expiry_check_seconds)
        async def expire() -> None:
            if not app.rebalancing:
                await self.joiner.expire()

        @app.timer(s.commit_interval_seconds)
        async def commit_scored() -> None:
            if not app.rebalancing and not self._stopping:
                try:
                    await self.commit_processed(wait=False)
                except Exception as exc:  # retried next tick; at worst re-read and deduped
                    log.warning("committing scored offsets failed: %r", exc)

        @app.timer(1.0)
        async def gauges() -> None:
            self.refresh_gauges()

        @app.timer(max(1.0, s.drift_window_seconds / 10))
        async def flush_drift() -> None:
            try:
                await self.scorer.flush_drift()
            except Exception as exc:  # at worst the window closes with the next event
                log.warning("drift flush failed: %r", exc)

        @app.timer(s.rate_publish_seconds)
        async def publish_rate() -> None:
            try:
                await asyncio.wait_for(self.rates.publish(), timeout=10.0)
                self.health.broker_ok()
            except Exception as exc:
                log.warning("worker-rates publish failed: %r", exc)
            self.rates.apply()

        @app.task
        async def follow_snapshots() -> None:
            await self.follower.run()

        @app.task
        async def learn() -> None:
            await self.follower.ready.wait()
            await self.learner.run()

        @app.task
        async def follow_rates() -> None:
            await self.rates.follow()

        async def before_shutdown(sender: Any, **kwargs: Any) -> None:
            # The consumer and the producer are still up here: finish the batch in
            # flight and commit everything scored, last snapshot, leave the rate board.
            self._stopping = True
            for what, job in (
                ("commit", self.commit_processed),
                ("final snapshot", self.learner.close),
                ("retire", self.rates.retire),
            ):
                try:
                    await asyncio.wait_for(job(), timeout=10.0)
                except Exception as exc:
                    log.warning("%s failed at shutdown: %r", what, exc)

        app.on_before_shutdown.connect(cast(Any, before_shutdown))

    def _current(self, events: Sequence[Any]) -> list[SourceRecord]:
        """The records of a taken batch that this worker should still process.

        None once the worker is stopping (they are read again by the next owner),
        nor while flow control is suspended (a rebalance or a stop is under way), nor
        those fetched in an earlier consumer generation (their partition may have
        moved; faust seeks to the committed offsets after every assignment, so they
        are delivered again if they are still ours): faust's own stream skips events
        on the same conditions, but a batch already taken is past that check.
        """
        app = self.app
        if self._stopping or not app.flow_control.is_active():
            return []
        generation = app.consumer_generation_id
        return [from_faust_event(e) for e in events if e.message.generation_id == generation]

    async def commit_processed(
        self, partitions: Sequence[int] | None = None, *, wait: bool = True
    ) -> dict[int, int]:
        """Commit the scorer's processed offsets (of ``partitions``, default all owned).

        With ``wait`` (revocation, graceful stop) the batch in flight finishes
        first, so a stop commits everything the worker processed. Only complete
        batches are marked (every message they caused was acknowledged by the
        broker), so this never commits past work in flight. Returns what was
        committed, ``{partition: next offset}``.
        """
        topic = self.settings.topic_inference_events
        consumer = self.app.consumer
        if wait:
            async with self._batch_lock:
                return await self._commit(consumer, topic, partitions)
        return await self._commit(consumer, topic, partitions)

    async def _commit(
        self, consumer: Any, topic: str, partitions: Sequence[int] | None
    ) -> dict[int, int]:
        owned = {tp.partition for tp in consumer.assignment() if tp.topic == topic}
        if partitions is not None:
            owned &= set(partitions)
        due = self.offsets.due(owned)
        if not due:
            return {}
        ok = await consumer._commit({TP(topic, p): off for p, off in due.items()})
        if not ok:
            return {}
        self.offsets.committed(due)
        return due

    def refresh_gauges(self) -> None:
        """Copy the sampler's state and the consumer lag into the gauges."""
        m = self.metrics
        state = self.sampler.state
        m.target_ratio.set(float(getattr(state, "target_fraction", 0.0) or 0.0))
        m.target_label_rate.set(float(getattr(state, "target_label_rate", 0.0) or 0.0))
        m.event_rate.set(float(getattr(state, "event_rate", 0.0) or 0.0))
        m.threshold.set(float(getattr(state, "threshold", 0.0) or 0.0))
        m.sampler_pending.set(float(getattr(state, "pending", 0) or 0))
        m.spent_today.set(float(getattr(state, "spent_today", 0.0) or 0.0))
        model = self.sampler.model
        m.labels_seen.set(float(getattr(model, "labels_seen", 0) or 0))
        m.model_version.set(float(getattr(model, "version", 0) or 0))
        for region, boost in dict(getattr(state, "boosts", {}) or {}).items():
            m.boost.labels(region=m.regions(str(region))).set(float(boost))
        _control_gauges(m, state)
        self._lag_gauges()

    def _lag_gauges(self) -> None:
        s, m = self.settings, self.metrics
        try:
            consumer = self.app.consumer
            assignment = consumer.assignment()
        except Exception:
            return
        committed = getattr(consumer, "_committed_offset", {})
        scored = s.topic_inference_events
        lag: dict[str, int] = {}
        owned: dict[str, int] = {}
        for tp in assignment:
            if tp.topic not in (s.topic_inference_events, s.topic_labels, s.topic_pending):
                continue
            owned[tp.topic] = owned.get(tp.topic, 0) + 1
            high = consumer.highwater(tp)
            done = committed.get(tp)
            if tp.topic == scored:  # the scorer commits its own offsets
                done = self.offsets.committed_offset(tp.partition) or done
            if high is None:
                continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, int(high) - int(done or 0))
        kinds = {
            s.topic_inference_events: "inference-events",
            s.topic_labels: "labels",
            s.topic_pending: "pending",
        }
        for topic, value in lag.items():
            m.consumer_lag.labels(topic=kinds[topic]).set(value)
        for topic, kind in kinds.items():
            m.assigned_partitions.labels(topic=kind).set(owned.get(topic, 0))


def _control_gauges(m: Metrics, state: Any) -> None:
    """Control-arm estimates, read defensively (estimates may be None before labels)."""
    for model, attr in (("production", "production_accuracy"), ("online", "online_accuracy")):
        est = getattr(state, attr, None)
        for bound, value in _bounds(est).items():
            m.control_accuracy.labels(model=model, bound=bound).set(value)
    for bound, value in _bounds(getattr(state, "lift", None)).items():
        m.control_lift.labels(bound=bound).set(value)


def _bounds(est: Any) -> dict[str, float]:
    """``{estimate, lower, upper}`` of an estimate object, a float, or a tuple."""
    if est is None:
        return {}
    if isinstance(est, int | float):
        return {"estimate": float(est)}
    if isinstance(est, tuple) and len(est) == 3:
        return dict(zip(("estimate", "lower", "upper"), map(float, est), strict=True))
    out = {}
    for bound, names in (
        ("estimate", ("estimate", "value", "mean")),
        ("lower", ("lower", "low", "ci_low")),
        ("upper", ("upper", "high", "ci_high")),
    ):
        for name in names:
            v = getattr(est, name, None)
            if isinstance(v, int | float):
                out[bound] = float(v)
                break
    return out
