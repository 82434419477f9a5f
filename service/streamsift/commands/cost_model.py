"""``streamsift cost-model``: labels and money per month, random sampling against streamsift."""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from streamsift.commands._progress import spinner
from streamsift.core.models import BASE_MODELS, DEFAULT_BASE_MODEL
from streamsift.core.sampler import DEFAULT_STRATEGY
from streamsift.core.uncertainty import STRATEGIES
from streamsift.sim.cost import budget_range, estimate
from streamsift.sim.savings import RANDOM_BUDGETS
from streamsift.sim.simulate import SimConfig, prepare, random_baseline, run_strategy
from streamsift.sim.streams import load_stream

__all__ = ["register"]

#: Budgets at which the strategy is simulated.
STRATEGY_BUDGETS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10, 0.20)


def _money(v: float | None) -> str:
    return "not reached" if v is None else f"{v:,.0f}"


def _share(v: float | None) -> str:
    return "not reached" if v is None else f"{v:.2%}"


def _run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    seeds = list(range(args.seeds))
    base = SimConfig(strategy=args.strategy, base_model=args.base_model, random_seeds=3)
    random_curves: list[dict[float, float]] = []
    ours_curves: list[dict[float, float]] = []
    with spinner(console, quiet=args.quiet) as progress:
        task = progress.add_task("cost model", total=None)
        for seed in seeds:
            cfg = replace(base, seed=seed)
            stream = load_stream(
                args.stream, n=args.events, seed=seed, target=args.target, region=args.region
            )
            prepared = prepare(stream, cfg)
            progress.update(task, description=f"seed {seed}: random sampling")
            baseline = random_baseline(prepared, cfg)
            for s in range(cfg.random_seeds):
                random_curves.append({b: rs[s].accuracy for b, rs in baseline.runs.items()})
            curve: dict[float, float] = {}
            for b in STRATEGY_BUDGETS:
                progress.update(task, description=f"seed {seed}: {args.strategy} at {b:.0%}")
                r, _ = run_strategy(prepared, replace(cfg, budget=b))
                curve[r.labelled_fraction] = r.accuracy
            ours_curves.append(curve)
    random_mean = {
        b: statistics.fmean(c[b] for c in random_curves)
        for b in sorted(set(RANDOM_BUDGETS) & set(random_curves[0]))
    }
    ours_mean = {
        statistics.fmean(sorted(c)[k] for c in ours_curves): statistics.fmean(
            c[sorted(c)[k]] for c in ours_curves
        )
        for k in range(len(STRATEGY_BUDGETS))
    }
    est = estimate(
        args.target_accuracy,
        random_mean,
        ours_mean,
        events_per_month=args.events_per_month,
        cost_per_label=args.cost_per_label,
    )
    r_low, r_high = budget_range(args.target_accuracy, random_curves)
    o_low, o_high = budget_range(args.target_accuracy, ours_curves)
    vol, cost = args.events_per_month, args.cost_per_label
    table = Table(
        title=f"{args.stream}: target accuracy {args.target_accuracy:.2%}, "
        f"{vol:,.0f} events/month at {cost:g} per label"
    )
    for col in ("", "share labelled", "labels/month", "money/month", "range over seeds"):
        table.add_column(col, justify="left" if not col else "right")

    def rng(low: float | None, high: float | None) -> str:
        lo = "-" if low is None else f"{low * vol * cost:,.0f}"
        hi = "not reached" if high is None else f"{high * vol * cost:,.0f}"
        return f"{lo} .. {hi}"

    table.add_row(
        "random sampling",
        _share(est.random_budget),
        _money(est.random_labels),
        _money(est.random_cost),
        rng(r_low, r_high),
    )
    table.add_row(
        f"streamsift ({args.strategy})",
        _share(est.streamsift_budget),
        _money(est.streamsift_labels),
        _money(est.streamsift_cost),
        rng(o_low, o_high),
    )
    Console().print(table)
    if est.saved_cost is not None and est.random_budget and est.streamsift_budget:
        Console().print(
            f"saved per month: {est.saved_cost:,.0f} "
            f"({est.random_budget / est.streamsift_budget:.2f}x fewer labels)"
        )
    else:
        Console().print("one of the two never reaches the target accuracy on this stream")
    out: dict[str, Any] = {
        "stream": args.stream,
        "strategy": args.strategy,
        "base_model": args.base_model,
        "target_accuracy": args.target_accuracy,
        "events_per_month": vol,
        "cost_per_label": cost,
        "seeds": seeds,
        "random_curve": {f"{b:g}": a for b, a in random_mean.items()},
        "streamsift_curve": {f"{b:.4f}": a for b, a in ours_mean.items()},
        "random_budget": est.random_budget,
        "streamsift_budget": est.streamsift_budget,
        "random_cost": est.random_cost,
        "streamsift_cost": est.streamsift_cost,
        "saved_cost": est.saved_cost,
        "random_budget_range": [r_low, r_high],
        "streamsift_budget_range": [o_low, o_high],
    }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        _plot(Path(args.plot), random_mean, ours_mean, vol, cost, args)
    return 0


def _plot(
    path: Path,
    random_mean: dict[float, float],
    ours_mean: dict[float, float],
    vol: float,
    cost: float,
    args: argparse.Namespace,
) -> None:
    from streamsift.sim.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for name, curve, style in (
        ("random sampling", random_mean, "ko--"),
        (f"streamsift ({args.strategy})", ours_mean, "o-"),
    ):
        xs = sorted(curve)
        ax.plot([b * vol * cost for b in xs], [curve[b] for b in xs], style, label=name)
    ax.axhline(args.target_accuracy, color="grey", linestyle=":", label="target accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("labelling spend per month")
    ax.set_ylabel("prequential accuracy")
    ax.set_title(f"{args.stream}: accuracy against spend")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``cost-model`` command."""
    p = sub.add_parser(
        "cost-model",
        help="labels and money per month to reach a target accuracy, random vs streamsift",
        description="Simulate random sampling and streamsift on a labelled sample (CSV) or a "
        "built-in stream, then estimate labels and money per month at your event volume and "
        "cost per label to reach a target accuracy, with the spread over seeds.",
    )
    p.add_argument("--stream", required=True, help="river:NAME | synth:NAME | csv:PATH")
    p.add_argument("--target", help="label column (csv streams)")
    p.add_argument("--region", help="region column (csv streams)")
    p.add_argument("--events", type=int, default=20_000, help="events simulated per seed")
    p.add_argument("--events-per-month", type=float, required=True)
    p.add_argument("--cost-per-label", type=float, required=True)
    p.add_argument("--target-accuracy", type=float, required=True)
    p.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=sorted(STRATEGIES))
    p.add_argument("--base-model", default=DEFAULT_BASE_MODEL, choices=sorted(BASE_MODELS))
    p.add_argument("--seeds", type=int, default=2, help="seeds (default 2)")
    p.add_argument("--json", help="write the estimate as JSON here")
    p.add_argument("--plot", help="write accuracy against spend as PNG here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_run)
