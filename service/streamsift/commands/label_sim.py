"""``streamsift label-sim``: a simulated labelling team on Kafka.

Consumes label requests (consumer group ``--group``), answers each with the true
class of its features through ``--annotators`` annotators who each label
``--labels-per-hour`` items, after a lognormal turnaround (median
``--delay-median`` seconds), with per-annotator noise (``--noise``: one value or
one per annotator), and publishes the labels (key event_id). A request that
needs several annotators gets distinct ones. ``--time-scale`` speeds the team
up for demos. Ctrl-C (or SIGTERM) stops cleanly: labels already given are
flushed, unfinished work is abandoned and counted. ``--ready-file`` is written
once the consumer group assigned partitions (wait for it before sending traffic);
``--flags-from`` polls the workers' ``/metrics`` and gives annotators they flag no
new work (benched, shown in the summary).

Example::

    streamsift label-sim --annotators 5 --labels-per-hour 120 \\
        --noise 0,0,0,0.3,0.3 --delay-median 2 --seed 1
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from streamsift.config import load_settings
from streamsift.errors import ConfigurationError
from streamsift.tools.kafka_io import StopFlag, stop_on_signals
from streamsift.tools.label_loop import FlagPoller, LabelSimStats, run_label_sim
from streamsift.tools.labelsim import LabellingTeam

__all__ = ["parse_floats", "register"]


def parse_floats(text: str, name: str) -> float | tuple[float, ...]:
    """``"0.3"`` to a float, ``"0,0,0.3"`` to a tuple (one value per annotator)."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigurationError(f"{name}: expected numbers, got {text!r}") from None
    if not values:
        raise ConfigurationError(f"{name}: no value given")
    return values[0] if len(values) == 1 else values


def _summary(console: Console, stats: LabelSimStats, team: LabellingTeam) -> None:
    table = Table(title="label-sim: labels per annotator")
    for col in ("annotator", "labels given", "wrong", "wrong %"):
        table.add_column(col, justify="right")
    table.add_column("benched")
    flipped = team.flipped
    for aid, given in team.given.items():
        pct = f"{100 * flipped[aid] / given:.1f}" if given else "-"
        table.add_row(aid, str(given), str(flipped[aid]), pct, "yes" if aid in team.benched else "")
    console.print(table)
    if team.benched:
        console.print(
            f"benched (flagged by the worker): {', '.join(sorted(team.benched))};"
            f" labels they still gave to fill a request: {stats.benched_fill}"
        )
    console.print(
        f"requests {stats.requests} (invalid {stats.invalid}, duplicate {stats.duplicates}),"
        f" accepted {stats.accepted}, dropped {stats.dropped},"
        f" unlabellable {stats.unlabellable}; labels sent {stats.labels};"
        f" abandoned at exit {stats.outstanding_at_exit}"
    )


