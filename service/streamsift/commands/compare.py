"""``streamsift compare``: every strategy, random sampling and the peers, side by side."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import TaskID

from streamsift.commands._progress import spinner
from streamsift.commands.args import seed_list
from streamsift.core.models import BASE_MODELS, DEFAULT_BASE_MODEL
from streamsift.core.uncertainty import STRATEGIES
from streamsift.sim.compare import DEFAULT_BUDGETS, compare, default_peers, markdown, plot_all
from streamsift.sim.peers_summary import is_peer, summarise
from streamsift.sim.peers_summary import markdown as summary_markdown

__all__ = ["register"]

#: ``--quick``: a small run for tests and smoke checks.
QUICK = {"events": 1_500, "budgets": (0.1,), "random_seeds": 1, "committee_size": 3}


def _floats(value: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {value}") from exc
    if not out or not all(0.0 < v <= 1.0 for v in out):
        raise argparse.ArgumentTypeError(f"budgets must be in (0, 1]: {value}")
    return out


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    streams = args.stream or ["synth:sea"]
    events = args.events
    budgets = args.budgets
    random_seeds = args.random_seeds
    committee = args.committee_size
    if args.quick:
        events = events if events is not None else int(QUICK["events"])  # type: ignore[call-overload]
        budgets = budgets or QUICK["budgets"]
        random_seeds = random_seeds or int(QUICK["random_seeds"])  # type: ignore[call-overload]
        committee = committee or int(QUICK["committee_size"])  # type: ignore[call-overload]
    strategies = args.strategies
    if strategies is not None:
        unknown = [s for s in strategies if s not in STRATEGIES]
        if unknown:
            raise SystemExit(f"compare: unknown strategies {unknown}; known: {sorted(STRATEGIES)}")
    peers = default_peers() if args.peers is None else [p for p in args.peers if p != "none"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = args.seeds if args.seeds is not None else [args.seed]
    per_seed: dict[int, list[dict[str, object]]] = {}
    for seed in seeds:
        where = out if args.seeds is None else out / f"seed-{seed}"
        where.mkdir(parents=True, exist_ok=True)
        with spinner(console, quiet=args.quiet) as progress:
            task = progress.add_task("compare", total=None)
            prefix = "" if args.seeds is None else f"seed {seed}: "

            def say(msg: str, prefix: str = prefix, task: TaskID = task) -> None:
                progress.update(task, description=prefix + msg)

            result = compare(
                streams,
                budgets=budgets or DEFAULT_BUDGETS,
                strategies=strategies,
                peers=peers,
                events=events if events is not None else 20_000,
                seed=seed,
                base_model=args.base_model,
                committee_size=committee or 5,
                random_seeds=random_seeds or 3,
                progress=say,
            )
        text = markdown(result)
        (where / "compare.md").write_text(text, encoding="utf-8")
        (where / "compare.json").write_text(
            json.dumps({"rows": result.rows, "notes": result.notes}, indent=2) + "\n",
            encoding="utf-8",
        )
        pngs = plot_all(result, where)
        for note in result.notes:
            console.print(f"[yellow]note:[/] {note}")
        if args.seeds is None:
            Console().print(text)
        console.print(
            f"wrote {where / 'compare.md'}, {where / 'compare.json'} and {len(pngs)} PNGs"
        )
        per_seed[seed] = list(result.rows)
    if args.seeds is not None:
        text = _summary(per_seed, seeds, budgets or DEFAULT_BUDGETS)
        (out / "summary.md").write_text(text, encoding="utf-8")
        Console().print(text)
        console.print(f"wrote {out / 'summary.md'}")
    return 0


def _summary(
    per_seed: dict[int, list[dict[str, object]]], seeds: list[int], budgets: Sequence[float]
) -> str:
    """Every streamsift strategy against the peers, averaged over the seeds, per budget."""
    rows = [r for rs in per_seed.values() for r in rs]
    strategies = [
        p for p in dict.fromkeys(str(r["policy"]) for r in rows) if p != "random" and not is_peer(p)
    ]
    parts = [f"Seeds {', '.join(str(s) for s in seeds)}.\n"]
    for budget in budgets:
        for strategy in strategies:
            table = summary_markdown(summarise(per_seed, policy=strategy, budget=budget), strategy)
            parts.append(f"### {strategy} at {budget:.0%}\n\n{table}\n")
    return "\n".join(parts)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``compare`` command."""
    p = sub.add_parser(
        "compare",
        help="every strategy, random sampling and the peers on the same streams and budgets",
        description="Run every streamsift strategy, random sampling, river's EntropySampler "
        "(discount factor calibrated to the budget) and scikit-activeml's stream strategies "
        "(when installed) with the same base model and prequential protocol; write a "
        "markdown table, JSON and learning-curve PNGs.",
    )
    p.add_argument("--stream", action="append", help="stream spec (repeatable; default synth:sea)")
    p.add_argument(
        "--budgets", type=_floats, help="comma-separated budgets (default 0.01,0.05,0.1,0.2)"
    )
    p.add_argument("--strategies", type=_names, help="comma-separated strategies (default all)")
    p.add_argument(
        "--peers",
        type=_names,
        help="comma-separated peers: river-entropy, skactiveml-<Strategy>, or none "
        "(default: river-entropy and every scikit-activeml strategy when installed)",
    )
    p.add_argument("--events", type=int, help="events per stream (default 20,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--seeds",
        type=seed_list,
        help="run each seed (e.g. 0-8) into OUT/seed-K and write OUT/summary.md: every"
        " strategy against the best peer at equal labels, on the mean over the seeds",
    )
    p.add_argument("--base-model", default=DEFAULT_BASE_MODEL, choices=sorted(BASE_MODELS))
    p.add_argument("--committee-size", type=int, help="committee members (default 5)")
    p.add_argument("--random-seeds", type=int, help="seeds of random sampling (default 3)")
    p.add_argument("--out", default="reports/compare", help="output folder")
    p.add_argument(
        "--quick",
        action="store_true",
        help="small run: 1,500 events, budget 10%%, 1 random seed, committee of 3",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=_run)
