"""``report.md`` of a demo run: what ran, what was measured, what was simulated.

:func:`render_report` is pure (a canned recording renders the same text every
time); :func:`write_report` also writes ``figures.json`` and ``timeseries.json``
next to it, so every number in the report can be checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import Figures
from streamsift.demo.offline import OfflineResult
from streamsift.demo.sections import (
    RunInfo,
    drift_section,
    headline,
    savings_section,
    team_section,
)
from streamsift.demo.series import Recording

__all__ = ["RunInfo", "render_report", "write_report"]


def render_report(
    cfg: DemoConfig,
    figs: Figures,
    info: RunInfo,
    offline: OfflineResult | None,
    plots: list[str],
) -> str:
    """The Markdown report."""
    lines = [f"# streamsift demo {info.run_id}", ""]
    if info.interrupted:
        lines += ["**Interrupted (Ctrl-C)**: everything was stopped; the figures cover the"
                  " part that ran.", ""]  # fmt: skip
    for err in info.errors:
        lines += [f"**Problem:** {err}", ""]
    lines += [
        f"Started {info.started}. Kafka: {info.broker} ({info.bootstrap}). One `streamsift"
        f" worker` scored synthetic payments from `streamsift produce-synthetic`"
        f" ({cfg.rate:g} events/s, seed {cfg.seed}) with a scripted covariate drift in"
        f" **{cfg.drift_region}** (shift {cfg.drift_shift:g}) after {cfg.drift_after_s:.0f} s of"
        f" {cfg.duration_s:.0f} s; `streamsift label-sim` played a team of {cfg.annotators}"
        f" annotators at {cfg.labels_per_hour:g} labels/hour each (turnaround median"
        f" {cfg.delay_median_s:g} s, one annotator wrong {cfg.noisy_annotator_noise:.0%} of the"
        f" time) at x{cfg.time_scale:g} speed, so the worker's capacity was"
        f" {cfg.capacity_per_hour:,.0f} labels/hour of wall-clock time ({cfg.capacity_per_s:g}/s)."
        f" Quality control: {cfg.gold_rate:.0%} of requests carry a gold item (known answer,"
        f" {cfg.gold_items} distinct); redundancy and second opinions as the worker's defaults."
        f" Control share {cfg.control_share:g}, cold start {cfg.min_labels} labels, cost"
        f" {cfg.cost_per_label:g} per label. Prometheus: {info.prometheus or 'not started'}.",
        "",
        "Figures in the first table were measured on the live worker (its `/metrics`,"
        " scraped every second; `timeseries.json` holds every scrape).",
        "",
        *headline(cfg, figs),
        "",
        *savings_section(cfg, figs, offline, info.offline_status),
    ]
    captions = {
        "selection_vs_capacity.png": "Labels asked per second (5 s windows): requests by arm"
        " (gold requests included) plus the quality-control extra labels (redundant"
        " annotators, second opinions), against the team's capacity and the worker's own"
        " target rate; the pending queue below. Measured live.",
        "drift.png": "Largest KS statistic and PSI over each region's features, updated when"
        " a drift window closes; triangles mark windows flagged as drifted. Measured live.",
        "requests_by_region.png": "Share of label requests by region (10 s windows); the"
        " dotted line is the drifted region's share of traffic. Measured live.",
        "accuracy.png": "Left, measured live: accuracy of the online model (trained on every"
        " label the worker asked for: bootstrap, active and control arms) and of the"
        " production model, both estimated on the"
        " uniform control-arm labels (cumulative, 95% Wilson interval; labels include the"
        " noisy annotator's). Right, simulated offline: rolling accuracy of active selection"
        " against random sampling at the same budget.",
        "savings.png": "Simulated offline: accuracy against labelling budget, and labels and"
        " money per million events for the same accuracy.",
    }
    lines += ["## Plots", ""]
    for name in plots:
        lines += [f"![{name}]({name})", "", captions.get(name, ""), ""]
    lines += ["## Drift", "", *drift_section(info, cfg), "", "## Labelling team", ""]
    lines += [*team_section(info, figs), ""]
    lines += [
        "## What is measured, what is not",
        "",
        "- Live (from `/metrics`): event and request rates, capacity use, pending queue,"
        " drift statistics and alarms, region shares, labels joined, model version,"
        " control-arm accuracy estimates.",
        "- Simulated (offline, same generator and core): the comparison with random sampling"
        " and the savings factor.",
        "- Quality control (live, from the worker's metrics): gold answers, annotator accuracy"
        " and flags, extra labels, aggregation; label-sim's record of which labels were"
        " wrong is the ground truth it is compared with.",
        "",
        "## Run",
        "",
        "| step | seconds |",
        "|---|---:|",
        *(f"| {k} | {v:.1f} |" for k, v in info.timings.items()),
        "",
        "Exit codes: "
        + (", ".join(f"{k} {v}" for k, v in info.exit_codes.items()) or "none recorded")
        + ". Logs of every process are in `logs/`.",
        "",
    ]
    return "\n".join(lines)


def _finite(v: float) -> float | None:
    return v if v == v else None  # NaN (no estimate yet) as null: strict JSON


def write_report(
    folder: Path,
    cfg: DemoConfig,
    rec: Recording,
    figs: Figures,
    info: RunInfo,
    offline: OfflineResult | None,
    plots: list[str],
) -> Path:
    """Write report.md, figures.json and timeseries.json into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figures.json").write_text(
        json.dumps(
            {
                "live": figs.as_dict(),
                "offline": offline.to_json() if offline else None,
                "run": info.__dict__,
            },
            indent=2,
            default=str,
        )
        + "\n",
        encoding="utf-8",
    )
    series = {
        "marks": rec.marks,
        "samples": [
            {
                "t": s.t,
                "values": [
                    [n, dict(lab), v if v == v else None] for (n, lab), v in s.values.items()
                ],
            }
            for s in rec.samples
        ],
    }
    (folder / "timeseries.json").write_text(json.dumps(series) + "\n", encoding="utf-8")
    path = folder / "report.md"
    path.write_text(render_report(cfg, figs, info, offline, plots), encoding="utf-8")
    return path
