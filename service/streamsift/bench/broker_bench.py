"""The broker benchmark: the real worker against the raw consumer, through Kafka.

One run, on topics unique to it:

1. **Pre-load** ``events`` synthetic events into a fresh input topic.
2. **Raw consumer**: an aiokafka consumer reads the whole topic and
   ``json.loads`` every value; its rate (first record to last) is the ceiling
   any Python consumer of this topic can reach on this machine.
3. **Pipeline**: a ``streamsift worker`` subprocess (decode, validate, score,
   drift, select, decision log, label requests; default strategy) consumes the
   same events; the rate is read from its ``/metrics`` (events consumed over the
   time from its first to its last event), and its resident memory is sampled
   when it has consumed 10 % and 100 % of them.
4. **Latency at half load**: live events at ``latency_load`` x the measured
   pipeline rate for ``latency_seconds``; for every label request they cause,
   the time from the event's timestamp to the request's arrival at a consumer of
   the label-requests topic (the ``requested_at`` stamp is reported too), and
   whether the worker kept up with that input.

Before the worker starts, a model trained on ``warm_labels`` labelled synthetic
events (another seed than the measured ones; 2,000 by default, 0 for none) is
published, signed, to the run's model-snapshots topic, as the learner would have:
the worker reads it back before it scores, so the pipeline is timed with the
default strategy scoring a trained model. (No labels come back during the run, so
without it the worker would score every event with an empty model in its cold
start, which is not the steady state the targets are about.)

The worker runs with its default settings except for unique topic names and
group, ``capacity_per_hour`` (36,000 by default: 10 label requests per second,
a small share of the events at the target rates, yet enough requests to time)
and ``max_pending`` (no labels come back during a benchmark).

With ``profile`` (``--profile``), py-spy samples the worker from 10 % to 90 % of
the pre-loaded events and the figures include its time per stage
(:mod:`streamsift.bench.profile`); the rates of such a run are a little lower.

Targets (issue 4, a benchmark, not a test): pipeline >= 0.5 x raw and >= 20,000
events/s per worker, p99 < 250 ms at half load, RSS(100 %) <= 1.2 x RSS(10 %).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from streamsift.bench.profile import Profiler, ProfileSummary, find_py_spy
from streamsift.bench.worker_proc import WorkerProcess, cpu_seconds, rss_bytes, topic_env
from streamsift.config import Settings
from streamsift.errors import StreamsiftError
from streamsift.stream.kafka_config import aiokafka_kwargs, kafka_python_kwargs
from streamsift.tools.aio_producer import BatchSender, produce_synthetic_async
from streamsift.tools.kafka_io import ensure_topic
from streamsift.tools.synthetic import SyntheticStream

__all__ = ["BenchError", "BrokerBenchConfig", "run_broker_bench"]

log = logging.getLogger(__name__)

_PLACEHOLDER = "1970-01-01T00:00:00.000000+00:00"


class BenchError(StreamsiftError):
    """The benchmark could not complete (the message says which phase and why)."""


@dataclass
class BrokerBenchConfig:
    """Parameters of :func:`run_broker_bench` (defaults are the documented run)."""

    events: int = 500_000
    partitions: int = 4
    seed: int = 0
    latency_seconds: float = 60.0
    latency_load: float = 0.5
    capacity_per_hour: float = 36_000.0
    max_pending: int = 1_000_000
    warm_labels: int = 2_000
    stall_seconds: float = 120.0
    keep_topics: bool = False
    profile: bool = False
    out_dir: Path = field(default_factory=lambda: Path("bench-results"))
    worker_env: dict[str, str] = field(default_factory=dict)


def _quantile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    ys = sorted(xs)
    pos = q * (len(ys) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ys[lo] + (ys[hi] - ys[lo]) * (pos - lo)


async def _preload(settings: Settings, topic: str, n: int, seed: int, prefix: str) -> float:
    sender = BatchSender(settings, topic)
    await sender.start()
    try:
        stream = SyntheticStream(seed=seed, id_prefix=prefix)
        stats = await produce_synthetic_async(sender, stream, count=n, rate=0.0, chunk=2000)
    finally:
        await sender.stop()
    return stats.rate


async def _raw_consume(settings: Settings, topic: str, n: int) -> tuple[float, float]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        **aiokafka_kwargs(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=16 << 20,
    )
    await consumer.start()
    try:
        count, t0, last = 0, 0.0, time.monotonic()
        loads = json.loads
        while count < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            if not batches:
                if time.monotonic() - last > 60:
                    raise BenchError(f"raw consumer: stalled at {count}/{n} records")
                continue
            if count == 0:
                t0 = time.monotonic()
            for records in batches.values():
                for rec in records:
                    loads(rec.value)
                count += len(records)
            last = time.monotonic()
        seconds = time.monotonic() - t0
    finally:
        await consumer.stop()
    return count / seconds, seconds


def _run_settings(settings: Settings, env: dict[str, str]) -> Settings:
    """The bench's settings with the run's topics, group and partitions (the worker's)."""
    update: dict[str, Any] = {
        name: env[f"STREAMSIFT_{name.upper()}"]
        for name in Settings.model_fields
        if f"STREAMSIFT_{name.upper()}" in env and name.startswith("topic_")
    }
    update["app_id"] = env["STREAMSIFT_APP_ID"]
    update["topic_partitions"] = int(env["STREAMSIFT_TOPIC_PARTITIONS"])
    return settings.model_copy(update=update)


def _publish_warm_snapshot(run: Settings, labels: int, seed: int) -> dict[str, Any]:
    """Train the worker's model on ``labels`` labelled synthetic events and publish it,
    signed, to the run's model-snapshots topic (creating the run's topics first, as
    the worker would). Return its version, labels seen and tree size."""
    from streamsift.core.types import LabelledItem
    from streamsift.factory import build_sampler
    from streamsift.stream.snapshots import encode_model_snapshot
    from streamsift.stream.topics import ensure_topics
    from streamsift.tools.kafka_io import make_producer

    ensure_topics(run)
    sampler = build_sampler(run)
    for ev in SyntheticStream(seed=seed, id_prefix="warm").take(labels):
        sampler.learn(LabelledItem(ev.event_id, ev.features, ev.label, p=1.0, arm="bootstrap"))
    model = sampler.model
    model.bump_version()
    raw = encode_model_snapshot(model, run, time.time())
    producer = make_producer(run)
    try:
        producer.send(run.topic_model_snapshots, key=run.model_name.encode(), value=raw).get(
            timeout=30
        )
    finally:
        producer.close()
    pipeline = model.model
    steps = getattr(pipeline, "steps", None)
    last = list(steps.values())[-1] if steps else pipeline
    return {
        "labels": labels,
        "model_version": int(model.version),
        "labels_seen": int(model.labels_seen),
        "warm": bool(model.is_warm),
        "nodes": getattr(last, "n_nodes", None),
    }


def _iso(ts: float) -> bytes:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").encode()


async def _latency_phase(
    settings: Settings,
    input_topic: str,
    requests_topic: str,
    rate: float,
    seconds: float,
    seed: int,
    prefix: str,
) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    m = max(1, int(rate * seconds))
    templates = []
    for ev in SyntheticStream(seed=seed, id_prefix=prefix).take(m):
        raw = json.dumps(ev.to_message(0.0), separators=(",", ":"))
        before, after = raw.split(_PLACEHOLDER)
        templates.append((ev.event_id.encode(), before.encode(), after.encode()))
    stamps: dict[str, float] = {}
    e2e: list[float] = []
    stamped: list[float] = []
    consumer = AIOKafkaConsumer(
        requests_topic,
        **aiokafka_kwargs(settings),
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    done = asyncio.Event()

    async def collect() -> None:
        while not done.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for rec in records:
                    body = json.loads(rec.value)
                    t = stamps.get(body.get("event_id", ""))
                    if t is None:
                        continue
                    e2e.append(now - t)
                    req_at = datetime.fromisoformat(body["requested_at"]).timestamp()
                    stamped.append(req_at - t)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(1.0)  # the consumer has its assignment and end offsets
    sender = BatchSender(settings, input_topic)
    await sender.start()
    try:
        start = time.monotonic()
        sent = 0
        step = max(1, int(rate * 0.01))
        while sent < m:
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
            chunk = templates[sent : sent + step]
            items = []
            for key, head, tail in chunk:
                now = time.time()
                stamps[key.decode()] = now
                items.append((key, head + _iso(now) + tail))
            await sender.send(items)
            sent += len(chunk)
        await sender.flush()
        send_seconds = time.monotonic() - start
        await asyncio.sleep(5.0)  # trailing requests
    finally:
        done.set()
        await collector
        await sender.stop()
        await consumer.stop()
    return {
        "latency_events": m,
        "latency_input_rate": m / send_seconds,
        "latency_samples": len(e2e),
        "p50_latency_seconds": _quantile(e2e, 0.5),
        "p99_latency_seconds": _quantile(e2e, 0.99),
        "p50_requested_at_seconds": _quantile(stamped, 0.5),
        "p99_requested_at_seconds": _quantile(stamped, 0.99),
        "max_latency_seconds": max(e2e) if e2e else None,
    }


def _observe_pipeline(
    worker: WorkerProcess,
    n: int,
    stall: float,
    say: Callable[[str], None],
    profile_to: Path | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + 180.0
    while worker.consumed() is None:
        if not worker.alive() or time.monotonic() > deadline:
            raise BenchError(f"worker did not start serving /metrics:\n{worker.log_tail()}")
        time.sleep(0.2)
    samples: list[tuple[float, int]] = []
    cpu_at: dict[int, tuple[int, float | None]] = {}  # 10 / 90 % -> (events, CPU seconds)
    rss10 = rss100 = None
    profiler: Profiler | None = None
    profile: ProfileSummary | None = None
    last_progress = time.monotonic()
    while True:
        if not worker.alive():
            raise BenchError(f"worker exited during the pipeline phase:\n{worker.log_tail()}")
        c = worker.consumed()
        t = time.monotonic()
        if c is None:
            time.sleep(0.1)
            continue
        if not samples or c > samples[-1][1]:
            last_progress = t
        samples.append((t, c))
        for pct in (10, 90):
            if pct not in cpu_at and c >= pct / 100 * n:
                cpu_at[pct] = (c, cpu_seconds(worker.pid))
                if profile_to is not None and worker.pid is not None:
                    if pct == 10:
                        profiler = Profiler(worker.pid, profile_to)
                    elif profiler is not None:
                        profile, profiler = profiler.stop(), None
        if rss10 is None and c >= 0.1 * n:
            rss10 = rss_bytes(worker.pid)
            say(f"  worker at 10 %: {c:,} events, RSS {rss10 / 2**20:.0f} MiB")
        if c >= n:
            rss100 = rss_bytes(worker.pid)
            break
        if t - last_progress > stall:
            raise BenchError(f"worker stalled at {c}/{n} events:\n{worker.log_tail()}")
        # scraping /metrics costs the worker CPU: poll fast only where timing matters
        time.sleep(0.05 if c == 0 else 0.1 if c < 0.12 * n or c >= 0.8 * n else 0.5)
    if profiler is not None:  # 90 % was never seen apart from 100 %
        profile = profiler.stop()
    done_t = samples[-1][0]
    zeros = [s for s in samples if s[1] == 0]
    if zeros:
        # from the last moment nothing was consumed yet: error <= one sampling interval
        start_t, start_c, exact = zeros[-1][0], 0, True
    else:
        # /metrics answered only after consumption began: rate over the whole
        # worker lifetime (start-up included) is a lower bound
        start_t, start_c, exact = worker.started_at, 0, False
    rate = (n - start_c) / (done_t - start_t)

    def at(frac: float) -> tuple[float, int]:
        return next(s for s in samples if s[1] >= frac * n)

    lo, hi = at(0.1), at(0.9)
    steady = (hi[1] - lo[1]) / (hi[0] - lo[0]) if hi[0] > lo[0] else rate
    # the worker's CPU per event from 10 % to 90 %: the figure that moves least with
    # the machine's load (a busy machine delays the worker, it does not make it work more)
    cpu_us = None
    (c10, cpu10), (c90, cpu90) = cpu_at.get(10, (0, None)), cpu_at.get(90, (0, None))
    if cpu10 is not None and cpu90 is not None and c90 > c10:
        cpu_us = (cpu90 - cpu10) / (c90 - c10) * 1e6
    return {
        "worker_cpu_us_per_event": cpu_us,
        "pipeline_rate": rate,
        "pipeline_rate_exact": exact,
        "pipeline_rate_10_90": steady,
        "pipeline_seconds": done_t - start_t,
        "rss_bytes_10pct": rss10,
        "rss_bytes_100pct": rss100,
        "profile": None if profile is None else asdict(profile),
    }


def _time_split(m: dict[str, float]) -> dict[str, float | None]:
    """Where the worker's batch time goes: Sampler.decide against the whole batch."""
    events = m.get("streamsift_scorer_events_consumed_total") or 0.0
    decide = m.get("streamsift_scorer_scoring_duration_seconds_sum")
    batch = m.get("streamsift_scorer_batch_duration_seconds_sum")
    if not events or decide is None or batch is None:
        return {"decide_us_per_event": None, "batch_us_per_event": None}
    return {
        "decide_us_per_event": decide / events * 1e6,
        "batch_us_per_event": batch / events * 1e6,
    }


def _delete_topics(settings: Settings, prefixes: tuple[str, ...]) -> int:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**kafka_python_kwargs(settings), client_id="streamsift-bench")
    try:
        doomed = [t for t in admin.list_topics() if t.startswith(prefixes)]
        if doomed:
            admin.delete_topics(doomed)
        return len(doomed)
    finally:
        admin.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise KeyboardInterrupt


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, so the worker is stopped and topics deleted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_broker_bench(
    settings: Settings, cfg: BrokerBenchConfig, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the four phases; return the figures (see the module docstring).

    SIGTERM and Ctrl-C stop the worker and delete the run's topics before raising.
    """
    with _sigterm_interrupts():
        return _run(settings, cfg, say)


def _run(settings: Settings, cfg: BrokerBenchConfig, say: Callable[[str], None]) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:10]
    env = topic_env(run_id)
    input_topic = env["STREAMSIFT_TOPIC_INFERENCE_EVENTS"]
    requests_topic = env["STREAMSIFT_TOPIC_LABEL_REQUESTS"]
    app_id = f"bench-{run_id}-app"
    env.update(
        {
            "STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "STREAMSIFT_APP_ID": app_id,
            "STREAMSIFT_TOPIC_PARTITIONS": str(cfg.partitions),
            "STREAMSIFT_CAPACITY_PER_HOUR": str(cfg.capacity_per_hour),
            "STREAMSIFT_MAX_PENDING": str(cfg.max_pending),
            **cfg.worker_env,
        }
    )
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "run_id": run_id,
        "config": {**asdict(cfg), "out_dir": str(cfg.out_dir)},
    }
    try:
        ensure_topic(settings, input_topic, cfg.partitions)
        if cfg.warm_labels > 0:
            result["warm_model"] = _publish_warm_snapshot(
                _run_settings(settings, env), cfg.warm_labels, cfg.seed + 2
            )
            say(
                f"  published a model trained on {cfg.warm_labels:,} labels"
                f" ({result['warm_model']['nodes']} tree nodes)"
            )
        say(f"broker bench {run_id}: pre-loading {cfg.events:,} events into {input_topic}")
        result["preload_rate"] = asyncio.run(
            _preload(settings, input_topic, cfg.events, cfg.seed, f"b{run_id}")
        )
        say(f"  pre-loaded at {result['preload_rate']:,.0f} ev/s; raw aiokafka consumer ...")
        raw_rate, raw_s = asyncio.run(_raw_consume(settings, input_topic, cfg.events))
        result.update(raw_consumer_rate=raw_rate, raw_consumer_seconds=raw_s)
        say(f"  raw consumer: {raw_rate:,.0f} ev/s; starting the worker ...")
        worker = WorkerProcess(env, cfg.out_dir / f"worker-{run_id}.log")
        worker.start()
        try:
            profile_to = None
            if cfg.profile:
                if find_py_spy() is None:
                    say("  py-spy not found (pip install '.[profile]'): no profile")
                else:
                    profile_to = cfg.out_dir / f"profile-{run_id}.txt"
            result.update(_observe_pipeline(worker, cfg.events, cfg.stall_seconds, say, profile_to))
            cpu = result.get("worker_cpu_us_per_event")
            say(
                f"  pipeline: {result['pipeline_rate']:,.0f} ev/s"
                f" (worker CPU {cpu if cpu is None else round(cpu)} µs/event);"
                " latency at half load ..."
            )
            rate = cfg.latency_load * result["pipeline_rate"]
            result.update(
                asyncio.run(
                    _latency_phase(
                        settings,
                        input_topic,
                        requests_topic,
                        rate,
                        cfg.latency_seconds,
                        cfg.seed + 1,
                        f"l{run_id}",
                    )
                )
            )
            consumed = worker.consumed()
            result["worker_consumed_total"] = consumed
            # latencies only mean "at half load" if the worker kept up with the input
            result["latency_worker_kept_up"] = bool(
                consumed is not None and consumed - cfg.events >= 0.99 * result["latency_events"]
            )
            final = worker.metrics() or {}
            result["label_requests_total"] = final.get("streamsift_scorer_label_requests_total")
            result["worker_model_version"] = final.get("streamsift_model_version")
            result.update(_time_split(final))
        finally:
            result["worker_exit_code"] = worker.stop()
            result["worker_log"] = str(worker.log_path)
    finally:
        if not cfg.keep_topics:
            try:
                _delete_topics(settings, (f"bench-{run_id}",))
            except Exception as exc:  # best effort: unique names harm nobody
                log.warning("could not delete bench topics: %r", exc)
    raw = result["raw_consumer_rate"]
    pipe = result["pipeline_rate"]
    rss10, rss100 = result.get("rss_bytes_10pct"), result.get("rss_bytes_100pct")
    p99 = result.get("p99_latency_seconds")
    result["pipeline_to_raw_ratio"] = pipe / raw if raw else None
    result["rss_ratio_100_to_10"] = rss100 / rss10 if rss10 and rss100 else None
    result["targets"] = {
        "pipeline_at_least_half_raw": bool(raw and pipe >= 0.5 * raw),
        "pipeline_at_least_20k_per_worker": pipe >= 20_000,
        "p99_under_250ms": p99 is not None and p99 < 0.25,
        "rss_within_1_2x": bool(rss10 and rss100 and rss100 <= 1.2 * rss10),
    }
    return result
