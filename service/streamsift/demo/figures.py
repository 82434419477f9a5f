"""The headline figures of a demo run, computed from its :class:`Recording`.

Everything here is measured on the live worker through ``/metrics``: counters and
gauges at the last scrape (after the producer stopped and the last labels came in),
rates over the traffic period (up to the ``traffic_end`` mark). Nothing is simulated.

Examples
--------
>>> from streamsift.demo.promtext import Sample
>>> from streamsift.demo.config import DemoConfig
>>> def s(t, events, active, version):
...     return Sample(t, {
...         ("streamsift_scorer_events_consumed_total", ()): events,
...         ("streamsift_scorer_label_requests_total", (("arm", "active"),)): active,
...         ("streamsift_join_labels_joined_total", (("arm", "active"),)): active - 2,
...         ("streamsift_model_version", ()): version})
>>> f = compute_figures(Recording([s(0, 0, 0, 0), s(10, 2500, 80, 1), s(20, 5000, 180, 3)]),
...                     DemoConfig(minutes=0.5))
>>> f.events, f.requests_total, f.joined_total, f.model_version_first, f.model_version_last
(5000, 180, 178, 0, 3)
>>> f.events_per_s, f.request_rate, f.spend
(250.0, 9.0, 90.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from streamsift.demo.config import DemoConfig
from streamsift.demo.promtext import Sample
from streamsift.demo.series import Recording

__all__ = ["Figures", "Interval", "compute_figures", "labels_asked"]

EVENTS = "streamsift_scorer_events_consumed_total"
REQUESTS = "streamsift_scorer_label_requests_total"
JOINED = "streamsift_join_labels_joined_total"
DECISIONS = "streamsift_scorer_decisions_total"
DRIFT = "streamsift_drift_events_total"
ACCURACY = "streamsift_control_accuracy_ratio"
EXTRA = "streamsift_quality_extra_labels_total"
GOLD = "streamsift_quality_gold_answers_total"


def labels_asked(sample: Sample) -> float:
    """Labels asked of the team: every request (gold ones included) plus the extra
    annotators of redundant items and the extra opinions (each is one more label)."""
    return sample.total(REQUESTS) + sample.total(EXTRA) - sample.total(EXTRA, kind="gold")


class Interval(NamedTuple):
    """An estimate with its 95 % interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Figures:
    """What the live run measured (see the module docstring)."""

    seconds: float = 0.0
    events: int = 0
    events_per_s: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    requests_total: int = 0
    request_rate: float = 0.0
    capacity_per_s: float = 0.0
    joined: dict[str, int] = field(default_factory=dict)
    joined_total: int = 0
    labels_learned: int = 0
    labels_rejected: dict[str, int] = field(default_factory=dict)
    model_version_first: int = 0
    model_version_last: int = 0
    pending_last: int = 0
    pending_max: int = 0
    oldest_pending_age_max: float = 0.0
    drift_started_at: float | None = None
    drift_windows: dict[str, int] = field(default_factory=dict)
    drift_alarms: dict[str, int] = field(default_factory=dict)
    first_alarm: dict[str, float] = field(default_factory=dict)
    detection_delay_s: float | None = None
    drift_share_before: float | None = None
    drift_share_after: float | None = None
    online_accuracy: Interval | None = None
    production_accuracy: Interval | None = None
    lift: Interval | None = None
    spend: float = 0.0
    dead_letters: int = 0
    labels_asked: int = 0
    labels_rate: float = 0.0
    extra_labels: dict[str, int] = field(default_factory=dict)
    label_messages: int = 0
    aggregated: dict[str, int] = field(default_factory=dict)
    held_out: dict[str, int] = field(default_factory=dict)
    gold_answers: dict[str, dict[str, int]] = field(default_factory=dict)
    annotator_accuracy: dict[str, float] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    agreement: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        out = asdict(self)
        for k in ("online_accuracy", "production_accuracy", "lift"):
            v = getattr(self, k)
            out[k] = None if v is None else v._asdict()
        return out


def _interval(rec: Recording, name: str, **labels: str) -> Interval | None:
    last = rec.last
    if last is None:
        return None
    vals = [last.value(name, **labels, bound=b) for b in ("estimate", "lower", "upper")]
    if vals[0] is None:
        return None
    est = vals[0]
    return Interval(est, est if vals[1] is None else vals[1], est if vals[2] is None else vals[2])


def _region_share(rec: Recording, region: str, t0: float | None, t1: float | None) -> float | None:
    """Share of ``region`` among selected decisions between two instants."""

    def counts(t: float | None) -> dict[str, float]:
        if t is None:
            return {}
        before = [s for s in rec.samples if s.t <= t]
        if not before:
            return {}
        by = before[-1].by(DECISIONS, "region")
        none = before[-1].by(DECISIONS, "region", arm="none")
        return {k: v - none.get(k, 0.0) for k, v in by.items()}

    a, b = counts(t0), counts(t1)
    diff = {k: v - a.get(k, 0.0) for k, v in b.items()}
    total = sum(diff.values())
    return diff.get(region, 0.0) / total if total > 0 else None


