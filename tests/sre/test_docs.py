"""Tier 1: docs/operations.md covers every metric, dashboard and alert."""

from __future__ import annotations

from tests.sre.catalogue import OPERATIONS, block, current_block
from tests.sre.promql import alert_rules, load_dashboards, registry_metrics


def _text() -> str:
    return OPERATIONS.read_text(encoding="utf-8")


def test_metric_catalogue_is_the_generated_one() -> None:
    current = current_block(_text())
    assert current is not None, "docs/operations.md lost its metric-catalogue markers"
    assert current == block(), (
        "the metric catalogue differs from streamsift.metrics: run"
        " `.venv/bin/python -m tests.sre.catalogue --write`"
    )


def test_every_metric_is_listed_with_type_and_labels() -> None:
    catalogue = current_block(_text()) or ""
    for m in registry_metrics():
        [row] = [line for line in catalogue.splitlines() if f"`{m.exposed_name}`" in line]
        assert f"| {m.type} |" in row, m.exposed_name
        for label in m.labels:
            assert f"`{label}`" in row, (m.exposed_name, label)


def test_every_dashboard_is_described() -> None:
    text = _text()
    for d in load_dashboards().values():
        assert f"### {d['title']} (`{d['uid']}`)" in text


def test_every_alert_is_in_the_table_and_has_a_section() -> None:
    text = _text()
    for r in alert_rules():
        name = r["alert"]
        assert f"\n### {name}\n" in text, name
        assert f"| {name} | {r['labels']['severity']} |" in text, name
