"""Tier 1: deploy/prometheus — promtool on the config, the rules and their unit tests.

promtool comes from Debian's ``prometheus`` package (``make system-deps`` installs it);
when it is missing these tests fail and say how to get it, they never skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.sre.promql import (
    ALERTS,
    PROMETHEUS_CONFIG,
    REPO,
    RULE_TESTS,
    SCRAPE_SERIES,
    alert_rules,
    exported_series_names,
    selectors,
)

OPERATIONS = REPO / "docs" / "operations.md"
SEVERITIES = {"page", "warning"}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is missing: install Debian's prometheus package (`make system-deps`"
            " does; by hand: apt-get update && apt-get install -y prometheus)",
            pytrace=False,
        )
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)


def test_promtool_check_config(promtool: str) -> None:
    result = _run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules(promtool: str) -> None:
    result = _run(promtool, "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests(promtool: str) -> None:
    result = _run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def _rule_tests() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    assert [str(f) for f in doc["rule_files"]] == ["alerts.yml"]
    return [c for t in doc["tests"] for c in t.get("alert_rule_test", [])]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = _rule_tests()
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    alerts = {r["alert"] for r in alert_rules()}
    assert alerts - firing == set(), "alerts without a test where they fire"
    assert alerts - quiet == set(), "alerts without a test where they stay quiet"
    assert {c["alertname"] for c in cases} <= alerts, "tests of alerts that do not exist"


def test_every_alert_has_severity_and_runbook() -> None:
    headings = {
        m.group(1).lower()
        for m in re.finditer(r"^#{2,4} (\w+)\s*$", OPERATIONS.read_text(), re.MULTILINE)
    }
    rules = alert_rules()
    assert len(rules) >= 10
    for r in rules:
        name = r["alert"]
        assert r["labels"]["severity"] in SEVERITIES, name
        ann = r["annotations"]
        assert {"summary", "description", "runbook", "runbook_url"} <= set(ann), name
        assert len(ann["runbook"]) > 80, f"{name}: the runbook says what to do"
        assert ann["runbook_url"] == f"docs/operations.md#{name.lower()}", name
        assert name.lower() in headings, f"{name}: no section in docs/operations.md"


def test_the_issue_alerts_are_all_there() -> None:
    alerts = {r["alert"] for r in alert_rules()}
    assert {
        "StreamsiftDriftSustained",
        "StreamsiftPendingQueueNearLimit",
        "StreamsiftOldestPendingOverObjective",
        "StreamsiftLabellingCapacityExhausted",
        "StreamsiftDeadLetterRateHigh",
        "StreamsiftConsumerLagGrowing",
        "StreamsiftWorkerDown",
        "StreamsiftWorkerNotReady",
        "StreamsiftModelSnapshotStale",
    } <= alerts


def test_every_alert_metric_exists_in_metrics_py() -> None:
    series = exported_series_names()
    problems = []
    for r in alert_rules():
        for s in selectors(str(r["expr"])):
            if s.name not in series and s.name not in SCRAPE_SERIES:
                problems.append(f"{r['alert']}: {s.name}")
            info = series.get(s.name)
            if info is not None and info.type in ("counter", "histogram") and not s.range:
                problems.append(f"{r['alert']}: counter {s.name} without a range")
            if 'job="streamsift"' not in s.matchers.replace(" ", ""):
                problems.append(f'{r["alert"]}: {s.name} without job="streamsift"')
    assert not problems, "\n".join(problems)


def _threshold(alert: str) -> float:
    [rule] = [r for r in alert_rules() if r["alert"] == alert]
    m = re.search(r">\s*([0-9.e+]+)\s*$", str(rule["expr"]).strip())
    assert m, rule["expr"]
    return float(m.group(1))


def test_pending_alert_is_80_percent_of_max_pending_everywhere() -> None:
    from streamsift.config import Settings

    threshold = _threshold("StreamsiftPendingQueueNearLimit")
    limits = {"Settings default": Settings().max_pending}
    cm = yaml.safe_load((REPO / "deploy" / "k8s" / "configmap.yaml").read_text())
    limits["k8s ConfigMap"] = int(cm["data"]["STREAMSIFT_MAX_PENDING"])
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    limits["compose"] = int(compose["services"]["worker"]["environment"]["STREAMSIFT_MAX_PENDING"])
    for where, limit in limits.items():
        assert threshold == pytest.approx(0.8 * limit), where


def test_latency_objective_is_the_same_in_alert_and_dashboard() -> None:
    import json

    objective = _threshold("StreamsiftOldestPendingOverObjective")
    dash = json.loads((REPO / "grafana" / "dashboards" / "streamsift-labelling.json").read_text())
    [panel] = [p for p in dash["panels"] if p.get("title") == "Oldest pending item"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1] == {"color": "red", "value": objective}


def test_scrape_config_targets_the_worker_port_and_job() -> None:
    from streamsift.config import Settings

    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "streamsift"]
    assert job["metrics_path"] == "/metrics"
    [sd] = job["dns_sd_configs"]
    assert sd["port"] == Settings().web_port
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    assert set(sd["names"]) <= set(compose["services"])
    assert config["rule_files"] == ["alerts.yml"]