def _run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.bootstrap:
        overrides["kafka_bootstrap_servers"] = args.bootstrap
    settings = load_settings(**overrides)
    lph = (
        parse_floats(args.labels_per_hour, "--labels-per-hour")
        if args.labels_per_hour
        else settings.capacity_per_hour / args.annotators
    )
    team = LabellingTeam(
        annotators=args.annotators,
        labels_per_hour=lph,
        noise=parse_floats(args.noise, "--noise"),
        delay_median=args.delay_median,
        delay_sigma=args.delay_sigma,
        time_scale=args.time_scale,
        max_backlog=args.max_backlog,
        seed=args.seed,
        id_prefix=args.annotator_prefix,
    )
    console = Console(stderr=True, quiet=args.quiet)
    requests_topic = args.requests_topic or settings.topic_label_requests
    labels_topic = args.labels_topic or settings.topic_labels
    console.print(
        f"label-sim: {args.annotators} annotators, {team.capacity_per_hour:,.0f} labels/h"
        f" in all (x{args.time_scale:g} time), {requests_topic} → {labels_topic}"
    )
    ready_file = Path(args.ready_file) if args.ready_file else None
    if ready_file is not None:
        ready_file.unlink(missing_ok=True)

    def ready(partitions: int) -> None:
        console.print(f"label-sim: ready ({partitions} partitions of {requests_topic} assigned)")
        if ready_file is not None:
            tmp = ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"partitions": partitions}) + "\n")
            tmp.replace(ready_file)  # atomic: a reader never sees half a file

    poller = None
    if args.flags_from:
        urls = [u.strip() for u in args.flags_from.split(",") if u.strip()]
        poller = FlagPoller(urls, every=args.flags_every).start()
    flag = StopFlag()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]label-sim[/] {task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        disable=args.no_progress or args.quiet,
        refresh_per_second=4,
    )
    with stop_on_signals(flag), progress:
        task = progress.add_task("", total=None, status="waiting for requests")

        def report(s: LabelSimStats) -> None:
            progress.update(
                task,
                status=f"requests {s.requests:,}  labels {s.labels:,}  wrong {s.flipped:,}"
                f"  backlog {s.backlog:,}  waiting {s.waiting:,}  dropped {s.dropped:,}",
            )

        stats = run_label_sim(
            settings,
            team,
            requests_topic,
            labels_topic,
            args.group or f"{settings.app_id}-label-sim",
            flag,
            team_name=args.team,
            on_full=args.on_full,
            max_labels=args.max_labels,
            idle_exit=args.idle_exit,
            offset_reset=args.offset_reset,
            on_progress=report,
            on_ready=ready,
            flags=None if poller is None else poller.current,
        )
    if poller is not None:
        poller.stop()
    _summary(console, stats, team)
    if args.summary_json:
        doc = {
            **stats.as_dict(),
            "given": team.given,
            "wrong": team.flipped,
            "given_while_benched": team.given_while_benched,
        }
        Path(args.summary_json).write_text(json.dumps(doc, indent=2) + "\n")
    if flag.signum == signal.SIGINT:
        console.print("interrupted: flushed and stopped")
        return 130
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``label-sim`` command."""
    p = sub.add_parser(
        "label-sim",
        help="simulated labelling team: answer label requests with (noisy) labels",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings/env)")
    p.add_argument("--requests-topic", help="default: settings topic_label_requests")
    p.add_argument("--labels-topic", help="default: settings topic_labels")
    p.add_argument("--group", help="consumer group (default <app_id>-label-sim)")
    p.add_argument("--annotators", type=int, default=5, help="number of annotators (5)")
    p.add_argument(
        "--labels-per-hour",
        help="per annotator, one value or one each (default capacity_per_hour/annotators)",
    )
    p.add_argument("--noise", default="0", help="wrong-label rate, one value or one each (0)")
    p.add_argument("--delay-median", type=float, default=2.0, help="turnaround median, s (2)")
    p.add_argument("--delay-sigma", type=float, default=0.5, help="turnaround log-sd (0.5)")
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated s per real s (1)")
    p.add_argument("--max-backlog", type=int, default=1000, help="unfinished labels (1000)")
    p.add_argument(
        "--on-full",
        choices=("wait", "drop"),
        default="wait",
        help="when the backlog is full: pause consuming (wait) or refuse the request",
    )
    p.add_argument("--seed", type=int, default=0, help="team seed (0)")
    p.add_argument("--team", default="simulated", help="team name in the labels")
    p.add_argument("--annotator-prefix", default="annotator-", help="annotator id prefix")
    p.add_argument("--max-labels", type=int, help="stop after sending this many labels")
    p.add_argument("--idle-exit", type=float, help="stop after this many idle seconds")
    p.add_argument(
        "--offset-reset",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a new group starts (earliest)",
    )
    p.add_argument("--summary-json", help="write the final counters to this file")
    p.add_argument(
        "--ready-file",
        help="written (atomically) once the consumer group assigned request partitions",
    )
    p.add_argument(
        "--flags-from",
        help="worker /metrics url(s), comma-separated: annotators they flag get no new work",
    )
    p.add_argument("--flags-every", type=float, default=2.0, help="seconds between flag polls (2)")
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    p.add_argument("--quiet", action="store_true", help="no output")
    p.set_defaults(func=_run)
