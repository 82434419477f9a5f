"""Write the streamsift Grafana dashboards (grafana/dashboards/*.json) from one description.

    python grafana/generate.py            # rewrite the JSON files
    python grafana/generate.py --check    # exit 1 if a JSON file differs from this script

The JSON files are committed (Grafana provisioning reads them); this script keeps their
structure uniform: the ``datasource`` variable on every panel and target, ``job`` and
``instance`` matchers on every selector, ``$__rate_interval`` in every ``rate``/``increase``,
a unit and a description on every panel. tests/sre checks all of that on the JSON, checks
that every metric exists in ``streamsift.metrics``, and the live test runs every query
against a real Prometheus scraping a real worker. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"

DS: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
#: The matchers every selector carries.
SEL = 'job=~"$job", instance=~"$instance"'
RI = "[$__rate_interval]"
#: The label-latency objective (s); the same number as StreamsiftOldestPendingOverObjective.
LATENCY_OBJECTIVE_S = 4 * 3600


def sel(metric: str, *extra: str) -> str:
    """``metric{job=~"$job", instance=~"$instance", extra...}``."""
    return metric + "{" + ", ".join([SEL, *extra]) + "}"


def rate(metric: str, *extra: str) -> str:
    return f"rate({sel(metric, *extra)}{RI})"


# --- panels --------------------------------------------------------------------------------


def _targets(queries: Sequence[tuple[str, str]], *, instant: bool = False) -> list[dict[str, Any]]:
    out = []
    for i, (expr, legend) in enumerate(queries):
        t: dict[str, Any] = {
            "datasource": DS,
            "editorMode": "code",
            "expr": expr,
            "legendFormat": legend,
            "refId": chr(ord("A") + i),
        }
        if instant:
            t["instant"] = True
            t["range"] = False
        else:
            t["range"] = True
        out.append(t)
    return out


def _thresholds(steps: Sequence[tuple[str, float | None]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


GREEN = (("green", None),)


def timeseries(
    title: str,
    description: str,
    queries: Sequence[tuple[str, str]],
    *,
    unit: str,
    stack: str = "none",
    minimum: float | None = None,
    maximum: float | None = None,
    thresholds: Sequence[tuple[str, float | None]] = GREEN,
    threshold_lines: bool = False,
    width: int = 12,
    height: int = 8,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "fillOpacity": 30 if stack != "none" else 10,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": stack},
            "thresholdsStyle": {"mode": "line" if threshold_lines else "off"},
        },
        "thresholds": _thresholds(thresholds),
        "unit": unit,
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": _targets(queries),
        "_size": (width, height),
    }


def stat(
    title: str,
    description: str,
    queries: Sequence[tuple[str, str]],
    *,
    unit: str,
    thresholds: Sequence[tuple[str, float | None]] = GREEN,
    width: int = 6,
    height: int = 4,
) -> dict[str, Any]:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "thresholds": _thresholds(thresholds),
                "unit": unit,
            },
            "overrides": [],
        },
        "options": {
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        },
        "targets": _targets(queries),
        "_size": (width, height),
    }


def bargauge(
    title: str,
    description: str,
    queries: Sequence[tuple[str, str]],
    *,
    unit: str,
    thresholds: Sequence[tuple[str, float | None]] = GREEN,
    width: int = 12,
    height: int = 8,
) -> dict[str, Any]:
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "min": 0,
                "thresholds": _thresholds(thresholds),
                "unit": unit,
            },
            "overrides": [],
        },
        "options": {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
        },
        "targets": _targets(queries, instant=True),
        "_size": (width, height),
    }


def heatmap(
    title: str, description: str, expr: str, *, unit: str, width: int = 12, height: int = 8
) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "calculate": False,
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
            "legend": {"show": True},
            "tooltip": {"show": True, "yHistogram": True},
            "yAxis": {"axisPlacement": "left", "unit": unit},
        },
        "targets": _targets([(expr, "{{le}}")]),
        "_size": (width, height),
    }
    panel["targets"][0]["format"] = "heatmap"
    return panel


def row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


# --- variables -----------------------------------------------------------------------------


def _query_var(name: str, label: str, query: str, *, multi: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": multi,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


DATASOURCE_VAR: dict[str, Any] = {
    "name": "datasource",
    "label": "Data source",
    "type": "datasource",
    "query": "prometheus",
    "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
    "options": [],
    "refresh": 1,
    "regex": "",
    "hide": 0,
}
JOB_VAR = _query_var("job", "Job", "label_values(streamsift_worker_ready, job)")
INSTANCE_VAR = _query_var(
    "instance", "Worker", 'label_values(streamsift_worker_ready{job=~"$job"}, instance)'
)
REGION_VAR = _query_var(
    "region",
    "Region",
    'label_values(streamsift_scorer_decisions_total{job=~"$job", instance=~"$instance"}, region)',
)
MODEL_VAR = _query_var(
    "model",
    "Model",
    'label_values(streamsift_control_accuracy_ratio{job=~"$job", instance=~"$instance"}, model)',
)
TOPK_VAR: dict[str, Any] = {
    "name": "topk",
    "label": "Top k features",
    "type": "custom",
    "query": "5,10,20,50",
    "current": {"selected": True, "text": "5", "value": "5"},
    "options": [{"selected": v == "5", "text": v, "value": v} for v in ("5", "10", "20", "50")],
    "multi": False,
    "includeAll": False,
    "hide": 0,
}


# --- layout and dashboard ------------------------------------------------------------------


def _layout(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place panels left to right in rows of width 24; a row panel starts a new line."""
    panels: list[dict[str, Any]] = []
    x = y = line_h = 0
    next_id = 1
    for item in items:
        p = dict(item)
        p["id"] = next_id
        next_id += 1
        if p["type"] == "row":
            if x:
                y += line_h
            p["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
            x = line_h = 0
        else:
            w, h = p.pop("_size")
            if x + w > 24:
                y += line_h
                x = line_h = 0
            p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            x += w
            line_h = max(line_h, h)
        panels.append(p)
    return panels


def dashboard(
    uid: str,
    title: str,
    description: str,
    items: Sequence[dict[str, Any]],
    variables: Sequence[dict[str, Any]],
    annotations: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "annotations": {"list": [builtin, *annotations]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": True,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "tags": ["streamsift"],
                "title": "streamsift dashboards",
                "type": "dashboards",
            }
        ],
        "panels": _layout(items),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["streamsift"],
        "templating": {"list": [DATASOURCE_VAR, JOB_VAR, INSTANCE_VAR, *variables]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


# --- the dashboards ------------------------------------------------------------------------

REGION = 'region=~"$region"'
DRIFTED = 'drifted="true"'
SCORE = 'feature="score"'
PREDICTED = 'feature="predicted"'
CONTROL = 'arm="control"'
BOOTSTRAP = 'arm="bootstrap"'
PSI_STEPS = (("green", None), ("yellow", 0.1), ("red", 0.2))  # drift_psi_warn / _alarm


def drift() -> dict[str, Any]:
    ks = sel("streamsift_drift_ks_statistic", REGION)
    psi = sel("streamsift_drift_psi", REGION)
    windows = "streamsift_drift_events_total"
    decisions = "streamsift_scorer_decisions_total"
    selected = 'arm!="none"'
    annotation = {
        "datasource": DS,
        "enable": True,
        "expr": (
            "sum by (region) (increase("
            + sel(windows, REGION, 'drifted="true"')
            + "[$__interval])) > 0"
        ),
        "iconColor": "red",
        "name": "Drift detected",
        "step": "1m",
        "tagKeys": "region",
        "textFormat": "a drift window closed with drift in {{region}}",
        "titleFormat": "Drift in {{region}}",
        "useValueForTime": False,
    }
    items = [
        row("Per-feature drift statistics"),
        timeseries(
            "KS statistic, top-k features",
            "Two-sample Kolmogorov-Smirnov statistic of the last closed window against the"
            " reference, per region and numeric feature (the k largest; choose k above).",
            [(f"topk($topk, max by (region, feature) ({ks}))", "{{region}} · {{feature}}")],
            unit="none",
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "PSI, top-k features",
            "Population stability index of the last closed window, per region and feature"
            " (numeric and categorical). Lines: 0.1 warn, 0.2 alarm (STREAMSIFT_DRIFT_PSI_WARN"
            " and _ALARM defaults).",
            [(f"topk($topk, max by (region, feature) ({psi}))", "{{region}} · {{feature}}")],
            unit="none",
            minimum=0,
            thresholds=PSI_STEPS,
            threshold_lines=True,
        ),
        bargauge(
            "Features over the PSI alarm, per region",
            "How many features of each region have a PSI above 0.2 in their last window"
            " (0 when none).",
            [
                (
                    f"count by (region) (max by (region, feature) ({psi}) > 0.2)"
                    f" or 0 * count by (region) ({psi})",
                    "{{region}}",
                )
            ],
            unit="none",
            thresholds=(("green", None), ("yellow", 1), ("red", 3)),
        ),
        bargauge(
            "Top-k features by current PSI",
            "The features with the largest PSI right now, across the selected regions.",
            [(f"topk($topk, max by (region, feature) ({psi}))", "{{region}} · {{feature}}")],
            unit="none",
            thresholds=PSI_STEPS,
        ),
        row("Drift windows"),
        timeseries(
            "Drift windows closed per hour, by outcome",
            "Tumbling windows closed per region; drifted=true when a corrected test or a PSI"
            " alarm fired. Drift events are also drawn as annotations.",
            [
                (
                    f"sum by (region, drifted) ({rate(windows, REGION)}) * 3600",
                    "{{region}} drifted={{drifted}}",
                )
            ],
            unit="short",
            minimum=0,
        ),
        timeseries(
            "Share of windows that drifted",
            "Drifted windows over all closed windows, per region. Sustained values above 50%"
            " raise StreamsiftDriftSustained.",
            [
                (
                    f"(sum by (region) ({rate(windows, REGION, DRIFTED)})"
                    f" or 0 * sum by (region) ({rate(windows, REGION)}))"
                    f" / sum by (region) ({rate(windows, REGION)})",
                    "{{region}}",
                )
            ],
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
        row("Sampling response"),
        timeseries(
            "Sampling boost per region",
            "Multiplier on the uncertainty score of a drifted or new region (1: no boost);"
            " it decays over the following windows, inside the same global capacity.",
            [
                (
                    f"max by (region) ({sel('streamsift_sampler_region_boost_ratio', REGION)})",
                    "{{region}}",
                )
            ],
            unit="none",
            minimum=0,
        ),
        timeseries(
            "Share of label requests by region",
            "Selected events (all arms) per region over all selected events.",
            [
                (
                    f"sum by (region) ({rate(decisions, REGION, selected)})"
                    " / ignoring (region) group_left ()"
                    f" sum ({rate(decisions, selected)})",
                    "{{region}}",
                )
            ],
            unit="percentunit",
            stack="normal",
            minimum=0,
        ),
        timeseries(
            "Events per second by region",
            "Decided inference events per region (all arms, not selected included).",
            [
                (
                    f"sum by (region) ({rate(decisions, REGION)})",
                    "{{region}}",
                )
            ],
            unit="ops",
            stack="normal",
            minimum=0,
        ),
        row("Uncertainty score"),
        timeseries(
            "Uncertainty score drift (KS and PSI of the score)",
            "Drift of the uncertainty-score distribution per region: the KS statistic and the"
            " PSI of the score against the reference window.",
            [
                (
                    f"max by (region) ({sel('streamsift_drift_ks_statistic', REGION, SCORE)})",
                    "KS {{region}}",
                ),
                (
                    f"max by (region) ({sel('streamsift_drift_psi', REGION, SCORE)})",
                    "PSI {{region}}",
                ),
            ],
            unit="none",
            minimum=0,
        ),
        timeseries(
            "Predicted-class mix drift (PSI)",
            "PSI of the production model's predicted classes against the reference window.",
            [
                (
                    f"max by (region) ({sel('streamsift_drift_psi', REGION, PREDICTED)})",
                    "{{region}}",
                )
            ],
            unit="none",
            minimum=0,
            thresholds=PSI_STEPS,
            threshold_lines=True,
        ),
        timeseries(
            "Selection threshold on the boosted score",
            "The adaptive threshold of each worker: the running quantile of boosted scores"
            " that selects the target fraction.",
            [(f"max by (instance) ({sel('streamsift_sampler_threshold')})", "{{instance}}")],
            unit="none",
        ),
    ]
    return dashboard(
        "streamsift-drift",
        "streamsift / Drift",
        "Is the input drifting, where, in which features, and how does sampling respond?",
        items,
        [REGION_VAR, TOPK_VAR],
        [annotation],
    )


def annotator_quality() -> list[dict[str, Any]]:
    """The "Annotator quality" row shared by the labelling and effectiveness dashboards."""
    extra = "streamsift_quality_extra_labels_total"
    return [
        row("Annotator quality"),
        timeseries(
            "Annotator accuracy by source",
            "Per-annotator accuracy: on injected gold items (gold) and estimated by"
            " Dawid-Skene over redundantly labelled items (dawid_skene). Below"
            " STREAMSIFT_QUALITY_FLAG_BELOW (0.8) with enough answers, the annotator is flagged.",
            [
                (
                    "min by (annotator, source) ("
                    + sel("streamsift_quality_annotator_accuracy_ratio")
                    + ")",
                    "{{annotator}} {{source}}",
                )
            ],
            unit="percentunit",
            minimum=0,
            maximum=1,
            thresholds=(("red", None), ("green", 0.8)),
            threshold_lines=True,
        ),
        stat(
            "Flagged annotators",
            "Annotators currently flagged (accuracy below threshold); their labels are"
            " down-weighted or excluded (STREAMSIFT_QUALITY_POLICY). Alert: AnnotatorFlagged.",
            [
                (
                    "count (max by (annotator) ("
                    + sel("streamsift_quality_annotator_flagged")
                    + ") == 1) or vector(0)",
                    "flagged",
                )
            ],
            unit="none",
            thresholds=(("green", None), ("red", 1)),
        ),
        stat(
            "Contradictions of a confident model per hour",
            "Single labels that contradicted a confident online model and were sent for a"
            " second opinion (STREAMSIFT_CONTRADICTION_CONFIDENCE).",
            [(f"sum ({rate('streamsift_quality_contradictions_total')}) * 3600", "per hour")],
            unit="short",
        ),
        timeseries(
            "Extra labels per hour by kind",
            "Labels beyond one per selected item (gold probes, redundancy, second and extra"
            " opinions); they spend the same capacity and budget as the rest.",
            [(f"sum by (kind) ({rate(extra)}) * 3600", "{{kind}}")],
            unit="short",
            stack="normal",
            minimum=0,
        ),
        timeseries(
            "Gold answers per hour by result",
            "Answers to injected gold items, right and wrong, all annotators.",
            [
                (
                    f"sum by (result) ({rate('streamsift_quality_gold_answers_total')}) * 3600",
                    "{{result}}",
                )
            ],
            unit="short",
            stack="normal",
            minimum=0,
        ),
        timeseries(
            "Items resolved per hour: aggregated by method, held out by reason",
            "Only aggregates train the model; held-out items had unresolved labels (tie, low"
            " confidence, contradiction without second opinion, timeout).",
            [
                (
                    f"sum by (method) ({rate('streamsift_quality_aggregated_total')}) * 3600",
                    "aggregated {{method}}",
                ),
                (
                    f"sum by (reason) ({rate('streamsift_quality_held_out_total')}) * 3600",
                    "held out {{reason}}",
                ),
            ],
            unit="short",
            minimum=0,
        ),
        timeseries(
            "Inter-annotator agreement",
            "Fleiss' kappa and Krippendorff's alpha over recent multi-label items (1: perfect,"
            " 0: chance).",
            [
                (
                    "min by (statistic) (" + sel("streamsift_quality_agreement_ratio") + ")",
                    "{{statistic}}",
                )
            ],
            unit="none",
            maximum=1,
        ),
    ]


def labelling() -> dict[str, Any]:
    requests = "streamsift_scorer_label_requests_total"
    joined = "streamsift_join_labels_joined_total"
    bucket = "streamsift_join_label_latency_seconds_bucket"
    items = [
        row("Requests against capacity"),
        timeseries(
            "Label requests per hour against target",
            "Requests sent (all arms) per hour, and the target label rate of all workers:"
            " the labelling capacity limited by the money budget (STREAMSIFT_CAPACITY_PER_HOUR,"
            " STREAMSIFT_BUDGET_PER_DAY / STREAMSIFT_COST_PER_LABEL).",
            [
                (f"sum ({rate(requests)}) * 3600", "requests"),
                (
                    f"sum ({sel('streamsift_sampler_target_label_rate_per_second')}) * 3600",
                    "target (capacity and budget)",
                ),
            ],
            unit="short",
            minimum=0,
        ),
        timeseries(
            "Selection share: measured vs target",
            "Share of decided events that were selected, and the share each worker aims at."
            " Measured far below target means throttling (StreamsiftLabellingCapacityExhausted).",
            [
                (
                    f"max by (instance) ({sel('streamsift_sampler_selection_ratio')})",
                    "measured {{instance}}",
                ),
                (
                    f"max by (instance) ({sel('streamsift_sampler_target_selection_ratio')})",
                    "target {{instance}}",
                ),
            ],
            unit="percentunit",
            minimum=0,
        ),
        timeseries(
            "Label requests per hour by region",
            "Selected events per region (all arms).",
            [
                (
                    "sum by (region) ("
                    + rate("streamsift_scorer_decisions_total", REGION, 'arm!="none"')
                    + ") * 3600",
                    "{{region}}",
                )
            ],
            unit="short",
            stack="normal",
            minimum=0,
        ),
        timeseries(
            "Spend today",
            "Money spent on labels today (configured currency), all workers. The daily budget"
            " is STREAMSIFT_BUDGET_PER_DAY.",
            [(f"sum ({sel('streamsift_sampler_spent_today')})", "spent today")],
            unit="short",
            minimum=0,
        ),
        row("Backlog"),
        timeseries(
            "Pending items",
            "Items awaiting a label: in the pending stores (join) and as the samplers count"
            " them (backpressure starts at STREAMSIFT_MAX_PENDING per worker; paged at 80%).",
            [
                (f"sum ({sel('streamsift_join_pending_items')})", "pending store"),
                (f"sum ({sel('streamsift_sampler_pending_items')})", "sampler count"),
            ],
            unit="short",
            minimum=0,
        ),
        stat(
            "Oldest pending item",
            "Age of the oldest item awaiting a label; red above the 4 h label-latency objective.",
            [(f"max ({sel('streamsift_join_oldest_pending_age_seconds')})", "oldest")],
            unit="s",
            thresholds=(
                ("green", None),
                ("yellow", LATENCY_OBJECTIVE_S / 2),
                ("red", LATENCY_OBJECTIVE_S),
            ),
        ),
        stat(
            "Estimated time to clear the backlog",
            "Pending items divided by the current rate of joined labels (no new requests"
            " assumed); infinite when no label comes back.",
            [
                (
                    f"sum ({sel('streamsift_join_pending_items')}) / sum ({rate(joined)})",
                    "time to clear",
                )
            ],
            unit="s",
            thresholds=(
                ("green", None),
                ("yellow", LATENCY_OBJECTIVE_S / 2),
                ("red", LATENCY_OBJECTIVE_S),
            ),
        ),
        timeseries(
            "Pending items expired per hour",
            "Items that reached STREAMSIFT_PENDING_TTL_SECONDS without a label.",
            [(f"sum ({rate('streamsift_join_expired_total')}) * 3600", "expired")],
            unit="short",
            minimum=0,
        ),
        row("Labels coming back"),
        timeseries(
            "Label latency p50 / p95",
            "Time from label request to joined label (histogram quantiles).",
            [
                (
                    f"histogram_quantile(0.5, sum by (le) ({rate(bucket)}))",
                    "p50",
                ),
                (
                    f"histogram_quantile(0.95, sum by (le) ({rate(bucket)}))",
                    "p95",
                ),
            ],
            unit="s",
            minimum=0,
            thresholds=(("green", None), ("red", LATENCY_OBJECTIVE_S)),
            threshold_lines=True,
        ),
        heatmap(
            "Label latency distribution",
            "Joined labels per latency bucket.",
            f"sum by (le) (increase({sel(bucket)}{RI}))",
            unit="s",
        ),
        timeseries(
            "Label arrivals per hour",
            "Label messages read (all teams), and labels joined per arm.",
            [
                (f"sum ({rate('streamsift_join_label_arrivals_total')}) * 3600", "arrived"),
                (f"sum by (arm) ({rate(joined)}) * 3600", "joined {{arm}}"),
            ],
            unit="short",
            minimum=0,
        ),
        timeseries(
            "Labels rejected per hour by reason",
            "Labels not trained on: invalid, duplicate, unknown event, expired request,"
            " unlearnable class.",
            [
                (
                    f"sum by (reason) ({rate('streamsift_join_labels_rejected_total')}) * 3600",
                    "{{reason}}",
                )
            ],
            unit="short",
            minimum=0,
        ),
        row("Dead letters"),
        timeseries(
            "Dead letters by reason",
            "Messages sent to the dead-letters topic per second, by source and reason.",
            [
                (
                    f"sum by (source, reason) ({rate('streamsift_deadletters_total')})",
                    "{{source}} {{reason}}",
                )
            ],
            unit="ops",
            minimum=0,
            width=24,
        ),
        *annotator_quality(),
    ]
    return dashboard(
        "streamsift-labelling",
        "streamsift / Labelling capacity",
        "Are we asking for as many labels as the team and the budget allow, and are they"
        " coming back in time, and are the annotators right? (Label arrivals per annotator"
        " team need a team label on streamsift_join_label_arrivals_total; see"
        " docs/operations.md.)",
        items,
        [REGION_VAR],
    )


def effectiveness() -> dict[str, Any]:
    requests = "streamsift_scorer_label_requests_total"
    joined = "streamsift_join_labels_joined_total"
    items = [
        row("Control arm"),
        timeseries(
            "Control-arm accuracy by model",
            "Accuracy of the production model and of the online model estimated on control"
            " labels (uniform random picks), with the interval bounds.",
            [
                (
                    "max by (model, bound) ("
                    + sel("streamsift_control_accuracy_ratio", 'model=~"$model"')
                    + ")",
                    "{{model}} {{bound}}",
                )
            ],
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "Lift of the online model over production (control labels)",
            "Online minus production accuracy on the control arm's labels, with its interval:"
            " what active learning has bought so far.",
            [
                (
                    f"max by (bound) ({sel('streamsift_control_lift_ratio')})",
                    "{{bound}}",
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "Control labels joined per hour",
            "The sample size behind the control-arm estimates.",
            [(f"sum ({rate(joined, CONTROL)}) * 3600", "control labels")],
            unit="short",
            minimum=0,
        ),
        row("Model"),
        timeseries(
            "Model version in use per worker",
            "Version of the online model each worker scores with; workers should agree within"
            " a snapshot period.",
            [(f"max by (instance) ({sel('streamsift_model_version')})", "{{instance}}")],
            unit="none",
        ),
        stat(
            "Labels seen by the online model",
            "Labels the online model has learned from (weighted by 1/p in training).",
            [(f"max ({sel('streamsift_model_labels_seen')})", "labels seen")],
            unit="short",
        ),
        stat(
            "Model version",
            "Newest model version in use.",
            [(f"max ({sel('streamsift_model_version')})", "version")],
            unit="none",
        ),
        timeseries(
            "Learning and snapshots per hour",
            "Labels learned by the learner, snapshots it published, snapshots the workers loaded.",
            [
                (f"sum ({rate('streamsift_learner_labels_learned_total')}) * 3600", "learned"),
                (
                    f"sum ({rate('streamsift_learner_snapshots_published_total')}) * 3600",
                    "snapshots published",
                ),
                (f"sum ({rate('streamsift_snapshot_loaded_total')}) * 3600", "snapshots loaded"),
                (
                    f"sum ({rate('streamsift_learner_concept_changes_total')}) * 3600",
                    "concept changes",
                ),
            ],
            unit="short",
            minimum=0,
        ),
        timeseries(
            "Workers relearning after a concept change",
            "Workers whose model is relearning after a concept change seen on the labels"
            " (its tree forgot what its leaves learnt, and they sample uniformly, as in"
            " the cold start, until the model has learned relearn_labels labels since).",
            [(f"sum ({sel('streamsift_model_relearning')})", "relearning")],
            unit="none",
            minimum=0,
        ),
        timeseries(
            "Snapshots refused by reason",
            "Snapshots a worker would not load (bad signature, hash mismatch, wrong model,"
            " malformed, unpickle error).",
            [
                (
                    f"sum by (reason) ({rate('streamsift_snapshot_refused_total')})",
                    "{{reason}}",
                )
            ],
            unit="ops",
            minimum=0,
        ),
        row("Bootstrap and active selection"),
        timeseries(
            "Label requests by arm (share)",
            "bootstrap: uniform picks while the online model is cold; active: uncertainty"
            " sampling once warm; control: the uniform control arm.",
            [
                (
                    f"sum by (arm) ({rate(requests)}) / ignoring (arm) group_left ()"
                    f" sum ({rate(requests)})",
                    "{{arm}}",
                )
            ],
            unit="percentunit",
            stack="normal",
            minimum=0,
        ),
        stat(
            "Bootstrap share of requests",
            "Share of requests still made uniformly because the online model is cold"
            " (STREAMSIFT_MIN_LABELS); 0 once bootstrapping is over.",
            [
                (
                    f"sum ({rate(requests, BOOTSTRAP)}) / sum ({rate(requests)})",
                    "bootstrap",
                )
            ],
            unit="percentunit",
        ),
        stat(
            "Labels joined, last interval",
            "Labels joined in the dashboard's rate interval, all arms.",
            [(f"sum (increase({sel(joined)}{RI}))", "joined")],
            unit="short",
        ),
        timeseries(
            "Labels joined per hour by arm",
            "Labels that passed the join, per arm.",
            [(f"sum by (arm) ({rate(joined)}) * 3600", "{{arm}}")],
            unit="short",
            stack="normal",
            minimum=0,
        ),
        *annotator_quality(),
    ]
    return dashboard(
        "streamsift-effectiveness",
        "streamsift / Active-learning effectiveness",
        "Is active selection paying off? Control-arm accuracy, lift, model progress and"
        " bootstrap, and the quality of the labels it learns from.",
        items,
        [MODEL_VAR],
    )


def service() -> dict[str, Any]:
    scoring = "streamsift_scorer_scoring_duration_seconds_bucket"
    batch = "streamsift_scorer_batch_duration_seconds_bucket"
    items = [
        row("Workers"),
        stat(
            "Workers up",
            "Workers Prometheus can scrape.",
            [(f"sum ({sel('up')})", "up")],
            unit="none",
            thresholds=(("red", None), ("green", 1)),
        ),
        stat(
            "Workers ready",
            "Workers whose /readyz answers 200 (partitions assigned, broker reachable,"
            " model loaded or bootstrapping).",
            [(f"sum ({sel('streamsift_worker_ready')})", "ready")],
            unit="none",
            thresholds=(("red", None), ("green", 1)),
        ),
        stat(
            "Live workers (rate board)",
            "Workers that published an event rate recently; capacity is shared among them.",
            [(f"max ({sel('streamsift_worker_live_workers')})", "live")],
            unit="none",
        ),
        stat(
            "Events per second",
            "Inference events consumed per second, all workers.",
            [(f"sum ({rate('streamsift_scorer_events_consumed_total')})", "events/s")],
            unit="ops",
        ),
        row("Throughput"),
        timeseries(
            "Events consumed and valid",
            "Inference events read and those that decoded and validated, per second.",
            [
                (f"sum ({rate('streamsift_scorer_events_consumed_total')})", "consumed"),
                (f"sum ({rate('streamsift_scorer_events_valid_total')})", "valid"),
            ],
            unit="ops",
            minimum=0,
        ),
        timeseries(
            "Measured event rate per worker",
            "The event rate each worker's sampler measures (events/s) — the denominator of"
            " its target selection fraction.",
            [
                (
                    f"max by (instance) ({sel('streamsift_sampler_event_rate_per_second')})",
                    "{{instance}}",
                ),
            ],
            unit="ops",
            minimum=0,
        ),
        timeseries(
            "Capacity share per worker",
            "Each worker's share of the global labelling capacity (1 with a single worker).",
            [
                (
                    f"max by (instance) ({sel('streamsift_worker_capacity_share_ratio')})",
                    "{{instance}}",
                )
            ],
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
        timeseries(
            "Invalid events by reason",
            "Inference events rejected (and dead-lettered), per second.",
            [
                (
                    f"sum by (reason) ({rate('streamsift_scorer_events_invalid_total')})",
                    "{{reason}}",
                )
            ],
            unit="ops",
            minimum=0,
        ),
        timeseries(
            "Duplicates by kind",
            "Events not decided again: duplicate (a producer retry) or redelivered (read"
            " again after a restart).",
            [
                (
                    f"sum by (kind) ({rate('streamsift_scorer_duplicates_total')})",
                    "{{kind}}",
                )
            ],
            unit="ops",
            minimum=0,
        ),
        timeseries(
            "Consumer lag by topic",
            "Messages behind the high-water mark, by input topic (all workers).",
            [
                (
                    f"sum by (topic) ({sel('streamsift_consumer_lag_messages')})",
                    "{{topic}}",
                )
            ],
            unit="short",
            minimum=0,
        ),
        row("Latency"),
        timeseries(
            "Scoring time per event p50 / p99",
            "Time of one Sampler.decide call.",
            [
                (f"histogram_quantile(0.5, sum by (le) ({rate(scoring)}))", "p50"),
                (f"histogram_quantile(0.99, sum by (le) ({rate(scoring)}))", "p99"),
            ],
            unit="s",
            minimum=0,
        ),
        timeseries(
            "Batch time p50 / p95",
            "Time to process one batch taken from inference-events, sends included.",
            [
                (f"histogram_quantile(0.5, sum by (le) ({rate(batch)}))", "p50"),
                (f"histogram_quantile(0.95, sum by (le) ({rate(batch)}))", "p95"),
            ],
            unit="s",
            minimum=0,
        ),
        row("Exactly-once guards"),
        timeseries(
            "Recovered and duplicate requests",
            "Requests re-sent after a restart (decision logged, request never sent), and"
            " second requests for one event reaching the pending store (must stay 0).",
            [
                (f"sum ({rate('streamsift_scorer_recovered_requests_total')})", "recovered"),
                (
                    f"sum ({rate('streamsift_join_duplicate_requests_total')})",
                    "duplicate requests",
                ),
            ],
            unit="ops",
            minimum=0,
            width=24,
        ),
    ]
    return dashboard(
        "streamsift-service",
        "streamsift / Service health",
        "Are the workers up, keeping up with the input, and fast?",
        items,
        [],
    )


DASHBOARDS = {
    "streamsift-drift.json": drift,
    "streamsift-labelling.json": labelling,
    "streamsift-effectiveness.json": effectiveness,
    "streamsift-service.json": service,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python grafana/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
