"""``streamsift quality-report``: annotator quality and agreement, as markdown and a PNG.

Labels come from a JSONL file of LabelEvents (``--labels``) or from the labels topic
read from the beginning (``--kafka``); gold answers from a gold-set JSONL file
(``--gold``) and, with ``--kafka``, from the internal pending topic (gold items
carry their known answer there, never in the public request).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from streamsift.core.quality import GoldSet
from streamsift.core.types import Label
from streamsift.errors import ConfigurationError, SchemaError
from streamsift.quality_report import build_report, plot_report, render_markdown
from streamsift.schemas import LabelEvent, PendingItem, decode

__all__ = ["register"]


def _from_jsonl(path: Path) -> Iterator[tuple[str, str, Label]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ev = decode(LabelEvent, line.encode())
            except SchemaError as err:
                raise ConfigurationError(f"{path}:{n}: {err}") from None
            yield ev.event_id, ev.annotator_id, ev.label


def _read_topic(bootstrap: str, topic: str, timeout_ms: int = 5000) -> Iterator[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=timeout_ms,
        group_id=None,
    )
    try:
        for msg in consumer:
            if msg.value is not None:
                yield msg.value
    finally:
        consumer.close()


def _run(args: argparse.Namespace) -> int:
    labels: list[tuple[str, str, Label]] = []
    gold: dict[str, Label] = {}
    if args.labels:
        labels.extend(_from_jsonl(Path(args.labels)))
    if args.gold:
        gold.update({g.item_id: g.label for g in GoldSet.from_jsonl(args.gold).items})
    if args.kafka:
        from streamsift.config import load_settings

        settings = load_settings()
        for raw in _read_topic(settings.kafka_bootstrap_servers, settings.topic_labels):
            try:
                ev = decode(LabelEvent, raw)
            except SchemaError:
                continue  # the worker dead-letters these; the report counts only valid labels
            labels.append((ev.event_id, ev.annotator_id, ev.label))
        for raw in _read_topic(settings.kafka_bootstrap_servers, settings.topic_pending):
            try:
                item = decode(PendingItem, raw)
            except SchemaError:
                continue
            if item.gold_label is not None:
                gold[item.event_id] = item.gold_label
    if not labels:
        raise ConfigurationError("no labels: pass --labels FILE or --kafka")
    report = build_report(labels, gold, flag_below=args.flag_below)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_report(report, out / "annotators.png")
    md = out / "report.md"
    md.write_text(render_markdown(report, png.name), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "annotators": [
                        {
                            "annotator": r.annotator,
                            "n_labels": r.n_labels,
                            "gold_accuracy": r.gold_accuracy,
                            "ds_accuracy": r.ds_accuracy,
                            "flagged": r.flagged,
                        }
                        for r in report.annotators
                    ],
                    "fleiss_kappa": report.fleiss.value,
                    "krippendorff_alpha": report.krippendorff.value,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    Console(stderr=True).print(f"wrote {md} and {png}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``quality-report`` command."""
    p = sub.add_parser("quality-report", help="annotator quality and agreement report")
    p.add_argument("--labels", help="JSONL file of LabelEvents")
    p.add_argument("--gold", help="gold set JSONL (id, features, label)")
    p.add_argument("--kafka", action="store_true", help="read the labels and pending topics")
    p.add_argument("--flag-below", type=float, default=0.8, help="accuracy flag threshold")
    p.add_argument("--out", default="reports/quality", help="output folder")
    p.add_argument("--json", help="also write the figures as JSON here")
    p.set_defaults(func=_run)
