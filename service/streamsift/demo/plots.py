"""The five PNG plots of a demo report (matplotlib, headless).

This module draws the three traffic plots (requests against capacity, drift
statistics, requests by region), all measured live; :mod:`streamsift.demo.model_plots`
draws the accuracy and savings plots. :data:`PLOTS` lists all five. An empty
recording still gives readable figures that say so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamsift.demo._plotting import (
    ARM_COLORS,
    color,
    drift_line,
    empty,
    finish,
    pyplot,
    regions,
)
from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import DECISIONS, DRIFT, EXTRA, REQUESTS, Figures
from streamsift.demo.model_plots import plot_accuracy, plot_savings
from streamsift.demo.offline import OfflineResult
from streamsift.demo.series import Recording

__all__ = ["PLOTS", "write_plots"]


def plot_selection(rec: Recording, cfg: DemoConfig, figs: Figures, path: Path) -> Path:
    """Label requests per second, by arm, against the capacity; pending queue below."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(9, 5.5), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
    )
    arms = [a for a in ("active", "control", "bootstrap") if figs.requests.get(a)]
    series = {f"requests: {a}": rec.rate(REQUESTS, window=5.0, min_window=1.0, arm=a) for a in arms}
    colors = [ARM_COLORS[a] for a in arms]
    if any(k != "gold" for k in figs.extra_labels):
        series["quality control: extra labels"] = rec.rate_of(
            lambda s: s.total(EXTRA) - s.total(EXTRA, kind="gold"), window=5.0, min_window=1.0
        )
        colors.append(ARM_COLORS["extra"])
    names = list(series)
    if names and series[names[0]]:
        ts = [t for t, _ in series[names[0]]]
        top.stackplot(
            ts,
            *[[v for _, v in series[n]] for n in names],
            labels=names,
            colors=colors,
            alpha=0.75,
        )
    else:
        empty(top, "no label requests recorded")
    top.axhline(cfg.capacity_per_s, color="red", linestyle="--", label="team capacity")
    target = rec.gauge("streamsift_sampler_target_label_rate_per_second")
    if target:
        top.plot(*zip(*target, strict=True), color="black", linewidth=1, label="worker target rate")
    drift_line(top, figs, cfg)
    top.set_ylabel("labels per second")
    peak = max((sum(v) for v in zip(*([y for _, y in series[n]] for n in names), strict=True)),
               default=0.0)  # fmt: skip
    limit = max(cfg.capacity_per_s * 1.6, min(peak * 1.1, cfg.capacity_per_s * 3))
    top.set_ylim(0, limit)
    if peak > limit:
        top.annotate(f"peak {peak:.0f}/s (clipped)", (0.01, 0.97), xycoords="axes fraction",
                     va="top", fontsize=8, color="#555555")  # fmt: skip
    top.set_title(
        f"Labels asked against capacity ({figs.labels_rate:.1f}/s on average,"
        f" capacity {cfg.capacity_per_s:.1f}/s)"
    )
    if top.get_legend_handles_labels()[0]:
        top.legend(loc="upper right", fontsize=8, ncol=2)
    top.grid(alpha=0.3)
    pending = rec.gauge("streamsift_join_pending_items")
    if pending:
        bottom.plot(*zip(*pending, strict=True), color="#7f7f7f")
    bottom.set_ylabel("pending")
    bottom.set_xlabel("seconds since traffic started")
    bottom.grid(alpha=0.3)
    return finish(fig, path)


def _max_by_region(rec: Recording, name: str) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for s in rec.samples:
        best: dict[str, float] = {}
        for (n, labels), v in s.values.items():
            region = dict(labels).get("region")
            if n == name and region is not None and v == v:
                best[region] = max(best.get(region, 0.0), v)
        for region, v in best.items():
            out.setdefault(region, []).append((s.t, v))
    return out


