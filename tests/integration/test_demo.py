"""Tier 3: ``streamsift demo`` end to end on a real broker, and interrupted with Ctrl-C.

The demo runs as a subprocess against the ``kafka_bootstrap`` broker (so it starts
no broker of its own) with a small offline savings simulation. Checks: exit code,
the report and every plot exist, the report's figures are non-trivial (label
requests emitted, labels joined, model version advanced), the run's topics are
deleted (an existing cluster), and no process of the run is left behind. A second
run gets SIGINT once its traffic flows: it must stop everything, exit 130 and still
write a report saying it was interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from streamsift.demo.plots import PLOTS

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]

PNG = b"\x89PNG\r\n\x1a\n"


def _demo_argv(bootstrap: str, out: Path, minutes: float) -> list[str]:
    return [
        sys.executable, "-m", "streamsift.cli", "demo", "--minutes", str(minutes),
        "--out", str(out), "--bootstrap", bootstrap, "--no-live",
        "--sim-events", "3000", "--sim-seeds", "1",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSIFT_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _processes_of_run(run_id: str) -> list[int]:
    """Pids of live processes whose environment names the run's app id."""
    needle = f"STREAMSIFT_APP_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _report(out: Path) -> tuple[Path, dict[str, Any]]:
    folders = sorted(out.glob("demo-*"))
    assert len(folders) == 1, folders
    doc = json.loads((folders[0] / "figures.json").read_text(encoding="utf-8"))
    return folders[0], doc


def test_demo_end_to_end_writes_a_report_with_non_trivial_figures(
    kafka_bootstrap: str, kafka_admin: Any, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    result = subprocess.run(
        _demo_argv(kafka_bootstrap, out, 0.5),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    folder, doc = _report(out)
    text = (folder / "report.md").read_text(encoding="utf-8")
    for name in PLOTS:
        assert (folder / name).read_bytes()[:8] == PNG, (name, output)
        assert f"![{name}]({name})" in text
    live, run = doc["live"], doc["run"]
    assert live["requests_total"] > 0, output
    assert live["joined_total"] > 0, output
    assert live["model_version_last"] > live["model_version_first"], output
    assert f"| label requests emitted | {live['requests_total']:,} (" in text
    assert (
        f"| model version | {live['model_version_first']} → {live['model_version_last']} |" in text
    )
    assert doc["offline"] is not None and doc["offline"]["savings"] > 0, output
    assert run["errors"] == [] and not run["interrupted"], output
    assert run["exit_codes"]["worker"] == 0, (run["exit_codes"], output)
    assert (folder / "logs" / "worker.log").is_file()
    assert f"report: {folder / 'report.md'}" in result.stdout.replace("\n", "")
    # An existing cluster keeps nothing of the run; no process of the run survives.
    left = [t for t in kafka_admin.list_topics() if str(t).startswith(run["run_id"])]
    assert left == []
    assert _processes_of_run(run["run_id"]) == []


def test_ctrl_c_stops_everything_and_still_writes_the_report(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    log = tmp_path / "demo.out"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            _demo_argv(kafka_bootstrap, out, 5.0),
            env=_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while "events " not in log.read_text(errors="replace").split("worker: ready")[-1]:
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert code == 130, output
    folder, doc = _report(out)
    text = (folder / "report.md").read_text(encoding="utf-8")
    assert "**Interrupted (Ctrl-C)**" in text
    assert doc["run"]["interrupted"] is True
    for name in PLOTS:
        assert (folder / name).is_file(), name
    assert _processes_of_run(doc["run"]["run_id"]) == []
