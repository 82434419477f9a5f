"""``streamsift produce-synthetic``: realistic inference events with a scripted drift.

Sends events of :class:`~streamsift.tools.synthetic.SyntheticStream` (payments
scored by an imperfect production model) to the inference-events topic with
aiokafka (batched per partition with Kafka's default key partitioner) or
kafka-python (``--client kafka-python``, a few thousand events/s at most), keyed by
event_id, at a given rate. From event ``--drift-at`` (or
``--drift-after`` seconds) the ``--drift-regions`` get a covariate shift that also
lowers the production model's confidence. Ctrl-C (or SIGTERM) stops after the
current chunk and flushes what was sent.

Example::

    streamsift produce-synthetic --rate 500 --count 20000 --drift-at 10000 \\
        --drift-regions eu-west --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from streamsift.config import Settings, load_settings
from streamsift.errors import ConfigurationError
from streamsift.tools.aio_producer import BatchSender, produce_synthetic_async
from streamsift.tools.kafka_io import (
    ProduceStats,
    StopFlag,
    ensure_topic,
    make_producer,
    produce_synthetic,
    stop_on_signals,
)
from streamsift.tools.synthetic import DEFAULT_REGIONS, SyntheticStream

__all__ = ["parse_regions", "register"]


def parse_regions(text: str | None) -> dict[str, float]:
    """``"eu-west=0.5,us-east=0.5"`` or ``"a,b,c"`` (equal shares) to a share map."""
    if not text:
        return dict(DEFAULT_REGIONS)
    out: dict[str, float] = {}
    for item in text.split(","):
        name, _, share = item.strip().partition("=")
        if not name:
            continue
        try:
            out[name] = float(share) if share else 1.0
        except ValueError:
            raise ConfigurationError(f"--regions: bad share in {item!r}") from None
    return out


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _build_stream(args: argparse.Namespace) -> SyntheticStream:
    drift_at = args.drift_at
    if args.drift_after is not None:
        if args.rate <= 0:
            raise ConfigurationError("--drift-after needs --rate > 0 (use --drift-at)")
        drift_at = args.start_index + int(args.drift_after * args.rate)
    regions = _names(args.drift_regions)
    if drift_at is not None and not regions:
        raise ConfigurationError("--drift-at/--drift-after need --drift-regions")
    stream = SyntheticStream(
        seed=args.seed,
        regions=parse_regions(args.regions),
        drift_at=drift_at if regions else None,
        drift_regions=regions,
        drift_shift=args.drift_shift,
        drift_temperature=args.drift_temperature,
        rate=args.rate if args.rate > 0 else 1000.0,
        id_prefix=args.id_prefix,
    )
    stream.seek(args.start_index)
    return stream


async def _produce_async(
    settings: Settings, topic: str, stream: SyntheticStream, kwargs: dict[str, Any]
) -> ProduceStats:
    sender = BatchSender(settings, topic)
    await sender.start()
    try:
        return await produce_synthetic_async(sender, stream, **kwargs)
    finally:
        await sender.stop()


def _run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.bootstrap:
        overrides["kafka_bootstrap_servers"] = args.bootstrap
    settings = load_settings(**overrides)
    topic = args.topic or settings.topic_inference_events
    stream = _build_stream(args)
    count = args.count if args.count > 0 else None
    console = Console(stderr=True, quiet=args.quiet)
    if ensure_topic(settings, topic, args.partitions or settings.topic_partitions):
        console.print(f"created topic [bold]{topic}[/]")
    flag = StopFlag()
    progress = Progress(
        TextColumn("[bold]produce-synthetic[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        disable=args.no_progress or args.quiet,
        refresh_per_second=4,
    )
    drift_note = (
        f"drift at {stream.drift_at} in {','.join(stream.drift_regions)}"
        if stream.drift_at is not None
        else "no drift"
    )
    with stop_on_signals(flag), progress:
        task = progress.add_task(f"→ {topic} ({drift_note})", total=count, rate="")

        def advance(n: int) -> None:
            progress.update(task, advance=n)
            speed = progress.tasks[0].speed
            progress.update(task, rate=f"{speed:,.0f} ev/s" if speed else "")

        kwargs: dict[str, Any] = {
            "count": count,
            "rate": args.rate,
            "live_timestamps": args.timestamps == "live",
            "stop": flag,
            "on_progress": advance,
        }
        if args.client == "kafka-python":
            producer = make_producer(settings)
            try:
                stats = produce_synthetic(producer, topic, stream, **kwargs)
            finally:
                producer.close(timeout=10)
        else:
            stats = asyncio.run(_produce_async(settings, topic, stream, kwargs))
    console.print(
        f"sent {stats.sent:,} events ({stats.drifted:,} drifted, {stats.bytes / 1e6:.1f} MB)"
        f" to {topic} in {stats.seconds:.1f} s ({stats.rate:,.0f} ev/s);"
        f" next --start-index {stream.position}"
    )
    if flag.signum == signal.SIGINT:
        console.print("interrupted: flushed and stopped")
        return 130
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``produce-synthetic`` command."""
    p = sub.add_parser(
        "produce-synthetic",
        help="send synthetic inference events (with a scripted drift) to Kafka",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings/env)")
    p.add_argument("--topic", help="target topic (default: settings topic_inference_events)")
    p.add_argument("--partitions", type=int, help="partitions if the topic must be created")
    p.add_argument("--rate", type=float, default=200.0, help="events/s; 0 = max (200)")
    p.add_argument("--count", type=int, default=10_000, help="events to send; 0 = endless")
    p.add_argument("--seed", type=int, default=0, help="generator seed (0)")
    p.add_argument("--start-index", type=int, default=0, help="first event index (0)")
    p.add_argument("--id-prefix", help="event id prefix (default syn<seed>)")
    p.add_argument("--regions", help="region shares, e.g. eu-west=0.5,us-east=0.5")
    p.add_argument("--drift-at", type=int, help="index of the first drifted event")
    p.add_argument("--drift-after", type=float, help="seconds (at --rate) before the drift")
    p.add_argument("--drift-regions", default="", help="comma-separated drifting regions")
    p.add_argument("--drift-shift", type=float, default=1.0, help="shift size, 0-3 (1)")
    p.add_argument(
        "--drift-temperature", type=float, default=2.0, help="confidence loss factor (2)"
    )
    p.add_argument(
        "--timestamps",
        choices=("live", "synthetic"),
        default="live",
        help="stamp send time (live) or generated time at --rate (synthetic)",
    )
    p.add_argument(
        "--client",
        choices=("aiokafka", "kafka-python"),
        default="aiokafka",
        help="producer library: aiokafka batches (fast, default) or kafka-python",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true", help="no output")
    p.set_defaults(func=_run)
