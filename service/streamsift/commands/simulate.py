"""``streamsift simulate``: replay a labelled stream through the Sampler, prequentially."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streamsift.commands.args import seed_list
from streamsift.core.models import BASE_MODELS, DEFAULT_BASE_MODEL
from streamsift.core.sampler import DEFAULT_STRATEGY
from streamsift.core.uncertainty import STRATEGIES
from streamsift.sim.efficiency import REFERENCE_STREAMS, markdown_table, run_table, summarise
from streamsift.sim.simulate import SimConfig, simulate
from streamsift.sim.streams import DEFAULT_EVENTS, load_stream

__all__ = ["register"]


def _fraction(value: str) -> float:
    f = float(value)
    if not 0.0 < f <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return f


def _run(args: argparse.Namespace) -> int:
    streams = args.stream or []
    if args.reference:
        streams = [*streams, *(s for s in REFERENCE_STREAMS if s not in streams)]
    if not streams:
        raise SystemExit("simulate: give --stream SPEC (repeatable) or --reference")
    seeds = args.seeds if args.seeds is not None else [args.seed]
    if args.annotators is not None:
        return _run_crowd(args, streams, seeds)
    if len(streams) == 1 and len(seeds) == 1:
        args.stream = streams[0]
        args.seed = seeds[0]
        return _run_single(args)
    return _run_table(args, streams, seeds)


def _noise_list(value: str) -> tuple[float, ...]:
    try:
        noise = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated rates, got {value}") from exc
    if not noise or any(not 0.0 <= v < 1.0 for v in noise):
        raise argparse.ArgumentTypeError(f"each rate must be in [0, 1), got {value}")
    return noise


def _run_crowd(args: argparse.Namespace, streams: list[str], seeds: list[int]) -> int:
    """Clean labels, noisy annotators without QC, and with QC, at equal label spend."""
    from streamsift.sim.crowd import CrowdConfig, run_crowd

    rows: list[dict[str, object]] = []
    for spec in streams:
        for seed in seeds:
            stream = load_stream(spec, n=args.events, seed=seed, target=args.target)
            events = stream.events
            if stream.drift_at and not args.through_drift:
                events = events[: stream.drift_at]
            cut = int(len(events) * 0.85)  # through a mid-stream drift: tested after it
            classes = sorted(stream.classes, key=repr)
            config = CrowdConfig(
                noise=args.annotators,
                budget=args.budget,
                strategy=args.strategy,
                base_model=args.base_model,
                noise_kind=args.noise_kind,
                gold_warmup=args.gold_warmup,
                extra_within_budget=args.extra_within_budget,
                seed=seed,
            )
            for mode in ("clean", "noisy", "qc"):
                r = run_crowd(events[:cut], events[cut:], classes, config, mode)
                rows.append(
                    {
                        "stream": spec,
                        "seed": seed,
                        "mode": mode,
                        "test_accuracy": r.test_accuracy,
                        "prequential_accuracy": r.prequential_accuracy,
                        "label_accuracy": r.label_accuracy,
                        "labels_used": r.labels_used,
                        "items_trained": r.items_trained,
                        "flagged": sorted(r.flagged),
                        "extra_labels": r.extra_labels,
                    }
                )
    table = Table(title=f"quality control, annotators' noise {list(args.annotators)}")
    for col in ("stream", "seed", "mode", "final accuracy", "label accuracy", "labels", "flagged"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            str(row["stream"]),
            str(row["seed"]),
            str(row["mode"]),
            f"{row['test_accuracy']:.4f}",
            f"{row['label_accuracy']:.4f}",
            str(row["labels_used"]),
            ",".join(row["flagged"]),  # type: ignore[arg-type]
        )
    Console().print(table)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


def _config(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        budget=args.budget,
        strategy=args.strategy,
        base_model=args.base_model,
        production_model=None if args.production_model == "none" else args.production_model,
        seed=args.seed,
        label_delay=args.label_delay,
        annotator_noise=args.annotator_noise,
        random_seeds=args.random_seeds,
        committee_size=args.committee_size,
    )


def _run_table(args: argparse.Namespace, streams: list[str], seeds: list[int]) -> int:
    console = Console(stderr=True)
    config = _config(args)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} simulations"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=args.quiet,
    ) as progress:
        task = progress.add_task(
            f"{config.strategy} at {config.budget:.0%}", total=len(streams) * len(seeds)
        )

        def done(row: dict[str, object]) -> None:
            progress.advance(task)
            console.log(
                f"{row['stream']} seed {row['seed']}: savings {row['savings_vs_random']:.2f}x "
                f"(accuracy {row['accuracy']:.4f}, random {row['random_accuracy']:.4f}, "
                f"labelled {row['labelled_fraction']:.2%})"
            )

        rows = run_table(streams, seeds, config, events=args.events, jobs=args.jobs, done=done)
    summary = summarise(rows)
    table_md = markdown_table(summary, config.budget)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        payload = {"runs": rows, "summary": summary}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.table:
        Path(args.table).parent.mkdir(parents=True, exist_ok=True)
        Path(args.table).write_text(table_md, encoding="utf-8")
    table = Table(title=f"{config.strategy} at {config.budget:.0%}, seeds {seeds}")
    for col in ("stream", "accuracy", "random", "full", "labelled", "savings", "per seed"):
        table.add_column(col, justify="left" if col == "stream" else "right")
    for name, st in summary["streams"].items():
        table.add_row(
            name,
            f"{st['accuracy']:.4f}",
            f"{st['random_accuracy']:.4f}",
            f"{st['full_accuracy']:.4f}",
            f"{st['labelled_fraction']:.2%}",
            f"{st['savings_geomean']:.2f}x",
            ", ".join(f"{v:.2f}" for v in st["savings"]),
        )
    Console().print(table)
    Console().print(f"geomean {summary['geomean']:.2f}x, worst {summary['worst']:.2f}x")
    return 0


def _run_single(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    stream = load_stream(
        args.stream, n=args.events, seed=args.seed, target=args.target, region=args.region
    )
    config = _config(args)
    n = len(stream.events)
    runs = (len(config.random_budgets) + 1) * config.random_seeds + 2
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} events"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=args.quiet,
    ) as progress:
        task = progress.add_task(f"simulating {stream.name}", total=n * runs)
        done: dict[str, int] = {}

        def tick(name: str, k: int) -> None:
            done[name] = k
            progress.update(task, completed=sum(done.values()))

        report = simulate(stream, config, progress=tick)
    out = report.to_json()
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        from streamsift.sim.plots import plot_report

        plot_report(report, Path(args.plot))
    table = Table(title=f"{stream.name}: {config.strategy} at {config.budget:.0%}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
        "events",
        "labels_used",
        "accuracy",
        "random_accuracy",
        "full_accuracy",
        "majority_accuracy",
        "savings_vs_random",
        "recovery_events",
        "random_recovery_events",
        "events_per_second",
    ):
        if key in out:
            v = out[key]
            table.add_row(key, f"{v:.4f}" if isinstance(v, float) else str(v))
    table.add_row("drift_detections", str(len(out["drift_detections"])))
    Console().print(table)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``simulate`` command."""
    p = sub.add_parser(
        "simulate",
        help="replay a labelled stream through the Sampler (prequential)",
        description="Replay river:NAME, synth:NAME or csv:PATH through the same Sampler the "
        "service runs, and compare with random sampling at equal budget.",
    )
    p.add_argument(
        "--stream",
        action="append",
        help="river:NAME | synth:NAME | csv:PATH (repeat it for a table over streams)",
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="add the six reference streams of the label-efficiency benchmark",
    )
    p.add_argument("--target", help="label column (csv streams)")
    p.add_argument("--region", help="region column (csv streams)")
    p.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events (synthetic: exact)")
    p.add_argument("--budget", type=_fraction, required=True, help="share of events to label")
    p.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=sorted(STRATEGIES))
    p.add_argument("--base-model", default=DEFAULT_BASE_MODEL, choices=sorted(BASE_MODELS))
    p.add_argument(
        "--production-model",
        default=DEFAULT_BASE_MODEL,
        choices=[*sorted(BASE_MODELS), "none"],
        help="model trained on the first 2%% of events and frozen, giving events their "
        "production probabilities ('none': events carry none)",
    )
    p.add_argument("--committee-size", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--seeds", type=seed_list, help="seeds, e.g. 0,1,2 or 0-4 (a table over streams x seeds)"
    )
    p.add_argument("--jobs", type=int, default=1, help="processes for a table (default 1)")
    p.add_argument("--table", help="write the markdown table here (several runs)")
    p.add_argument("--label-delay", type=int, default=0, help="events until a label arrives")
    p.add_argument("--annotator-noise", type=float, default=0.0, help="share of wrong labels")
    p.add_argument(
        "--annotators",
        type=_noise_list,
        help="per-annotator noise, e.g. 0,0,0,0.3,0.3: compare clean labels, these "
        "annotators without quality control, and with it (gold, redundancy, "
        "Dawid-Skene, second opinions) at equal label spend",
    )
    p.add_argument(
        "--noise-kind",
        choices=("uniform", "confusion"),
        default="uniform",
        help="with --annotators: wrong answers uniform over the other classes, or all "
        "to the first class (class confusion, same overall rate) (uniform)",
    )
    p.add_argument(
        "--gold-warmup",
        type=int,
        default=0,
        help="with --annotators: the first N requests carry gold with probability 0.5 (0)",
    )
    p.add_argument(
        "--through-drift",
        action="store_true",
        help="with --annotators: keep a drifting stream's events after its drift (by "
        "default they are cut off); the test set, the last 15 %%, is then after it",
    )
    p.add_argument(
        "--extra-within-budget",
        action="store_true",
        help="with --annotators: ask an extra opinion only while the labels spent are "
        "within the budget pro rata, as the service's token bucket grants it (else the "
        "item is held out)",
    )
    p.add_argument("--random-seeds", type=int, default=3, help="seeds per random budget")
    p.add_argument("--json", help="write the results as JSON here")
    p.add_argument("--plot", help="write learning curves as PNG here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
