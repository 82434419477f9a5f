"""``streamsift bench``: the throughput, latency and memory benchmark through Kafka.

Pre-loads ``--events`` synthetic events into a fresh topic, measures a raw
aiokafka consumer (read + ``json.loads``) and then a real ``streamsift worker``
subprocess on the same events (unique topic names and consumer group, progress
from its ``/metrics``), the latency from event timestamp to label request at half
the measured rate, and the worker's resident memory after 10 % and 100 % of the
events. ``--json PATH`` writes ``raw_consumer_rate``, ``pipeline_rate``,
``p50_latency_seconds``, ``p99_latency_seconds``, ``rss_bytes_10pct``,
``rss_bytes_100pct`` and the details. ``--core`` adds the in-process core
benchmark. Missed targets are reported, not failed.

Example::

    streamsift bench --events 500000 --json bench.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from streamsift.bench.broker_bench import BrokerBenchConfig, run_broker_bench
    from streamsift.bench.report import machine_info, render_broker
    from streamsift.config import load_settings

    console = Console(stderr=True)
    overrides: dict[str, object] = {}
    if args.bootstrap:
        overrides["kafka_bootstrap_servers"] = args.bootstrap
    settings = load_settings(**overrides)
    cfg = BrokerBenchConfig(
        events=args.events,
        partitions=args.partitions,
        seed=args.seed,
        latency_seconds=args.latency_seconds,
        latency_load=args.latency_load,
        capacity_per_hour=args.capacity_per_hour,
        warm_labels=args.warm_labels,
        keep_topics=args.keep_topics,
        out_dir=Path(args.out_dir),
        profile=args.profile,
    )
    result: dict[str, Any] = {"machine": machine_info()}
    if args.core:
        from streamsift.bench.core_bench import render_markdown, run_core_bench

        console.print("core bench ...")
        result["core"] = run_core_bench(n_events=args.core_events, seed=args.seed)
        console.print(render_markdown(result["core"]))
    broker = run_broker_bench(settings, cfg, say=console.print)
    result.update(broker)
    console.print(render_broker(broker))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
        console.print(f"wrote {args.json}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``bench`` command."""
    p = sub.add_parser(
        "bench",
        help="benchmark: raw consumer vs worker pipeline rate, latency, memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings/env)")
    p.add_argument("--events", type=int, default=500_000, help="events pre-loaded (500000)")
    p.add_argument("--partitions", type=int, default=4, help="input partitions (4)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (0)")
    p.add_argument("--latency-seconds", type=float, default=60.0, help="latency phase (60)")
    p.add_argument(
        "--latency-load", type=float, default=0.5, help="share of the measured rate (0.5)"
    )
    p.add_argument(
        "--capacity-per-hour",
        type=float,
        default=36_000.0,
        help="worker label capacity during the run (36000: 10 requests/s to time)",
    )
    p.add_argument(
        "--warm-labels",
        type=int,
        default=2_000,
        help="labels the model the worker starts from was trained on (2000; 0: an empty model)",
    )
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the worker from 10 %% to 90 %% of the events (the profile extra)",
    )
    p.add_argument("--out-dir", default="bench-results", help="worker log folder")
    p.add_argument("--core", action="store_true", help="also run the in-process core bench")
    p.add_argument("--core-events", type=int, default=20_000, help="core bench events")
    p.add_argument("--keep-topics", action="store_true", help="do not delete the run's topics")
    p.set_defaults(func=_run)
