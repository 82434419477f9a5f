"""Tier 1: the Grafana dashboards and provisioning files, checked without Grafana.

These are the rules of Grafana's dashboard-linter (which cannot be installed here, see
docs/operations.md "Dashboard lint") plus the project's own: a templated Prometheus
datasource on every panel and target, ``job``/``instance`` variables and matchers on
every selector, ``$__rate_interval`` in every range, counters only inside range
functions, a title, description and unit on every panel, a non-overlapping layout,
metric names and label names that ``streamsift.metrics`` really exports, and PromQL that
promtool parses.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sre.promql import (
    DASHBOARDS,
    REPO,
    SCRAPE_SERIES,
    dashboard_queries,
    exported_series_names,
    label_values,
    load_dashboards,
    panels,
    ranges,
    selectors,
    substitute,
    variable_query,
    variables_used,
)

EXPECTED = {
    "streamsift-drift.json": {"region", "topk"},
    "streamsift-labelling.json": {"region"},
    "streamsift-effectiveness.json": {"model"},
    "streamsift-service.json": set(),
}
DS_REF = {"type": "prometheus", "uid": "${datasource}"}
#: Grafana's own variables a query may use.
BUILTIN_VARS = {"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s"}
#: Units the panels may use (Grafana unit ids).
UNITS = {"none", "short", "percentunit", "s", "ops", "reqps", "bytes", "dtdurations"}
#: Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance", "service"}
DASHBOARD_NAMES = sorted(EXPECTED)


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return load_dashboards()


def test_the_expected_dashboards_exist(dashboards: dict[str, dict[str, Any]]) -> None:
    assert sorted(dashboards) == DASHBOARD_NAMES


def test_dashboards_are_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "grafana" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_dashboard_header(name: str, dashboards: dict[str, dict[str, Any]]) -> None:
    d = dashboards[name]
    assert d["schemaVersion"] >= 36  # Grafana 9.x/10+ schema
    assert d["uid"] == Path(name).stem and len(d["uid"]) <= 40
    assert d["title"].startswith("streamsift / ")
    assert d["description"]
    assert "streamsift" in d["tags"]
    assert d.get("id") is None  # provisioned: Grafana assigns ids
    assert d["time"]["from"].startswith("now-")


def test_uids_and_titles_are_unique(dashboards: dict[str, dict[str, Any]]) -> None:
    for key in ("uid", "title"):
        values = [d[key] for d in dashboards.values()]
        assert len(values) == len(set(values)), key


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_template_variables(name: str, dashboards: dict[str, dict[str, Any]]) -> None:
    variables = {v["name"]: v for v in dashboards[name]["templating"]["list"]}
    assert set(variables) == {"datasource", "job", "instance"} | EXPECTED[name]
    ds = variables["datasource"]
    assert (ds["type"], ds["query"]) == ("datasource", "prometheus")
    series = exported_series_names()
    for v in variables.values():
        if v["type"] != "query":
            continue
        assert v["datasource"] == DS_REF, v["name"]
        assert v["refresh"] == 2, f"{v['name']}: refresh on time range change"
        assert v["multi"] and v["includeAll"] and v["allValue"] == ".*", v["name"]
        expr, label = label_values(variable_query(v))
        for s in selectors(expr):
            assert s.name in series, f"{v['name']}: {s.name} is not exported"
            assert label in set(series[s.name].labels) | TARGET_LABELS, (v["name"], label)
    # Variables are defined before they are used (Grafana resolves them in order).
    seen: set[str] = set()
    for v in dashboards[name]["templating"]["list"]:
        query = variable_query(v) if v["type"] == "query" else ""
        assert variables_used(query) <= seen, v["name"]
        seen.add(v["name"])


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_panels(name: str, dashboards: dict[str, dict[str, Any]]) -> None:
    d = dashboards[name]
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    defined = {v["name"] for v in d["templating"]["list"]} | BUILTIN_VARS
    for p in panels(d):
        if p["type"] == "row":
            continue
        where = f"{name} / {p.get('title')}"
        assert p.get("title") and p.get("description"), where
        assert p["datasource"] == DS_REF, where
        unit = p["fieldConfig"]["defaults"].get("unit")
        assert unit in UNITS, f"{where}: unit {unit!r}"
        targets = p.get("targets") or []
        assert targets, where
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), where
        for t in targets:
            assert t["datasource"] == DS_REF, where
            assert t["expr"].strip(), where
            assert variables_used(t["expr"]) <= defined, where
            assert "legendFormat" in t, where


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_layout_fits_and_does_not_overlap(name: str, dashboards: dict[str, dict[str, Any]]) -> None:
    taken: set[tuple[int, int]] = set()
    for p in dashboards[name]["panels"]:
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        cells = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & taken, f"{name}: {p['title']} overlaps another panel"
        taken |= cells


def _panel_queries() -> list[Any]:
    return [q for q in dashboard_queries() if q.kind == "panel"]


def test_every_selector_filters_job_and_instance() -> None:
    problems = []
    for q in _panel_queries():
        for s in selectors(q.expr):
            m = s.matchers.replace(" ", "")
            if 'job=~"$job"' not in m or 'instance=~"$instance"' not in m:
                problems.append(f"{q.where}: {s.name}{{{s.matchers}}}")
    assert not problems, "selectors without the job/instance matchers:\n" + "\n".join(problems)


def test_every_panel_range_is_the_rate_interval() -> None:
    problems = [
        f"{q.where}: [{r}]"
        for q in _panel_queries()
        for r in ranges(q.expr)
        if r != "$__rate_interval"
    ]
    assert not problems, "use [$__rate_interval] in panel queries:\n" + "\n".join(problems)


def test_counters_only_inside_range_functions() -> None:
    series = exported_series_names()
    problems = []
    for q in dashboard_queries():
        if q.kind == "variable":  # label_values(counter, label) lists series: fine
            continue
        for s in selectors(q.expr):
            info = series.get(s.name)
            if info is not None and info.type in ("counter", "histogram") and not s.range:
                problems.append(f"{q.where}: {s.name} (a {info.type}) without a range")
    assert not problems, "\n".join(problems)


def test_every_metric_and_label_exists_in_metrics_py() -> None:
    """Names parsed from every dashboard expression against streamsift.metrics' registry."""
    series = exported_series_names()
    matcher = re.compile(r'(\w+)\s*(?:=~|!~|!=|=)\s*"')
    problems = []
    names = set()
    for q in dashboard_queries():
        for s in selectors(q.expr):
            names.add(s.name)
            if s.name in SCRAPE_SERIES:
                continue
            if s.name not in series:
                problems.append(f"{q.where}: {s.name} is not a metric of streamsift.metrics")
                continue
            labels = set(series[s.name].labels) | TARGET_LABELS
            if s.name.endswith("_bucket"):
                labels.add("le")
            for label in matcher.findall(s.matchers):
                if label not in labels:
                    problems.append(f"{q.where}: {s.name} has no label {label}")
    assert not problems, "\n".join(problems)
    assert len(names) >= 30  # the extraction found the selectors