def plot_drift(rec: Recording, cfg: DemoConfig, figs: Figures, path: Path) -> Path:
    """Largest KS statistic and PSI per region over time, with the alarms marked."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), dpi=110, sharex=True)
    names = regions(rec)
    alarms = rec.increases(DRIFT, "region", drifted="true")
    for ax, name, label in (
        (top, "streamsift_drift_ks_statistic", "largest KS statistic"),
        (bottom, "streamsift_drift_psi", "largest PSI"),
    ):
        data = _max_by_region(rec, name)
        for region, pts in sorted(data.items()):
            ax.step(
                [t for t, _ in pts],
                [v for _, v in pts],
                where="post",
                color=color(names, region),
                linewidth=2.2 if region == cfg.drift_region else 1.0,
                label=region,
            )
            marks = [(t, v) for t, v in pts if (t, region) in alarms]
            if marks:
                ax.scatter(*zip(*marks, strict=True), marker="v", s=40, zorder=3,
                           color=color(names, region), edgecolor="black")  # fmt: skip
        if not data:
            empty(ax, "no drift window closed yet")
        drift_line(ax, figs, cfg)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    bottom.axhline(0.2, color="red", linestyle=":", linewidth=1, label="PSI alarm (0.2)")
    delay = figs.detection_delay_s
    detected = (
        f"first alarm in {cfg.drift_region} {delay:.0f} s after the drift"
        if delay is not None
        else f"no alarm in {cfg.drift_region}"
    )
    top.set_title(f"Drift statistics per region (triangles: alarms; {detected})")
    if top.get_legend_handles_labels()[0]:
        top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if bottom.get_legend_handles_labels()[0]:
        bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if rec.samples:
        bottom.set_xlim(0, rec.samples[-1].t)
    bottom.set_xlabel("seconds since traffic started")
    return finish(fig, path)


def plot_regions(rec: Recording, cfg: DemoConfig, figs: Figures, path: Path) -> Path:
    """Share of label requests by region over time (stacked), traffic share dashed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    names = regions(rec)
    shares = rec.shares(DECISIONS, "region", window=10.0, exclude_arm="none")
    if shares:
        ts = [t for t, _ in shares]
        ax.stackplot(
            ts,
            *[[sh.get(r, 0.0) for _, sh in shares] for r in names],
            labels=names,
            colors=[color(names, r) for r in names],
            alpha=0.8,
        )
        traffic = rec.shares(DECISIONS, "region", window=10.0)
        ax.plot(
            [t for t, _ in traffic],
            [sh.get(cfg.drift_region, 0.0) for _, sh in traffic],
            color="black",
            linestyle=":",
            label=f"{cfg.drift_region}: share of traffic",
        )
    else:
        empty(ax, "no label requests recorded")
    drift_line(ax, figs, cfg)
    before, after = figs.drift_share_before, figs.drift_share_after
    if before is not None and after is not None:
        ax.set_title(
            f"Share of label requests by region (10 s windows): {cfg.drift_region}"
            f" {before:.0%} before the drift, {after:.0%} after"
        )
    else:
        ax.set_title("Share of label requests by region (10 s windows)")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of requests")
    ax.set_xlabel("seconds since traffic started")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8, ncol=3)
    return finish(fig, path)


#: File name to a function (rec, cfg, figs, offline, path) drawing it.
PLOTS: dict[str, Callable[..., Path]] = {
    "selection_vs_capacity.png": lambda r, c, f, o, p: plot_selection(r, c, f, p),
    "drift.png": lambda r, c, f, o, p: plot_drift(r, c, f, p),
    "requests_by_region.png": lambda r, c, f, o, p: plot_regions(r, c, f, p),
    "accuracy.png": plot_accuracy,
    "savings.png": lambda r, c, f, o, p: plot_savings(c, f, o, p),
}


def write_plots(
    rec: Recording, cfg: DemoConfig, figs: Figures, offline: OfflineResult | None, folder: Path
) -> dict[str, Path]:
    """Draw every plot into ``folder``; file name to path."""
    return {name: fn(rec, cfg, figs, offline, folder / name) for name, fn in PLOTS.items()}
