"""Tier 3: every dashboard and alert query against a real Prometheus scraping a real worker.

Starts ``streamsift worker`` (unique app id and topics, free web port) on the test
broker, feeds it with ``streamsift produce-synthetic`` (with a drift in one region) and
answers its label requests with ``streamsift label-sim``; starts the ``prometheus``
server binary (Debian's package) on a free loopback port with deploy/prometheus's own
configuration and alert rules, pointed at the worker and scraping every second. Then,
through Prometheus's HTTP API:

* every rule of alerts.yml is loaded and evaluates without error, and every alert
  expression parses as a query;
* every template variable query (``label_values``) returns the label it lists;
* every panel query and annotation of every dashboard, with the template variables
  replaced by concrete values (once with "All", once with one concrete value each),
  parses and returns data. A dashboard that queries a metric the worker does not
  export fails here.

Every wait is bounded; every process started here is stopped when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sre.promql import (
    ALERTS,
    PROMETHEUS_CONFIG,
    Query,
    alert_queries,
    alert_rules,
    dashboard_queries,
    label_values,
    load_dashboards,
    substitute,
    variable_query,
)
from tests.stream.workers import gold_file

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

#: Topic settings of the service (environment variable suffixes).
TOPICS = (
    "INFERENCE_EVENTS",
    "LABEL_REQUESTS",
    "LABELS",
    "PENDING",
    "DRIFT_EVENTS",
    "MODEL_SNAPSHOTS",
    "DEAD_LETTERS",
    "DECISIONS",
    "TRAINING",
    "WORKER_RATES",
)
#: The region produce-synthetic drifts (one of its default regions).
DRIFT_REGION = "eu-west"
#: Grafana's built-in interval variables, as Grafana would set them for a 1 s scrape.
INTERVALS = {"__rate_interval": "20s", "__interval": "1m", "__range": "5m"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def _wait_for(
    check: Callable[[], bool], *, timeout: float, what: str, tail: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail()}")


class Proc:
    """A subprocess in its own process group, logging to a file; stopped by ``stop``."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 40) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return f"--- {self.name} (last {n} lines) ---\n" + "\n".join(lines[-n:])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the group, a bounded wait, then SIGKILL."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