def compute_figures(rec: Recording, cfg: DemoConfig) -> Figures:
    """The headline figures of ``rec`` (an empty recording gives zeros)."""
    last, first = rec.last, (rec.samples[0] if rec.samples else None)
    if last is None or first is None:
        return Figures(capacity_per_s=cfg.capacity_per_s)
    end = rec.marks.get("traffic_end", last.t)
    in_traffic = [s for s in rec.samples if s.t <= end] or [last]
    span = (in_traffic[-1].t - first.t) or 1.0
    requests = {k: round(v) for k, v in sorted(last.by(REQUESTS, "arm").items())}
    joined = {k: round(v) for k, v in sorted(last.by(JOINED, "arm").items())}
    pending = [v for _, v in rec.gauge("streamsift_join_pending_items")]
    ages = [v for _, v in rec.gauge("streamsift_join_oldest_pending_age_seconds")]
    versions = [v for _, v in rec.gauge("streamsift_model_version")]
    windows = {k: round(v) for k, v in sorted(last.by(DRIFT, "region").items())}
    alarms = {k: round(v) for k, v in sorted(last.by(DRIFT, "region", drifted="true").items())}
    drift_t = rec.marks.get("drift", rec.crossing(EVENTS, float(cfg.drift_index)))
    first_alarm: dict[str, float] = {}
    for t, region in rec.increases(DRIFT, "region", drifted="true"):
        if drift_t is None or t >= drift_t:
            first_alarm.setdefault(region, t)
    delay = None
    if drift_t is not None and cfg.drift_region in first_alarm:
        delay = first_alarm[cfg.drift_region] - drift_t
    total_requests = sum(requests.values())
    rejected = last.by("streamsift_join_labels_rejected_total", "reason")
    asked = round(labels_asked(last))
    gold: dict[str, dict[str, int]] = {}
    for (name, labels), v in sorted(last.values.items()):
        lab = dict(labels)
        if name == GOLD and v == v:
            gold.setdefault(lab["annotator"], {})[lab.get("result", "?")] = round(v)
    gold = {a: g for a, g in gold.items() if sum(g.values())}
    flagged = last.by("streamsift_quality_annotator_flagged", "annotator")
    return Figures(
        seconds=rec.span,
        events=round(last.total(EVENTS)),
        events_per_s=(in_traffic[-1].total(EVENTS) - first.total(EVENTS)) / span,
        requests=requests,
        requests_total=total_requests,
        request_rate=(in_traffic[-1].total(REQUESTS) - first.total(REQUESTS)) / span,
        capacity_per_s=cfg.capacity_per_s,
        joined=joined,
        joined_total=sum(joined.values()),
        labels_learned=int(last.total("streamsift_learner_labels_learned_total")),
        labels_rejected={k: int(v) for k, v in sorted(rejected.items()) if v},
        model_version_first=int(versions[0]) if versions else 0,
        model_version_last=int(versions[-1]) if versions else 0,
        pending_last=int(pending[-1]) if pending else 0,
        pending_max=int(max(pending)) if pending else 0,
        oldest_pending_age_max=max(ages) if ages else 0.0,
        drift_started_at=drift_t,
        drift_windows=windows,
        drift_alarms=alarms,
        first_alarm=first_alarm,
        detection_delay_s=delay,
        drift_share_before=_region_share(rec, cfg.drift_region, first.t, drift_t),
        drift_share_after=_region_share(rec, cfg.drift_region, drift_t, last.t)
        if drift_t is not None
        else None,
        online_accuracy=_interval(rec, ACCURACY, model="online"),
        production_accuracy=_interval(rec, ACCURACY, model="production"),
        lift=_interval(rec, "streamsift_control_lift_ratio"),
        spend=asked * cfg.cost_per_label,
        dead_letters=int(last.total("streamsift_deadletters_total")),
        labels_asked=asked,
        labels_rate=(labels_asked(in_traffic[-1]) - labels_asked(first)) / span,
        extra_labels={k: round(v) for k, v in sorted(last.by(EXTRA, "kind").items()) if v},
        label_messages=round(last.total("streamsift_join_label_arrivals_total")),
        aggregated=_nonzero(last.by("streamsift_quality_aggregated_total", "method")),
        held_out=_nonzero(last.by("streamsift_quality_held_out_total", "reason")),
        gold_answers=gold,
        annotator_accuracy=dict(
            sorted(
                last.by(
                    "streamsift_quality_annotator_accuracy_ratio", "annotator", source="gold"
                ).items()
            )
        ),
        flagged=sorted(k for k, v in flagged.items() if v >= 1),
        agreement=dict(sorted(last.by("streamsift_quality_agreement_ratio", "statistic").items())),
    )


def _nonzero(values: dict[str, float]) -> dict[str, int]:
    return {k: round(v) for k, v in sorted(values.items()) if v}
