"""The live terminal view of a demo run (rich), and its one-line form for logs.

:func:`live_status` reduces the recording so far to the few numbers worth watching;
:func:`render` draws them; :func:`status_line` prints them on one line when the
output is not a terminal. All three are pure.

Examples
--------
>>> from streamsift.demo.config import DemoConfig
>>> from streamsift.demo.promtext import Sample
>>> from streamsift.demo.series import Recording
>>> s0 = Sample(0.0, {("streamsift_scorer_events_consumed_total", ()): 0.0})
>>> s1 = Sample(5.0, {("streamsift_scorer_events_consumed_total", ()): 1250.0,
...                   ("streamsift_model_version", ()): 2.0})
>>> st = live_status(Recording([s0, s1]), DemoConfig(minutes=1), elapsed=5.0)
>>> st.events_per_s, st.model_version
(250.0, 2)
>>> status_line(st)[:49]
'[  5s/60s] events 250/s  labels 0.0/s (cap 10.0) '
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rich.console import RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import (
    ACCURACY,
    DRIFT,
    EVENTS,
    GOLD,
    JOINED,
    REQUESTS,
    labels_asked,
)
from streamsift.demo.series import Recording

__all__ = ["LiveStatus", "live_status", "render", "status_line"]


@dataclass(frozen=True)
class LiveStatus:
    """What the live view shows at one instant."""

    elapsed: float
    duration: float
    drift_region: str
    drift_at: float
    events: int = 0
    events_per_s: float = 0.0
    requests_per_s: float = 0.0
    labels_per_s: float = 0.0
    capacity_per_s: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    extra_labels: int = 0
    selection_ratio: float = 0.0
    target_ratio: float = 0.0
    pending: int = 0
    oldest_pending_s: float = 0.0
    joined: int = 0
    learned: int = 0
    model_version: int = 0
    alarms: dict[str, int] = field(default_factory=dict)
    online: tuple[float, float, float] | None = None
    production: tuple[float, float, float] | None = None
    control_labels: int = 0
    spend: float = 0.0
    gold_answers: int = 0
    gold_accuracy: dict[str, float] = field(default_factory=dict)
    flagged: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)
    note: str = ""


def _last_rate(rec: Recording, name: str, window: float = 5.0) -> float:
    rates = rec.rate(name, window=window, min_window=1.0)
    return rates[-1][1] if rates else 0.0


def _acc(rec: Recording, model: str) -> tuple[float, float, float] | None:
    last = rec.last
    if last is None:
        return None
    v = [last.value(ACCURACY, model=model, bound=b) for b in ("estimate", "lower", "upper")]
    if v[0] is None:
        return None
    return (v[0], v[1] if v[1] is not None else v[0], v[2] if v[2] is not None else v[0])


def live_status(
    rec: Recording,
    cfg: DemoConfig,
    elapsed: float,
    links: dict[str, str] | None = None,
    note: str = "",
) -> LiveStatus:
    """The live numbers from the scrapes so far."""
    last = rec.last
    base = LiveStatus(
        elapsed=elapsed,
        duration=cfg.duration_s,
        drift_region=cfg.drift_region,
        drift_at=cfg.drift_after_s,
        capacity_per_s=cfg.capacity_per_s,
        links=dict(links or {}),
        note=note,
    )
    if last is None:
        return base

    def g(name: str) -> float:
        return last.value(name) or 0.0

    requests = {k: int(v) for k, v in sorted(last.by(REQUESTS, "arm").items())}
    asked = labels_asked(last)
    flagged = last.by("streamsift_quality_annotator_flagged", "annotator")
    return replace(
        base,
        events=int(last.total(EVENTS)),
        events_per_s=_last_rate(rec, EVENTS),
        requests_per_s=_last_rate(rec, REQUESTS),
        labels_per_s=(rec.rate_of(labels_asked, window=5.0, min_window=1.0) or [(0.0, 0.0)])[-1][1],
        requests=requests,
        extra_labels=round(asked - sum(requests.values())),
        selection_ratio=g("streamsift_sampler_selection_ratio"),
        target_ratio=g("streamsift_sampler_target_selection_ratio"),
        pending=int(g("streamsift_join_pending_items")),
        oldest_pending_s=g("streamsift_join_oldest_pending_age_seconds"),
        joined=int(last.total(JOINED)),
        learned=int(g("streamsift_learner_labels_learned_total")),
        model_version=int(g("streamsift_model_version")),
        alarms={
            k: round(v) for k, v in sorted(last.by(DRIFT, "region", drifted="true").items()) if v
        },
        online=_acc(rec, "online"),
        production=_acc(rec, "production"),
        control_labels=int(last.total(JOINED, arm="control")),
        spend=asked * cfg.cost_per_label,
        gold_answers=round(last.total(GOLD)),
        gold_accuracy=last.by(
            "streamsift_quality_annotator_accuracy_ratio", "annotator", source="gold"
        ),
        flagged=tuple(sorted(k for k, v in flagged.items() if v >= 1)),
    )


def _fmt_acc(a: tuple[float, float, float] | None) -> str:
    return "-" if a is None else f"{a[0]:.1%} [{a[1]:.1%}, {a[2]:.1%}]"


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:d}:{s % 60:02d}"


def render(st: LiveStatus) -> RenderableType:
    """The live view: a table of the numbers, with a capacity bar."""
    drift_note = (
        f"drift in [bold]{st.drift_region}[/] since {_clock(st.drift_at)}"
        if st.elapsed >= st.drift_at
        else f"drift in {st.drift_region} scheduled at {_clock(st.drift_at)}"
    )
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    t.add_row("events", f"{st.events_per_s:,.0f}/s   ({st.events:,} in all)")
    use = min(st.labels_per_s / st.capacity_per_s, 1.5) if st.capacity_per_s else 0.0
    bar = ProgressBar(total=1.5, completed=use, width=30)
    arms = "  ".join(f"{k} {v:,}" for k, v in st.requests.items() if v)
    extra = f"   (+{st.extra_labels:,} quality-control labels)" if st.extra_labels else ""
    t.add_row("labels asked", f"{st.labels_per_s:.1f}/s of capacity {st.capacity_per_s:.1f}/s")
    t.add_row("", bar)
    t.add_row("requests", f"{arms or 'none yet'}{extra}")
    t.add_row("selection rate", f"{st.selection_ratio:.2%} (target {st.target_ratio:.2%})")
    t.add_row(
        "pending queue", f"{st.pending:,} awaiting a label (oldest {st.oldest_pending_s:.0f} s)"
    )
    t.add_row("labels", f"{st.joined:,} joined, {st.learned:,} learned   spend {st.spend:,.2f}")
    t.add_row("model version", str(st.model_version))
    alarms = ", ".join(f"{k}: {v}" for k, v in st.alarms.items()) or "none"
    t.add_row("drift alarms", Text.from_markup(f"{alarms}   ({drift_note})"))
    t.add_row(
        "control arm",
        f"online {_fmt_acc(st.online)}  vs production {_fmt_acc(st.production)}"
        f"  ({st.control_labels} control labels)",
    )
    t.add_row("annotators", _quality(st))
    for name, url in st.links.items():
        t.add_row(name, url)
    title = f"streamsift demo  {_clock(st.elapsed)} / {_clock(st.duration)}"
    subtitle = st.note or "Ctrl-C stops everything and still writes the report"
    return Panel(t, title=title, subtitle=subtitle, expand=False)


def _quality(st: LiveStatus) -> str:
    if not st.gold_answers:
        return "no gold answers yet"
    worst = sorted(st.gold_accuracy.items(), key=lambda kv: kv[1])[:1]
    low = f"; lowest gold accuracy {worst[0][0]} {worst[0][1]:.0%}" if worst else ""
    flagged = ", ".join(st.flagged) if st.flagged else "none"
    return f"{st.gold_answers} gold answers{low}; flagged: {flagged}"


def status_line(st: LiveStatus) -> str:
    """The same numbers on one line (output that is not a terminal)."""
    alarms = ",".join(f"{k}:{v}" for k, v in st.alarms.items()) or "0"
    return (
        f"[{st.elapsed:3.0f}s/{st.duration:.0f}s] events {st.events_per_s:,.0f}/s"
        f"  labels {st.labels_per_s:.1f}/s (cap {st.capacity_per_s:.1f})"
        f"  pending {st.pending}  joined {st.joined}  model v{st.model_version}"
        f"  drift alarms {alarms}  online acc {_fmt_acc(st.online)}"
        f"  flagged {','.join(st.flagged) or '-'}"
    )