class PromAPI:
    """The bits of Prometheus's HTTP API the test uses."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"{self.base}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = _http_get(url)
        try:
            doc: dict[str, Any] = json.loads(body)
        except ValueError:
            doc = {"status": "error", "error": body.decode(errors="replace")}
        doc["_http"] = status
        return doc

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def query_range(self, expr: str, seconds: float, step: float = 5.0) -> dict[str, Any]:
        """``expr`` over the last ``seconds``, as Grafana evaluates an annotation."""
        end = time.time()
        return self.get(
            "/api/v1/query_range",
            query=expr,
            start=f"{end - seconds:.3f}",
            end=f"{end:.3f}",
            step=f"{step:g}",
        )


def _service_env(bootstrap: str, prefix: str, web_port: int, gold: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSIFT_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the test's broker, not the runner's
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "STREAMSIFT_APP_ID": prefix,
            "STREAMSIFT_WORKER_ID": f"{prefix}-worker",
            "STREAMSIFT_WEB_HOST": "127.0.0.1",
            "STREAMSIFT_WEB_PORT": str(web_port),
            "STREAMSIFT_TOPIC_PARTITIONS": "2",
            "STREAMSIFT_TAKE_BATCH": "200",
            "STREAMSIFT_TAKE_WITHIN_SECONDS": "0.1",
            "STREAMSIFT_SESSION_TIMEOUT_SECONDS": "6",
            "STREAMSIFT_HEARTBEAT_INTERVAL_SECONDS": "1",
            "STREAMSIFT_RATE_PUBLISH_SECONDS": "1",
            "STREAMSIFT_EXPIRY_CHECK_SECONDS": "1",
            "STREAMSIFT_SNAPSHOT_HMAC_KEY": "prometheus-live-test",
            # Enough selections and labels in a minute to fill every panel:
            "STREAMSIFT_CAPACITY_PER_HOUR": "360000",
            "STREAMSIFT_CONTROL_SHARE": "0.2",
            "STREAMSIFT_MIN_LABELS": "30",
            "STREAMSIFT_DRIFT_WINDOW_EVENTS": "60",
            "STREAMSIFT_DRIFT_WINDOW_SECONDS": "2",
            "STREAMSIFT_SNAPSHOT_EVERY_LABELS": "20",
            "STREAMSIFT_SNAPSHOT_EVERY_SECONDS": "2",
            # Gold items in the request stream, so the annotator-quality panels fill.
            "STREAMSIFT_GOLD_PATH": str(gold),
            "STREAMSIFT_GOLD_RATE": "0.2",
        }
    )
    for name in TOPICS:
        env[f"STREAMSIFT_TOPIC_{name}"] = f"{prefix}.{name.lower().replace('_', '-')}"
    return env


def _prometheus_config(target: str) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with the streamsift job pointed at ``target``."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(
        {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    )
    config["rule_files"] = [str(ALERTS)]
    jobs = [j for j in config["scrape_configs"] if j["job_name"] == "streamsift"]
    assert len(jobs) == 1, "prometheus.yml must have exactly one job named streamsift"
    job = jobs[0]
    for key in [k for k in job if k.endswith("_sd_configs") or k == "static_configs"]:
        del job[key]
    job["static_configs"] = [{"targets": [target]}]
    config["scrape_configs"] = [job]
    return config


def _result_is_data(doc: Mapping[str, Any]) -> bool:
    data = doc.get("data") or {}
    result = data.get("result")
    if data.get("resultType") in ("scalar", "string"):
        return result is not None
    return bool(result)


@pytest.fixture
def live_stack(kafka_bootstrap: str, kafka_admin: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Worker + producer + label-sim + Prometheus; yields what the test needs."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail(
            "the prometheus server binary is missing: install Debian's prometheus package"
            " (`make system-deps` does; by hand: apt-get install -y prometheus)",
            pytrace=False,
        )
    prefix = f"promlive-{uuid.uuid4().hex[:10]}"
    web_port = _free_port()
    env = _service_env(kafka_bootstrap, prefix, web_port, gold_file(tmp_path / "gold.jsonl"))
    cli = [sys.executable, "-m", "streamsift.cli"]
    procs: list[Proc] = []
    try:
        worker = Proc("worker", [*cli, "worker", "--progress-seconds", "5"], env, tmp_path)
        procs.append(worker)

        def worker_ready() -> bool:
            if not worker.alive():
                raise AssertionError(f"the worker exited\n{worker.tail()}")
            status, _ = _http_get(f"http://127.0.0.1:{web_port}/readyz", timeout=3)
            return status == 200

        _wait_for(worker_ready, timeout=120, what="worker /readyz", tail=worker.tail)

        procs.append(
            Proc(
                "label-sim",
                [
                    *cli,
                    "label-sim",
                    "--delay-median",
                    "0.3",
                    "--delay-sigma",
                    "0.3",
                    "--noise",
                    "0.1",
                    "--no-progress",
                    "--quiet",
                ],
                env,
                tmp_path,
            )
        )
        procs.append(
            Proc(
                "producer",
                [
                    *cli,
                    "produce-synthetic",
                    "--rate",
                    "400",
                    "--count",
                    "0",
                    "--drift-after",
                    "5",
                    "--drift-regions",
                    DRIFT_REGION,
                    "--drift-shift",
                    "2",
                    "--no-progress",
                    "--quiet",
                ],
                env,
                tmp_path,
            )
        )

        prom_port = _free_port()
        config_path = tmp_path / "prometheus.yml"
        target = f"127.0.0.1:{web_port}"
        config_path.write_text(yaml.safe_dump(_prometheus_config(target)), encoding="utf-8")
        prom = Proc(
            "prometheus",
            [
                prometheus,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
            env,
            tmp_path,
        )
        procs.append(prom)
        api = PromAPI(prom_port)

        def tails() -> str:
            return "\n".join(p.tail() for p in procs)

        _wait_for(
            lambda: _http_get(f"{api.base}/-/ready", timeout=3)[0] == 200,
            timeout=60,
            what="prometheus /-/ready",
            tail=tails,
        )
        # A few scrapes with labels flowing: joined labels and drift windows on record.
        _wait_for(
            lambda: _result_is_data(
                api.query(
                    'count_over_time(up{job="streamsift"}[1m]) >= 8'
                    ' and on () sum(streamsift_join_labels_joined_total{job="streamsift"}) > 20'
                    ' and on () sum(streamsift_drift_events_total{job="streamsift"}) > 0'
                )
            ),
            timeout=120,
            what="8 scrapes of a worker that joined labels and closed drift windows",
            tail=tails,
        )
        yield {"api": api, "target": target, "tails": tails, "procs": procs}
    finally:
        for p in reversed(procs):  # Prometheus, producer, label-sim, then the worker
            p.stop()
        with contextlib.suppress(Exception):
            mine = [t for t in kafka_admin.list_topics() if str(t).startswith(prefix)]
            if mine:
                kafka_admin.delete_topics(mine)


def _variable_values(api: PromAPI, base: Mapping[str, str]) -> dict[str, list[str]]:
    """Values of every query variable of every dashboard (``label_values`` evaluated)."""
    out: dict[str, list[str]] = {}
    problems = []
    for name, dash in load_dashboards().items():
        for var in dash.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            expr, label = label_values(variable_query(var))
            doc = api.query(substitute(expr, base))
            values = sorted(
                {
                    r["metric"][label]
                    for r in doc.get("data", {}).get("result", [])
                    if label in r["metric"]
                }
            )
            if doc.get("status") != "success" or not values:
                problems.append(f"{name} variable {var['name']}: {expr} -> {doc}")
            out.setdefault(var["name"], [])
            out[var["name"]] = sorted(set(out[var["name"]]) | set(values))
    assert not problems, "template variable queries without values:\n" + "\n".join(problems)
    return out


#: How far back an annotation query looks (the whole run of the live stack).
ANNOTATION_RANGE_SECONDS = 900.0


def _evaluate(
    api: PromAPI, queries: list[Query], substitutions: list[dict[str, str]]
) -> tuple[list[str], list[Query]]:
    """(errors, empty): messages for queries Prometheus rejects, and queries with no data."""
    errors: list[str] = []
    empty: list[Query] = []
    for q in queries:
        for values in substitutions:
            expr = substitute(q.expr, values)
            # Grafana draws an annotation from a range query over the dashboard's time
            # range: a drift detected minutes ago is a mark, though an instant query
            # of its one-minute increase is empty by now.
            doc = (
                api.query_range(expr, ANNOTATION_RANGE_SECONDS)
                if q.kind == "annotation"
                else api.query(expr)
            )
            if doc.get("status") != "success":
                errors.append(f"{q.where}: {doc.get('error')}\n    {expr}")
            elif q.kind != "alert" and not _result_is_data(doc):
                empty.append(q)
                break
    return errors, empty


def test_every_dashboard_and_alert_query_runs_against_a_live_prometheus(
    live_stack: dict[str, Any],
) -> None:
    api: PromAPI = live_stack["api"]
    tails: Callable[[], str] = live_stack["tails"]

    # The worker is the one target, and it is up.
    targets = api.get("/api/v1/targets")["data"]["activeTargets"]
    assert [(t["labels"]["job"], t["labels"]["instance"], t["health"]) for t in targets] == [
        ("streamsift", live_stack["target"], "up")
    ], targets

    # Every rule of alerts.yml loaded, evaluated, no error.
    expected_rules = {r["alert"] for r in alert_rules()}
    deadline = time.monotonic() + 30
    while True:
        groups = api.get("/api/v1/rules")["data"]["groups"]
        loaded = {r["name"]: r for g in groups for r in g["rules"]}
        if all(r.get("health") == "ok" for r in loaded.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(loaded) == expected_rules
    bad = {
        n: (r.get("health"), r.get("lastError")) for n, r in loaded.items() if r["health"] != "ok"
    }
    assert not bad, f"alert rules with errors: {bad}"

    # Template variables: concrete values from the live data.
    all_values = {"job": ".*", "instance": ".*", "region": ".*", "model": ".*", "topk": "5"}
    base = {**INTERVALS, **all_values}
    values = _variable_values(api, base)
    assert values["job"] == ["streamsift"]
    assert values["instance"] == [live_stack["target"]]
    assert DRIFT_REGION in values["region"], values["region"]
    assert set(values["model"]) == {"production", "online"}
    concrete = {
        **INTERVALS,
        "job": "streamsift",
        "instance": live_stack["target"],
        "region": DRIFT_REGION,
        "model": "online",
        "topk": "5",
    }
    substitutions = [base, concrete]

    alerts = alert_queries()
    panel_queries = dashboard_queries()
    n_panels = sum(1 for d in load_dashboards().values() for p in d["panels"] if p.get("targets"))
    assert len(alerts) == len(expected_rules)

    # Every expression parses; every panel/annotation/variable query returns data. Data
    # keeps arriving (rates need two samples in their window), so a query that is empty on
    # a first pass is retried for a bounded time before it counts as a failure.
    errors, empty = _evaluate(api, alerts + panel_queries, substitutions)
    deadline = time.monotonic() + 45
    while empty and not errors and time.monotonic() < deadline:
        time.sleep(2)
        errors, empty = _evaluate(api, empty, substitutions)
    assert not errors, "queries Prometheus rejects:\n" + "\n".join(errors)
    if empty:
        lines = [f"{q.where}\n    {substitute(q.expr, v)}" for q in empty for v in substitutions]
        raise AssertionError(
            "dashboard queries that return no data (a metric the worker does not export, or a"
            " label value it never sets), shown with each substitution:\n"
            + "\n".join(lines)
            + "\n"
            + tails()
        )
    # What was checked (visible with -rA / -s).
    print(
        f"checked {len(panel_queries)} dashboard expressions ({n_panels} panels) and"
        f" {len(alerts)} alert expressions, each with {len(substitutions)} substitutions"
    )
