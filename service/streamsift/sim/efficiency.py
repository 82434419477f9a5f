"""The label-efficiency benchmark: one strategy over several streams and seeds.

Each (stream, seed) pair is one :func:`~streamsift.sim.simulate.simulate` run (the
stream's own seed, the Sampler's seed and the random baseline's seeds all derive
from it); :func:`summarise` aggregates the runs per stream (geometric mean of the
savings factor over seeds, its spread) and over streams (geometric mean and worst
stream), and :func:`markdown_table` renders the table of docs/benchmarks.md.

Examples
--------
>>> rows = [
...     {"stream": "a", "seed": 0, "savings_vs_random": 2.0, "accuracy": 0.9,
...      "random_accuracy": 0.8, "full_accuracy": 0.95, "majority_accuracy": 0.5,
...      "labelled_fraction": 0.05},
...     {"stream": "a", "seed": 1, "savings_vs_random": 8.0, "accuracy": 0.92,
...      "random_accuracy": 0.8, "full_accuracy": 0.95, "majority_accuracy": 0.5,
...      "labelled_fraction": 0.05},
...     {"stream": "b", "seed": 0, "savings_vs_random": 1.0, "accuracy": 0.7,
...      "random_accuracy": 0.7, "full_accuracy": 0.8, "majority_accuracy": 0.6,
...      "labelled_fraction": 0.05},
... ]
>>> s = summarise(rows)
>>> s["streams"]["a"]["savings_geomean"], s["geomean"], s["worst"]
(4.0, 2.0, 1.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from typing import Any

from streamsift.sim.simulate import SimConfig, simulate
from streamsift.sim.streams import DEFAULT_EVENTS, load_stream

__all__ = ["REFERENCE_STREAMS", "markdown_table", "run_one", "run_table", "summarise"]

#: The streams the label-efficiency target is measured on (issue 3, item 10).
REFERENCE_STREAMS: tuple[str, ...] = (
    "river:Bananas",
    "river:Phishing",
    "river:ImageSegments",
    "synth:sea",
    "synth:agrawal",
    "synth:hyperplane",
)

_DROP = ("random_curve", "random_spread", "drift_detections")


def run_one(spec: str, seed: int, config: SimConfig, events: int | None) -> dict[str, Any]:
    """Simulate ``spec`` with ``seed`` (stream and sampler); the JSON without bulky fields."""
    stream = load_stream(spec, n=events, seed=seed)
    report = simulate(stream, replace(config, seed=seed))
    out = report.to_json()
    out["drift_detection_count"] = len(out["drift_detections"])
    for key in _DROP:
        out.pop(key, None)
    return out


def run_table(
    streams: Sequence[str],
    seeds: Sequence[int],
    config: SimConfig,
    *,
    events: int | None = DEFAULT_EVENTS,
    jobs: int = 1,
    done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Every (stream, seed) simulation, in ``jobs`` processes; rows in input order."""
    tasks = [(spec, seed) for spec in streams for seed in seeds]
    results: dict[tuple[str, int], dict[str, Any]] = {}
    if jobs <= 1:
        for spec, seed in tasks:
            results[spec, seed] = row = run_one(spec, seed, config, events)
            if done is not None:
                done(row)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(run_one, spec, seed, config, events): (spec, seed)
                for spec, seed in tasks
            }
            for fut in as_completed(futures):
                results[futures[fut]] = row = fut.result()
                if done is not None:
                    done(row)
    return [results[t] for t in tasks]


def _geomean(values: Iterable[float]) -> float:
    vals = list(values)
    return math.exp(statistics.fmean(math.log(v) for v in vals))


def _recovery(rows: list[dict[str, Any]], key: str) -> list[int | None]:
    return [r.get(key) for r in rows if "drift_at" in r]


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-stream means and savings spread, then geometric mean and worst over streams."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["stream"], []).append(r)
    streams: dict[str, dict[str, Any]] = {}
    for name, rs in by.items():
        sav = [r["savings_vs_random"] for r in rs]
        streams[name] = {
            "seeds": [r["seed"] for r in rs],
            "accuracy": statistics.fmean(r["accuracy"] for r in rs),
            "random_accuracy": statistics.fmean(r["random_accuracy"] for r in rs),
            "full_accuracy": statistics.fmean(r["full_accuracy"] for r in rs),
            "majority_accuracy": statistics.fmean(r["majority_accuracy"] for r in rs),
            "labelled_fraction": statistics.fmean(r["labelled_fraction"] for r in rs),
            "savings": sav,
            "savings_geomean": _geomean(sav),
            "recovery_events": _recovery(rs, "recovery_events"),
            "random_recovery_events": _recovery(rs, "random_recovery_events"),
        }
    per = [s["savings_geomean"] for s in streams.values()]
    return {
        "streams": streams,
        "geomean": _geomean(per) if per else math.nan,
        "worst": min(per) if per else math.nan,
    }


def _rec(values: list[int | None]) -> str:
    if not values:
        return "-"
    return ", ".join("never" if v is None else f"{v:,}" for v in values)


def markdown_table(summary: dict[str, Any], budget: float) -> str:
    """The label-efficiency table of docs/benchmarks.md."""
    lines = [
        f"| stream | accuracy | random @ {budget:.0%} | every label | majority | labelled "
        "| savings (geomean) | savings per seed | recovery after drift (events) "
        "| random recovery (median of 3) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["streams"].items():
        seeds = ", ".join(f"{v:.2f}" for v in s["savings"])
        lines.append(
            f"| {name} | {s['accuracy']:.4f} | {s['random_accuracy']:.4f} "
            f"| {s['full_accuracy']:.4f} | {s['majority_accuracy']:.4f} "
            f"| {s['labelled_fraction']:.2%} | **{s['savings_geomean']:.2f}x** | {seeds} "
            f"| {_rec(s['recovery_events'])} | {_rec(s['random_recovery_events'])} |"
        )
    lines.append(
        f"| **all** | | | | | | **geomean {summary['geomean']:.2f}x, "
        f"worst {summary['worst']:.2f}x** | | | |"
    )
    return "\n".join(lines) + "\n"
