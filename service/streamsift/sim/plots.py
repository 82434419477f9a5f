"""Learning-curve and savings plots (matplotlib, PNG, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamsift.sim.simulate import SimReport

__all__ = ["plot_budgets", "plot_curves", "plot_report"]


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    path: Path,
    *,
    title: str,
    drift_at: int | None = None,
    drift_marks: Sequence[int] = (),
) -> Path:
    """Rolling prequential accuracy of several runs over the same stream."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    colours = plt.get_cmap("tab20")
    for k, (name, ys) in enumerate(curves.items()):
        style = "--" if name in ("random", "every label") else "-"
        ax.plot(range(len(ys)), ys, style, label=name, linewidth=1.2, color=colours(k % 20))
    if drift_at is not None:
        ax.axvline(drift_at, color="black", linestyle="--", linewidth=1, label="drift")
    for m in drift_marks:
        ax.axvline(m, color="red", alpha=0.25, linewidth=0.8)
    ax.set_xlabel("event")
    ax.set_ylabel("rolling accuracy (500 events)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_budgets(
    random_curve: Mapping[float, float],
    series: Mapping[str, Sequence[tuple[float, float]]],
    path: Path,
    *,
    title: str,
    full: float | None = None,
) -> Path:
    """Accuracy against the share of events labelled: random's curve and each policy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    budgets = sorted(random_curve)
    ax.plot(budgets, [random_curve[b] for b in budgets], "ko-", label="random", linewidth=1.6)
    colours = plt.get_cmap("tab20")
    for k, (name, pts) in enumerate(series.items()):
        xs, ys = zip(*sorted(pts), strict=True)
        ax.plot(xs, ys, ".-", label=name, color=colours(k % 20), linewidth=1.0)
    if full is not None:
        ax.axhline(full, color="grey", linestyle=":", label="every label")
    ax.set_xscale("log")
    ax.set_xlabel("share of events labelled")
    ax.set_ylabel("prequential accuracy")
    ax.set_title(f"{title}: accuracy against labels")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_report(report: SimReport, path: Path) -> Path:
    """Two panels: learning curves at equal budget, and accuracy against labelling budget."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    r = report.strategy_run
    for name, ys in report.curves.items():
        label = {
            "strategy": f"{report.config.strategy} ({r.labelled_fraction:.1%} labelled)",
            "random": f"random ({report.config.budget:.0%})",
            "full": "every label",
        }.get(name, name)
        left.plot(range(len(ys)), ys, label=label, linewidth=1.3)
    if report.drift_at is not None:
        left.axvline(report.drift_at, color="black", linestyle="--", linewidth=1, label="drift")
    left.set_xlabel("event")
    left.set_ylabel("rolling accuracy (500 events)")
    left.set_title(f"{report.stream}: learning curves")
    left.grid(alpha=0.3)
    left.legend(loc="lower right", fontsize=8)

    budgets = sorted(report.random_curve)
    right.plot(budgets, [report.random_curve[b] for b in budgets], "o-", label="random sampling")
    lows = [report.random_spread[b][0] for b in budgets]
    highs = [report.random_spread[b][1] for b in budgets]
    right.fill_between(budgets, lows, highs, alpha=0.2)
    right.plot(
        [r.labelled_fraction], [r.accuracy], "r*", markersize=14, label=report.config.strategy
    )
    right.axhline(report.full_accuracy, color="grey", linestyle=":", label="every label")
    right.set_xscale("log")
    right.set_xlabel("share of events labelled")
    right.set_ylabel("prequential accuracy")
    right.set_title(f"savings vs random: {report.savings:.2f}x")
    right.grid(alpha=0.3, which="both")
    right.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
