"""The sections of report.md, each a list of Markdown lines (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import Figures, Interval
from streamsift.demo.offline import OfflineResult

__all__ = ["RunInfo", "drift_section", "headline", "savings_section", "team_section"]


@dataclass
class RunInfo:
    """How the run went (filled in by the orchestration)."""

    run_id: str = ""
    started: str = ""
    bootstrap: str = ""
    broker: str = ""
    prometheus: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    label_sim: dict[str, Any] | None = None
    drift_events: list[dict[str, Any]] = field(default_factory=list)
    offline_status: str = ""


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _ci(v: Interval | None) -> str:
    return (
        "n/a (no control labels yet)" if v is None else f"{v.value:.1%} [{v.low:.1%}, {v.high:.1%}]"
    )


def _money(v: float) -> str:
    return f"{v:,.2f}"


def headline(cfg: DemoConfig, f: Figures) -> list[str]:
    arms = ", ".join(f"{k} {v:,}" for k, v in f.requests.items() if v) or "none"
    joined = ", ".join(f"{k} {v:,}" for k, v in f.joined.items() if v) or "none"
    alarms = ", ".join(f"{k} {v}" for k, v in f.drift_alarms.items() if v) or "none"
    why = ", ".join(f"{k} labels {v:,}" for k, v in f.labels_rejected.items())
    rejected = f" ({why})" if why else ""
    extras = "one per request" + "".join(
        f", +{v:,} {k.replace('_', ' ')}" for k, v in f.extra_labels.items() if k != "gold"
    )
    delay = (
        f"{f.detection_delay_s:.0f} s after the drift reached the worker"
        if f.detection_delay_s is not None
        else "not detected"
    )
    rows = [
        ("traffic", f"{f.events:,} events ({f.events_per_s:,.0f}/s while the producer ran)"),
        ("label requests emitted", f"{f.requests_total:,} ({arms})"),
        ("labels asked of the team", f"{f.labels_asked:,} ({extras})"),
        (
            "labels asked per second vs capacity",
            f"{f.labels_rate:.2f}/s vs {f.capacity_per_s:.2f}/s"
            f" ({f.labels_rate / f.capacity_per_s:.0%} of capacity)"
            if f.capacity_per_s
            else f"{f.labels_rate:.2f}/s",
        ),
        ("labels received", f"{f.label_messages:,}"),
        (
            "labels joined (items resolved for training)",
            f"{f.joined_total:,} ({joined}); {f.labels_learned:,} learned",
        ),
        ("model version", f"{f.model_version_first} → {f.model_version_last}"),
        ("pending queue", f"{f.pending_last:,} at the end (max {f.pending_max:,})"),
        ("drift alarms (windows)", alarms),
        (f"drift in {cfg.drift_region}", delay),
        (
            f"{cfg.drift_region} share of requests",
            f"{_pct(f.drift_share_before)} before the drift, {_pct(f.drift_share_after)} after",
        ),
        ("online model accuracy (control arm)", _ci(f.online_accuracy)),
        ("production model accuracy (control arm)", _ci(f.production_accuracy)),
        ("spend", f"{_money(f.spend)} ({f.labels_asked:,} labels x {cfg.cost_per_label:g})"),
        ("dead letters", f"{f.dead_letters:,}{rejected}"),
    ]
    return ["| measured live | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]


def savings_section(
    cfg: DemoConfig, f: Figures, off: OfflineResult | None, status: str
) -> list[str]:
    out = ["## Labels and money saved against random sampling", ""]
    if off is None:
        return [*out, f"No savings figure: the offline simulation {status or 'did not run'}.", ""]
    need = off.random_fraction_needed
    rnd = need if need is not None else max(off.random_curve)
    at_least = "" if need is not None else "at least "
    per = 1_000_000
    saved = (rnd - off.fraction) * per * cfg.cost_per_label
    c = off.config
    spread = f"{min(off.strategy_accuracy):.1%} to {max(off.strategy_accuracy):.1%}"
    out += [
        "**Simulated, not measured live.** A live run executes one policy only, so the"
        " comparison with random sampling comes from an offline, `streamsift simulate`-style"
        f" replay of the *same* synthetic generator (seed {c['seed']}, {c['events']:,} events,"
        f" drift in {c['drift_region']} at {c['drift_fraction']:.0%} of the stream) through the"
        f" same core Sampler class and settings as the worker ({c['strategy']},"
        f" {c['base_model']}, control share {c['control_share']:g}, cold start"
        f" {c['min_labels']} labels), in fixed-fraction mode at the capacity's share of events"
        f" ({c['budget']:.1%}) rather than the worker's rate mode, with the demo's label"
        f" delay ({c['label_delay']} events) and the team's mean annotator noise"
        f" ({c['annotator_noise']:.0%}; one label per item, no quality control); random"
        f" sampling at {len(off.random_curve)} budgets,"
        f" {c['seeds']} seed(s) each. Accuracy is prequential (each event predicted before"
        f" its label could be used). Finished in {off.seconds:.0f} s.",
        "",
        "| offline, same generator | value |",
        "|---|---|",
        f"| streamsift accuracy | {off.accuracy:.2%} (seeds: {spread}) |",
        f"| streamsift labelled | {off.fraction:.2%} of events |",
        f"| random sampling needs, for that accuracy | {at_least}{rnd:.2%} of events |",
        f"| savings factor | {off.savings:.2f}x |",
        f"| every label (ceiling) / production model | {off.full_accuracy:.2%} /"
        f" {off.production_accuracy:.2%} |",
        f"| per million events at {cfg.cost_per_label:g}/label | streamsift"
        f" {_money(off.fraction * per * cfg.cost_per_label)}, random {at_least}"
        f"{_money(rnd * per * cfg.cost_per_label)}: **{_money(abs(saved))}"
        f" {'saved' if saved >= 0 else 'extra'}** |",
        "",
    ]
    if off.savings < 1.0:
        out += [
            "On this stream and budget active selection did **not** beat random sampling"
            " (savings below 1x): the figure is reported as measured.",
            "",
        ]
    if f.requests_total:
        out += [
            f"Applied to this live run ({f.requests_total:,} requests,"
            f" {_money(f.spend)}): random sampling would have needed about"
            f" {at_least}{f.requests_total * off.savings:,.0f} labels"
            f" ({_money(f.requests_total * off.savings * cfg.cost_per_label)}) for the same"
            " accuracy — a projection with the offline factor, not a live measurement.",
            "",
        ]
    return out


def team_section(info: RunInfo, f: Figures) -> list[str]:
    """Per annotator: the truth (label-sim's own record) next to what the worker measured."""
    doc = info.label_sim or {}
    given, wrong = doc.get("given", {}), doc.get("wrong", {})
    names = sorted(set(given) | set(f.gold_answers) | set(f.annotator_accuracy))
    out = [
        "| annotator | labels given | actually wrong | gold answers (right/wrong) |"
        " gold accuracy | flagged by the worker |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for a in names:
        g = f.gold_answers.get(a, {})
        n = given.get(a, 0)
        bad = wrong.get(a, 0)
        acc = f.annotator_accuracy.get(a)
        out.append(
            f"| {a} | {n:,} | {bad:,} ({100 * bad / n if n else 0:.1f}%) |"
            f" {g.get('correct', 0)}/{g.get('wrong', 0)} |"
            f" {'n/a' if acc is None else f'{acc:.0%}'} | {'**yes**' if a in f.flagged else 'no'} |"
        )
    if not doc:
        out += ["", "No label-sim summary (it did not stop cleanly): the truth columns are empty."]
    agg = ", ".join(f"{k} {v:,}" for k, v in f.aggregated.items()) or "none"
    held = ", ".join(f"{k} {v:,}" for k, v in f.held_out.items()) or "none"
    agree = ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in f.agreement.items())
    out += [
        "",
        '"Actually wrong" is label-sim\'s own record of the truth, which the worker never'
        " sees; the gold columns and the flag are what the worker measured (gold items mixed"
        " into the requests). Items resolved into training labels, by method: "
        f"{agg}; held out of training: {held}"
        + (f"; agreement between annotators: {agree}." if agree else "."),
    ]
    return out


def drift_section(info: RunInfo, cfg: DemoConfig) -> list[str]:
    drifted = [d for d in info.drift_events if d.get("drifted")]
    if not drifted:
        return ["No window of the drift-events topic was flagged as drifted."]
    first = next((d for d in drifted if d.get("region") == cfg.drift_region), drifted[0])
    feats = sorted(
        (x for x in first.get("features", []) if x.get("level") == "alarm"),
        key=lambda x: -(x.get("psi") or 0.0),
    )
    listed = ", ".join(
        f"{x['feature']} (PSI {x['psi']:.2f}"
        + (f", KS {x['ks_statistic']:.2f}" if x.get("ks_statistic") is not None else "")
        + ")"
        for x in feats[:5]
    )
    return [
        f"The drift-events topic holds {len(info.drift_events)} closed windows, {len(drifted)}"
        f" flagged. First flagged window of {first.get('region')}: window"
        f" {first.get('window_index')}, {first.get('n_window')} events against"
        f" {first.get('n_reference')} reference events; alarmed features: {listed or 'none'}"
        f"; sampling boost {first.get('boost', 1.0):.1f}x.",
    ]
