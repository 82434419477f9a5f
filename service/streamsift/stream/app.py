"""The worker: the faust application, the scorer's intake, timers, background tasks.

:class:`StreamService` wires the transport pieces around one sampler:

* the scorer's intake over inference-events (:mod:`streamsift.stream.intake`): a
  plain aiokafka consumer in group ``<app_id>-scorer`` whose every poll is one
  batch of :meth:`Scorer.process`; it commits its own offsets, one past the last
  record of each completed batch, i.e. after every message the batch caused was
  acknowledged by the broker (every ``commit_interval``, before revoked partitions
  are given up, and at a graceful stop); not a faust agent, whose per-record
  delivery cost about twice the scorer itself (docs/benchmarks.md);
* the join's loop over ``pending`` and ``labels`` (:mod:`streamsift.stream.join_wiring`):
  a plain aiokafka consumer in group ``<app_id>-join`` feeding the :class:`Joiner`,
  which owns its state (the pending store and the annotator statistics, each a
  changelog-backed store restored per assigned partition) and commits its own
  offsets after flushing the changelogs; not faust agents, whose delivery skipped
  records after a restart (docs/stream.md); it also runs the pending expiry;
* timers: sampler-state gauges and consumer lag, worker-rate publication;
* background tasks: the scorer's intake, the join's loop, the snapshot follower,
  the learner, the worker-rates follower;
* HTTP views (:mod:`streamsift.stream.web`).

An unexpected exception in a task crashes the worker (faust crashes the app when
a task raises): the
uncommitted batch is read again by the next worker, which is safe (see
:mod:`streamsift.stream.recovery`), whereas carrying on could commit past it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, cast

import faust
from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.changelog_store import ChangelogStore
from streamsift.stream.follower import SnapshotFollower
from streamsift.stream.group_loop import legacy_offsets
from streamsift.stream.intake import ScorerIntake
from streamsift.stream.join import Joiner
from streamsift.stream.join_wiring import ChangelogReader, JoinWiring
from streamsift.stream.kafka_config import faust_broker_url, faust_credentials
from streamsift.stream.learner import Learner
from streamsift.stream.ports import Sink
from streamsift.stream.rates import RateSharing
from streamsift.stream.recovery import KafkaLogReader, LogReader
from streamsift.stream.scorer import Scorer
from streamsift.stream.topics import changelog_topic, quality_changelog_topic
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
    consumer_factory
        Builds the scorer intake's consumer (default: aiokafka in the scorer group;
        tests pass a fake).
    join_consumer_factory
        Builds the join's consumer (default: aiokafka in the join group; tests pass a
        fake).
    changelog_reader
        Reads the join's changelogs on assignment (default: over the broker).
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
        consumer_factory: Callable[[], Any] | None = None,
        join_consumer_factory: Callable[[], Any] | None = None,
        changelog_reader: ChangelogReader | None = None,
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
        # The join's state: changelog-backed stores of the partitions it owns.
        self.table = ChangelogStore(changelog_topic(s), self.sink)
        self.quality_table = ChangelogStore(
            quality_changelog_topic(s), self.sink, partition_for_key=int
        )
        self.joiner = Joiner(
            s, sampler, self.sink, self.metrics, self.table, clock, self.quality_table
        )
        self.learner = Learner(s, sampler, self.sink, self.metrics, self.follower, clock)
        self.rates = RateSharing(s, sampler, self.sink, self.metrics, self.worker_id, clock)
        self.intake = ScorerIntake(
            s,
            self.scorer,
            self.metrics,
            consumer_factory=consumer_factory,
            legacy=None if consumer_factory is not None else partial(legacy_offsets, s),
        )
        self.offsets = self.intake.offsets
        self.join = JoinWiring(
            s,
            self.joiner,
            self.metrics,
            store=self.table,
            quality_store=self.quality_table,
            consumer_factory=join_consumer_factory,
            legacy=None if join_consumer_factory is not None else partial(legacy_offsets, s),
            read=changelog_reader,
        )
        self.health = Health(self.follower, self.metrics, (self.intake, self.join))
        self._define_timers()
        register_views(app, registry, self.health)

    # --- timers and background tasks ---------------------------------------------
    def _define_timers(self) -> None:
        s, app = self.settings, self.app

        @app.timer(1.0)
        async def gauges() -> None:
            self.refresh_gauges()

        @app.timer(s.rate_publish_seconds)
        async def publish_rate() -> None:
            try:
                await asyncio.wait_for(self.rates.publish(), timeout=10.0)
                self.health.broker_ok()
            except Exception as exc:
                log.warning("worker-rates publish failed: %r", exc)
            self.rates.apply()

        @app.task
        async def score() -> None:
            # Everything built at startup (modules, the app, the model) lives as long as
            # the worker: moved out of the collector's reach, a full (generation 2)
            # collection no longer scans it (~155,000 objects, 130-450 ms measured, a
            # stall of the event loop that landed in the latency tail).
            gc.freeze()
            await self.wait_for_model()
            await self.intake.run()  # a failed batch raises: faust crashes the worker

        @app.task
        async def join() -> None:
            await self.join.run()  # a failed send raises: faust crashes the worker

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
            # The producer is still up here: finish the batch in flight, commit
            # everything scored and leave the scorer group; the same for the join
            # (statistics saved, changelogs flushed first); last snapshot, leave the
            # rate board.
            for what, job in (
                ("scorer stop", self.intake.stop),
                ("join stop", self.join.stop),
                ("final snapshot", self.learner.close),
                ("retire", self.rates.retire),
            ):
                try:
                    await asyncio.wait_for(job(), timeout=10.0)
                except Exception as exc:
                    log.warning("%s failed at shutdown: %r", what, exc)

        app.on_before_shutdown.connect(cast(Any, before_shutdown))

    async def wait_for_model(self) -> bool:
        """Wait (at most ``snapshot_startup_wait_seconds``) for the snapshot follower's
        initial read, so that a restarted worker scores its first events with the newest
        published model rather than an empty one. Return whether the read finished."""
        limit = self.settings.snapshot_startup_wait_seconds
        if limit <= 0 or self.follower.ready.is_set():
            return self.follower.ready.is_set()
        try:
            await asyncio.wait_for(self.follower.ready.wait(), timeout=limit)
        except TimeoutError:
            log.warning(
                "scorer: no model snapshot read back within %.0f s; scoring with the model"
                " it has (version %s)",
                limit,
                getattr(self.sampler.model, "version", "?"),
            )
            return False
        return True

    async def commit_processed(
        self, partitions: Sequence[int] | None = None, *, wait: bool = True
    ) -> dict[int, int]:
        """Commit the scorer's processed offsets (see :meth:`ScorerIntake.commit`)."""
        return await self.intake.commit(partitions, wait=wait)

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
        """Lag and assigned partitions: inference-events from the scorer's intake,
        pending and labels from the join's loop."""
        self.intake.refresh_gauges()
        self.join.refresh_gauges()


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
