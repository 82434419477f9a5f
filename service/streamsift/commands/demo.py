"""``streamsift demo``: run the whole loop end to end and write a report.

Starts a local Kafka broker (``deploy/kafka/start.sh`` on a free port, or
``--kafka-port``) unless ``--bootstrap`` / ``KAFKA_BOOTSTRAP_SERVERS`` names a
cluster; then ``streamsift worker``, a local Prometheus (when installed), the
simulated labelling team (``label-sim``) and the synthetic producer, with a drift
in one region part-way through. Shows a live view for ``--minutes``, stops
everything it started (also on Ctrl-C) and writes ``<out>/demo-<timestamp>/``
with ``report.md``, PNG plots, ``figures.json``, ``timeseries.json`` and ``logs/``.

Example::

    streamsift demo --minutes 3 --out reports/ --cost-per-label 0.5
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

__all__ = ["register"]


def _positive(value: str) -> float:
    f = float(value)
    if not f > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return f


def _summary(console: Console, report: Path) -> None:
    import json

    doc = json.loads((report.parent / "figures.json").read_text(encoding="utf-8"))
    live, off, run = doc["live"], doc["offline"], doc["run"]
    acc = live.get("online_accuracy")
    lines = [
        f"events {live['events']:,} ({live['events_per_s']:,.0f}/s)"
        f" · labels asked {live['labels_asked']:,}"
        f" ({live['labels_rate']:.1f}/s, capacity {live['capacity_per_s']:.1f}/s)"
        f" · labels joined {live['joined_total']:,}"
        f" · model v{live['model_version_first']} → v{live['model_version_last']}",
        "drift alarms " + (", ".join(f"{k} {v}" for k, v in live["drift_alarms"].items() if v)
                           or "none")
        + (f" · detected {live['detection_delay_s']:.0f} s after the drift"
           if live.get("detection_delay_s") is not None else ""),
        "online model on control labels "
        + (f"{acc['value']:.1%} [{acc['low']:.1%}, {acc['high']:.1%}]" if acc else "n/a")
        + " · flagged annotators: " + (", ".join(live["flagged"]) or "none"),
    ]  # fmt: skip
    if off:
        lines.append(
            f"offline, same generator: savings {off['savings']:.2f}x against random sampling"
            f" ({off['fraction']:.2%} of events labelled, accuracy {off['accuracy']:.1%})"
        )
    for err in run.get("errors", []):
        lines.append(f"[red]problem[/]: {err}")
    for line in lines:
        console.print(line, highlight=False)
    console.print(f"report: [bold]{report}[/]", highlight=False)


def _run(args: argparse.Namespace) -> int:
    from streamsift.demo.config import DemoConfig
    from streamsift.demo.guard import SignalGuard
    from streamsift.demo.runner import Demo

    console = Console()
    bootstrap = (
        args.bootstrap
        or os.environ.get("STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS", "").strip()
        or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        or None
    )
    port = args.kafka_port or int(os.environ.get("DEMO_KAFKA_PORT", "0") or 0) or None
    cfg = DemoConfig(
        minutes=args.minutes,
        out=Path(args.out),
        cost_per_label=args.cost_per_label,
        rate=args.rate,
        seed=args.seed,
        drift_region=args.drift_region,
        kafka_port=port,
        bootstrap=bootstrap,
        prometheus=not args.no_prometheus,
        live=not args.no_live,
        sim_events=args.sim_events,
        sim_seeds=args.sim_seeds,
        keep_topics=args.keep_topics,
    )
    with SignalGuard() as guard:
        demo = Demo(cfg, console, guard)
        report = demo.run()
        _summary(console, report)
    if demo.info.interrupted:
        return 130
    return 1 if demo.info.errors else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``demo`` command."""
    p = sub.add_parser(
        "demo",
        help="run the whole loop (Kafka, worker, producer, label-sim) and write a report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--minutes", type=_positive, default=3.0, help="traffic duration (3)")
    p.add_argument("--out", default="reports", help="report folder parent (reports)")
    p.add_argument("--cost-per-label", type=float, default=0.5, help="money per label (0.5)")
    p.add_argument("--rate", type=_positive, default=250.0, help="events per second (250)")
    p.add_argument("--seed", type=int, default=1, help="seed of generator and team (1)")
    p.add_argument("--drift-region", default="ap-south", help="region that drifts (ap-south)")
    p.add_argument("--bootstrap", help="use this Kafka cluster (default: KAFKA_BOOTSTRAP_SERVERS)")
    p.add_argument(
        "--kafka-port", type=int, help="port of the local broker (DEMO_KAFKA_PORT; default free)"
    )
    p.add_argument("--no-prometheus", action="store_true", help="do not start Prometheus")
    p.add_argument("--no-live", action="store_true", help="print lines instead of a live view")
    p.add_argument(
        "--sim-events",
        type=int,
        help="events of the offline savings run (0: skip; default 20,000 per 3 minutes)",
    )
    p.add_argument("--sim-seeds", type=int, default=3, help="seeds of the offline run (3)")
    p.add_argument(
        "--keep-topics", action="store_true", help="keep the run's topics on an existing cluster"
    )
    p.set_defaults(func=_run)
