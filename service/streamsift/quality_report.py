"""Annotator quality and agreement over a set of labels (``streamsift quality-report``).

Input is plain triples ``(item_id, annotator, label)`` plus the known answers of gold
items, so the same report runs on labels read back from Kafka, on a JSONL export, or
on a simulation.

Examples
--------
>>> labels = [("i1", "a", "x"), ("i1", "b", "x"), ("i1", "c", "y"),
...           ("i2", "a", "y"), ("i2", "b", "y"), ("i2", "c", "y"),
...           ("g1", "a", "x"), ("g1", "c", "y")]
>>> r = build_report(labels, gold={"g1": "x"})
>>> [(s.annotator, s.n_labels, s.gold_accuracy) for s in r.annotators]
[('a', 3, 1.0), ('b', 2, None), ('c', 3, 0.0)]
>>> round(r.fleiss.value, 3), r.overlapping_items
(0.25, 2)
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from streamsift.core.quality import (
    Agreement,
    DawidSkene,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)
from streamsift.core.types import Label

__all__ = ["AnnotatorRow", "QualityReport", "build_report", "plot_report", "render_markdown"]


@dataclass(frozen=True, slots=True)
class AnnotatorRow:
    """One annotator's figures in the report."""

    annotator: str
    n_labels: int
    n_gold: int
    gold_accuracy: float | None
    ds_accuracy: float | None
    flagged: bool


@dataclass(frozen=True)
class QualityReport:
    """Per-annotator quality and agreement statistics."""

    annotators: tuple[AnnotatorRow, ...]
    cohen: tuple[tuple[str, str, Agreement], ...]
    fleiss: Agreement
    krippendorff: Agreement
    items: int
    overlapping_items: int
    labels: int
    flag_below: float


def build_report(
    labels: Iterable[tuple[str, str, Label]],
    gold: Mapping[str, Label] | None = None,
    *,
    flag_below: float = 0.8,
    min_gold: int = 1,
) -> QualityReport:
    """Compute the report from ``(item_id, annotator, label)`` triples.

    Parameters
    ----------
    labels
        Every label given (gold answers included; repeated annotator answers on one
        item keep the first).
    gold
        Known answers of gold items, by item id.
    flag_below
        Accuracy (gold, else Dawid-Skene) under which an annotator is flagged.
    min_gold
        Gold answers needed before gold accuracy is trusted.
    """
    gold = dict(gold or {})
    per_item: dict[str, dict[str, Label]] = defaultdict(dict)
    n_labels: Counter[str] = Counter()
    for item, annotator, label in labels:
        if annotator not in per_item[item]:
            per_item[item][annotator] = label
            n_labels[annotator] += 1
    gold_hits: Counter[str] = Counter()
    gold_n: Counter[str] = Counter()
    for item, answers in per_item.items():
        if item in gold:
            for annotator, label in answers.items():
                gold_n[annotator] += 1
                gold_hits[annotator] += int(label == gold[item])
    overlapping = {
        item: answers
        for item, answers in per_item.items()
        if item not in gold and len(answers) >= 2
    }
    ds_acc: dict[str, float] = {}
    if len(overlapping) >= 2:
        fit = DawidSkene().fit(
            (item, annotator, label)
            for item, answers in overlapping.items()
            for annotator, label in answers.items()
        )
        ds_acc = dict(fit.accuracy)
    annotators = sorted(n_labels)
    rows = []
    for a in annotators:
        g = gold_hits[a] / gold_n[a] if gold_n[a] else None
        basis = g if g is not None and gold_n[a] >= min_gold else ds_acc.get(a)
        rows.append(
            AnnotatorRow(
                a,
                n_labels[a],
                gold_n[a],
                g,
                ds_acc.get(a),
                basis is not None and basis < flag_below,
            )
        )
    cohen = []
    for a, b in itertools.combinations(annotators, 2):
        shared = [ans for ans in overlapping.values() if a in ans and b in ans]
        if len(shared) >= 2:
            cohen.append((a, b, cohen_kappa([s[a] for s in shared], [s[b] for s in shared])))
    categories = sorted({lab for ans in overlapping.values() for lab in ans.values()}, key=repr)
    sizes = Counter(len(ans) for ans in overlapping.values())
    if sizes:
        k = sizes.most_common(1)[0][0]
        rows_f = [
            [list(ans.values()).count(c) for c in categories]
            for ans in overlapping.values()
            if len(ans) == k
        ]
        fleiss = fleiss_kappa(rows_f)
    else:
        fleiss = Agreement("fleiss_kappa", math.nan, math.nan, math.nan, 0)
    units = [[ans.get(a) for a in annotators] for ans in overlapping.values()]
    alpha = (
        krippendorff_alpha_nominal(units)
        if units
        else Agreement("krippendorff_alpha_nominal", math.nan, math.nan, math.nan, 0)
    )
    return QualityReport(
        annotators=tuple(rows),
        cohen=tuple(cohen),
        fleiss=fleiss,
        krippendorff=alpha,
        items=len(per_item),
        overlapping_items=len(overlapping),
        labels=sum(n_labels.values()),
        flag_below=flag_below,
    )


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def render_markdown(report: QualityReport, plot_name: str | None = None) -> str:
    """The report as markdown."""
    lines = [
        "# Label quality report",
        "",
        f"{report.labels} labels on {report.items} items; "
        f"{report.overlapping_items} items labelled by two or more annotators.",
        "",
        "## Annotators",
        "",
        "| annotator | labels | gold answers | gold accuracy | Dawid-Skene accuracy | flagged |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in report.annotators:
        lines.append(
            f"| {r.annotator} | {r.n_labels} | {r.n_gold} | {_fmt(r.gold_accuracy)} | "
            f"{_fmt(r.ds_accuracy)} | {'**yes**' if r.flagged else 'no'} |"
        )
    lines += [
        "",
        f"Flagged: accuracy below {report.flag_below:.2f} on gold items, or by Dawid-Skene "
        "where an annotator has no gold answers.",
        "",
        "## Agreement",
        "",
        f"- Fleiss' kappa: {_fmt(report.fleiss.value)} over {report.fleiss.n_items} items",
        f"- Krippendorff's alpha (nominal): {_fmt(report.krippendorff.value)} over "
        f"{report.krippendorff.n_items} items",
        "",
        "| pair | Cohen's kappa | shared items |",
        "|---|---:|---:|",
    ]
    lines += [f"| {a} / {b} | {_fmt(k.value)} | {k.n_items} |" for a, b, k in report.cohen]
    if plot_name:
        lines += ["", f"![per-annotator accuracy]({plot_name})"]
    return "\n".join(lines) + "\n"


def plot_report(report: QualityReport, path: Path) -> Path:
    """Bar chart of per-annotator accuracy (gold and Dawid-Skene), flagged in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.annotator for r in report.annotators]
    gold = [r.gold_accuracy if r.gold_accuracy is not None else 0.0 for r in report.annotators]
    ds = [r.ds_accuracy if r.ds_accuracy is not None else 0.0 for r in report.annotators]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(names) + 2), 4), dpi=110)
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], gold, width=0.4, label="gold accuracy")
    ax.bar([x + 0.2 for x in xs], ds, width=0.4, label="Dawid-Skene accuracy")
    ax.axhline(report.flag_below, color="red", linestyle="--", linewidth=1, label="flag threshold")
    ax.set_xticks(list(xs), names)
    for x, r in zip(xs, report.annotators, strict=True):
        if r.flagged:
            ax.get_xticklabels()[x].set_color("red")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("Per-annotator accuracy (flagged annotators in red)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
