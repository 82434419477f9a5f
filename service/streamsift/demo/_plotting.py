"""Shared pieces of the demo's plots: headless pyplot, colours, marks, saving."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import DECISIONS, Figures
from streamsift.demo.series import Recording

REGION_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
ARM_COLORS = {"active": "#1f77b4", "control": "#2ca02c", "bootstrap": "#bcbd22", "extra": "#9467bd"}


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def regions(rec: Recording) -> list[str]:
    last = rec.last
    return sorted(last.by(DECISIONS, "region")) if last is not None else []


def color(regions: Sequence[str], region: str) -> str:
    idx = list(regions).index(region) if region in regions else len(regions)
    return REGION_COLORS[idx % len(REGION_COLORS)]


def drift_line(ax: Any, figs: Figures, cfg: DemoConfig) -> None:
    if figs.drift_started_at is not None:
        ax.axvline(figs.drift_started_at, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f" drift in {cfg.drift_region}",
            (figs.drift_started_at, 0.02),
            xycoords=("data", "axes fraction"),
            va="bottom",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )


def empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="grey")


def finish(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    pyplot().close(fig)
    return path