def test_promtool_parses_every_dashboard_expression(tmp_path: Path) -> None:
    """Each expression (variables substituted) as a recording rule: promtool parses it."""
    promtool = shutil.which("promtool")
    assert promtool, (
        "promtool is missing: install Debian's prometheus package (`make system-deps`,"
        " or apt-get install -y prometheus)"
    )
    values = {
        "job": ".*",
        "instance": ".*",
        "region": ".*",
        "model": ".*",
        "topk": "5",
        "__rate_interval": "1m",
        "__interval": "1m",
        "__range": "1h",
    }
    rules = [
        {"record": f"dashboard:expr_{i}", "expr": substitute(q.expr, values)}
        for i, q in enumerate(dashboard_queries())
    ]
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_points_at_the_dashboards() -> None:
    prov = REPO / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yaml").read_text())
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"]
    # The default of each dashboard's datasource variable is this datasource.
    for d in load_dashboards().values():
        var = next(v for v in d["templating"]["list"] if v["name"] == "datasource")
        assert var["current"]["value"] == source["uid"]
    providers = yaml.safe_load((prov / "dashboards" / "streamsift.yaml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    dash_dir = (REPO / "deploy").joinpath("../grafana/dashboards").resolve()
    assert dash_dir == DASHBOARDS.resolve()
    assert f"../grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
