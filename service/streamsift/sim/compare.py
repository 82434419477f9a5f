"""Side by side: every streamsift strategy, random sampling and the peers, same protocol.

For each stream the random baseline (every budget of the savings curve plus the
compared budgets, several seeds) and the every-label run are computed once; then,
for each budget, every policy makes one prequential pass over the same evaluated
events with the same base model: each streamsift strategy (the Sampler in fraction
mode; committee strategies get a committee of ``committee_size``), River's
``EntropySampler`` (discount factor calibrated on the label count, see
:func:`~streamsift.sim.peers.calibrate_discount`) and scikit-activeml's stream
strategies (optional: skipped with a note when the package is missing). Every
policy is scored by its prequential accuracy, its labelled fraction and
``savings_vs_random`` against the same random curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from streamsift.core.uncertainty import STRATEGIES, make_strategy
from streamsift.sim.engine import Policy, RunResult, rolling, run
from streamsift.sim.peers import (
    SKACTIVEML_STRATEGIES,
    EntropySamplerPolicy,
    SkactivemlPolicy,
    calibrate_discount,
    skactiveml_available,
)
from streamsift.sim.savings import savings_vs_random
from streamsift.sim.simulate import (
    Prepared,
    RandomBaseline,
    SimConfig,
    prepare,
    random_baseline,
    run_strategy,
)
from streamsift.sim.streams import load_stream

__all__ = ["DEFAULT_BUDGETS", "CompareResult", "compare", "markdown", "plot_all"]

#: Budgets compared by default (issue 3, item 9).
DEFAULT_BUDGETS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20)

Progress = Callable[[str], None]


@dataclass
class CompareResult:
    """Rows (one per stream, budget and policy), learning curves and random curves."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[tuple[str, float], dict[str, list[float]]] = field(default_factory=dict)
    random_curves: dict[str, dict[float, float]] = field(default_factory=dict)
    full: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _needs_committee(name: str) -> bool:
    strategy = make_strategy(name)
    return "committee" in strategy.needs


def _row(
    stream: str, budget: float, policy: str, r: RunResult, baseline: RandomBaseline, note: str
) -> dict[str, Any]:
    return {
        "stream": stream,
        "budget": budget,
        "policy": policy,
        "accuracy": r.accuracy,
        "labels_used": r.labels_used,
        "labelled_fraction": r.labelled_fraction,
        "savings_vs_random": savings_vs_random(r.accuracy, r.labelled_fraction, baseline.curve)
        if r.labels_used
        else 0.0,
        "note": note,
    }


def _peer_runs(
    prepared: Prepared,
    config: SimConfig,
    budget: float,
    peers: Sequence[str],
    say: Progress,
) -> list[tuple[str, RunResult, str]]:
    out: list[tuple[str, RunResult, str]] = []
    kw: dict[str, Any] = {"classes": prepared.classes, "production": prepared.production}
    if "river-entropy" in peers:
        say(f"river-entropy @ {budget:g} (calibrating)")

        def go(d: float) -> RunResult:
            policy = EntropySamplerPolicy(d, base_model=config.base_model, seed=config.seed)
            return run(policy, prepared.events, seed=config.seed, **kw)

        d, r, n = calibrate_discount(go, budget)
        off = r.labelled_fraction / budget - 1.0
        note = f"discount {d:.3g} ({n} calibration runs)"
        if abs(off) > 0.1:
            note += f"; no factor within 10% of the budget ({off:+.0%})"
        out.append(("river-entropy", r, note))
    sk = [p for p in peers if p.startswith("skactiveml-")]
    if sk:
        names = sorted({k for ev in prepared.events[:200] for k in ev.x})
        for peer in sk:
            strategy = peer.removeprefix("skactiveml-")
            say(f"{peer} @ {budget:g}")
            policy: Policy = SkactivemlPolicy(
                strategy,
                budget,
                classes=prepared.classes,
                feature_names=names,
                base_model=config.base_model,
                seed=config.seed,
            )
            out.append((peer, run(policy, prepared.events, seed=config.seed, **kw), ""))
    return out


def default_peers() -> list[str]:
    """River's EntropySampler, plus scikit-activeml's strategies when importable."""
    peers = ["river-entropy"]
    if skactiveml_available():
        peers += [f"skactiveml-{s}" for s in SKACTIVEML_STRATEGIES]
    return peers


