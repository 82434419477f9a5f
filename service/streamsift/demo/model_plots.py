"""The model plots of a demo report: accuracy (live and offline) and savings (offline)."""

from __future__ import annotations

from pathlib import Path

from streamsift.demo._plotting import drift_line, empty, finish, pyplot
from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import ACCURACY, Figures
from streamsift.demo.offline import OfflineResult
from streamsift.demo.series import Recording

__all__ = ["plot_accuracy", "plot_savings"]


def plot_accuracy(
    rec: Recording, cfg: DemoConfig, figs: Figures, offline: OfflineResult | None, path: Path
) -> Path:
    """Live: control-arm accuracy of the online and production models. Offline: curves."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    drew = False
    for model, color in (("online", "#1f77b4"), ("production", "#7f7f7f")):
        est = rec.gauge(ACCURACY, model=model, bound="estimate")
        lo = dict(rec.gauge(ACCURACY, model=model, bound="lower"))
        hi = dict(rec.gauge(ACCURACY, model=model, bound="upper"))
        if not est:
            continue
        drew = True
        ts = [t for t, _ in est]
        left.plot(ts, [v for _, v in est], color=color, label=f"{model} model")
        left.fill_between(ts, [lo.get(t, v) for t, v in est], [hi.get(t, v) for t, v in est],
                          color=color, alpha=0.15)  # fmt: skip
    if not drew:
        empty(left, "no control-arm labels yet")
    version = rec.gauge("streamsift_model_version")
    if version:
        twin = left.twinx()
        twin.step(*zip(*version, strict=True), where="post", color="#ff7f0e", linewidth=0.8)
        twin.set_ylabel("online model version", color="#ff7f0e")
    drift_line(left, figs, cfg)
    left.set_ylim(0, 1)
    left.set_xlabel("seconds since traffic started")
    left.set_ylabel("accuracy on control-arm labels (95% CI)")
    left.set_title("Live: online vs production model, on control-arm labels")
    if left.get_legend_handles_labels()[0]:
        left.legend(loc="lower right", fontsize=8)
    left.grid(alpha=0.3)
    if offline is not None and offline.curves:
        n = int(offline.config.get("events", 0))
        for name, color in (("streamsift", "#1f77b4"), ("random", "#d62728")):
            ys = offline.curves.get(name)
            if ys:
                xs = [i * n / len(ys) for i in range(len(ys))]
                label = name if name == "streamsift" else "random sampling, same budget"
                right.plot(xs, ys, color=color, label=label)
        right.axvline(n * cfg.drift_fraction, color="black", linestyle="--", linewidth=1)
        right.set_xlabel("event (offline replay of the same generator)")
        right.set_ylabel("rolling accuracy (500 events)")
        if right.get_legend_handles_labels()[0]:
            right.legend(loc="lower right", fontsize=8)
        right.grid(alpha=0.3)
    else:
        empty(right, "offline simulation not available")
    right.set_title("Offline simulation: active selection vs random, same budget")
    return finish(fig, path)


def plot_savings(cfg: DemoConfig, figs: Figures, offline: OfflineResult | None, path: Path) -> Path:
    """Accuracy against labelling budget (offline), and labels/money at equal accuracy."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=110)
    if offline is None:
        for ax in (left, right):
            empty(ax, "offline simulation not available: no savings figure")
        return finish(fig, path)
    curve = offline.random_curve
    budgets = sorted(curve)
    means = [sum(curve[b]) / len(curve[b]) for b in budgets]
    left.plot(budgets, means, "o-", color="#d62728", label="random sampling (mean of seeds)")
    left.fill_between(budgets, [min(curve[b]) for b in budgets], [max(curve[b]) for b in budgets],
                      color="#d62728", alpha=0.15)  # fmt: skip
    left.scatter(offline.strategy_fraction, offline.strategy_accuracy, color="#1f77b4", s=12)
    left.plot([offline.fraction], [offline.accuracy], "*", color="#1f77b4", markersize=15,
              label="streamsift (mean of seeds)")  # fmt: skip
    left.axhline(offline.accuracy, color="#1f77b4", linestyle=":", linewidth=1)
    left.axhline(offline.full_accuracy, color="grey", linestyle="--", linewidth=1,
                 label="every label")  # fmt: skip
    left.set_xscale("log")
    left.set_xlabel("share of events labelled")
    left.set_ylabel("prequential accuracy")
    left.set_title(f"Offline, same generator: savings {offline.savings:.2f}x vs random")
    if left.get_legend_handles_labels()[0]:
        left.legend(loc="lower right", fontsize=8)
    left.grid(alpha=0.3, which="both")
    per = 1_000_000
    need = offline.random_fraction_needed
    random_fraction = need if need is not None else max(budgets)
    labels = [offline.fraction * per, random_fraction * per]
    bars = right.bar(["streamsift", "random, same accuracy"], labels,
                     color=["#1f77b4", "#d62728"])  # fmt: skip
    for bar, n in zip(bars, labels, strict=True):
        right.annotate(
            f"{n:,.0f} labels\n{n * cfg.cost_per_label:,.0f} at {cfg.cost_per_label:g}/label",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    saved = (labels[1] - labels[0]) * cfg.cost_per_label
    word = "saved" if saved >= 0 else "extra"
    qualifier = "" if need is not None else " (at least: random never reached it)"
    right.set_title(f"Per million events: {abs(saved):,.0f} {word}{qualifier}")
    right.set_ylabel("labels per million events")
    right.set_ylim(0, max(labels) * 1.3 or 1)
    return finish(fig, path)