def compare(
    streams: Sequence[str],
    *,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    strategies: Sequence[str] | None = None,
    peers: Sequence[str] | None = None,
    events: int | None = 20_000,
    seed: int = 0,
    base_model: str | None = None,
    committee_size: int = 5,
    random_seeds: int = 3,
    progress: Progress | None = None,
) -> CompareResult:
    """Run every policy on every stream and budget; see the module docstring.

    Parameters
    ----------
    streams
        Stream specs (``river:NAME``, ``synth:NAME``, ``csv:PATH`` is not supported here).
    budgets
        Budgets (shares of events) to compare at.
    strategies
        streamsift strategy names (default: every registered strategy).
    peers
        Peer names: ``river-entropy`` and ``skactiveml-<Strategy>`` (default:
        :func:`default_peers`). scikit-activeml peers are skipped with a note when the
        package is not importable.
    events, seed
        Events per synthetic stream (at most, for bundled ones) and the seed.
    base_model
        Base model of every policy (default: the registry default).
    committee_size
        Members of the committee for committee strategies.
    random_seeds
        Seeds of random sampling per budget.
    progress
        Called with a short description before each pass.
    """
    say: Progress = progress or (lambda _msg: None)
    names = list(strategies) if strategies is not None else sorted(STRATEGIES)
    wanted = list(peers) if peers is not None else default_peers()
    result = CompareResult()
    if any(p.startswith("skactiveml-") for p in wanted) and not skactiveml_available():
        result.notes.append(
            "scikit-activeml is not importable: its peers were skipped "
            "(install the `peers` extra to include them)"
        )
        wanted = [p for p in wanted if not p.startswith("skactiveml-")]
    base = SimConfig(seed=seed, random_seeds=random_seeds)
    if base_model is not None:
        base = replace(base, base_model=base_model)
    for spec in streams:
        stream = load_stream(spec, n=events, seed=seed)
        prepared = prepare(stream, base)
        say(f"{spec}: random baseline")
        baseline = random_baseline(prepared, base, budgets)
        result.random_curves[stream.name] = dict(baseline.curve)
        result.full[stream.name] = baseline.full.accuracy
        for budget in budgets:
            curves: dict[str, list[float]] = {}
            for name in names:
                say(f"{spec}: {name} @ {budget:g}")
                cfg = replace(
                    base,
                    budget=budget,
                    strategy=name,
                    committee_size=committee_size if _needs_committee(name) else 0,
                )
                r, _ = run_strategy(prepared, cfg)
                result.rows.append(_row(stream.name, budget, name, r, baseline, ""))
                curves[name] = rolling(r.hits)
            randoms = baseline.runs[budget]
            rr = randoms[0]
            row = _row(stream.name, budget, "random", rr, baseline, f"{len(randoms)} seeds")
            row["accuracy"] = baseline.accuracy_at(budget)
            row["labelled_fraction"] = sum(x.labelled_fraction for x in randoms) / len(randoms)
            row["savings_vs_random"] = savings_vs_random(
                row["accuracy"], row["labelled_fraction"], baseline.curve
            )
            result.rows.append(row)
            curves["random"] = rolling(rr.hits)
            for peer, r, note in _peer_runs(prepared, base, budget, wanted, say):
                result.rows.append(_row(stream.name, budget, peer, r, baseline, note))
                curves[peer] = rolling(r.hits)
            curves["every label"] = rolling(baseline.full.hits)
            result.curves[stream.name, budget] = curves
    return result


def markdown(result: CompareResult) -> str:
    """One table per stream: policies as rows, budgets as column groups."""
    out: list[str] = []
    streams = list(dict.fromkeys(r["stream"] for r in result.rows))
    for stream in streams:
        rows = [r for r in result.rows if r["stream"] == stream]
        budgets = sorted({r["budget"] for r in rows})
        out.append(f"### {stream} (every label: {result.full.get(stream, float('nan')):.4f})\n")
        head = "| policy | " + " | ".join(f"{b:.0%}: acc / labelled / savings" for b in budgets)
        out.append(head + " |")
        out.append("|---" * (len(budgets) + 1) + "|")
        for policy in dict.fromkeys(r["policy"] for r in rows):
            cells = []
            for b in budgets:
                match = [r for r in rows if r["policy"] == policy and r["budget"] == b]
                if not match:
                    cells.append("-")
                    continue
                r = match[0]
                cells.append(
                    f"{r['accuracy']:.4f} / {r['labelled_fraction']:.2%} / "
                    f"{r['savings_vs_random']:.2f}x"
                )
            out.append(f"| {policy} | " + " | ".join(cells) + " |")
        notes = [r for r in rows if r["note"] and r["policy"] != "random"]
        for r in notes:
            out.append(f"\n- {r['policy']} at {r['budget']:.0%}: {r['note']}")
        out.append("")
    if result.notes:
        out.append("Notes:\n")
        out.extend(f"- {n}" for n in result.notes)
        out.append("")
    return "\n".join(out)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def plot_all(result: CompareResult, out_dir: Path) -> list[Path]:
    """Learning curves per stream and budget, and accuracy against labels per stream."""
    from streamsift.sim.plots import plot_budgets, plot_curves

    paths: list[Path] = []
    for (stream, budget), curves in result.curves.items():
        path = out_dir / f"curves_{_slug(stream)}_{round(budget * 100):02d}pct.png"
        paths.append(plot_curves(curves, path, title=f"{stream} at {budget:.0%} budget"))
    for stream, curve in result.random_curves.items():
        series: dict[str, list[tuple[float, float]]] = {}
        for r in result.rows:
            if r["stream"] == stream and r["policy"] != "random":
                series.setdefault(r["policy"], []).append((r["labelled_fraction"], r["accuracy"]))
        path = out_dir / f"budgets_{_slug(stream)}.png"
        paths.append(plot_budgets(curve, series, path, title=stream, full=result.full.get(stream)))
    return paths
