"""Tier 1: the offline savings run on a tiny stream, and stopping process groups."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from streamsift.demo.offline import OfflineConfig, OfflineResult, main, run_offline
from streamsift.demo.procs import ManagedProcess

TINY = OfflineConfig(events=600, seeds=1, budget=0.1, budgets=(0.05, 0.2), min_labels=20)


def test_offline_run_is_seeded_and_complete() -> None:
    a, b = run_offline(TINY), run_offline(TINY)
    assert a.strategy_accuracy == b.strategy_accuracy
    assert a.random_curve == b.random_curve
    assert set(a.random_curve) == {0.05, 0.2, round(a.fraction, 4)}
    assert 0.0 < a.fraction <= 0.2
    assert 0.0 <= a.accuracy <= 1.0 and a.savings > 0
    assert set(a.curves) == {"streamsift", "random"}


def test_offline_main_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "offline.json"
    code = main(["--json", str(out), "--events", "400", "--seeds", "1", "--budget", "0.1",
                 "--min-labels", "20"])  # fmt: skip
    assert code == 0
    result = OfflineResult.from_json(json.loads(out.read_text(encoding="utf-8")))
    assert result.config["events"] == 400


SPAWNER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""

STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(600)
"""


def _wait_for_line(path: Path) -> str:
    """The child's first line (a bounded poll: up to 60 s on a very busy machine)."""
    for _ in range(1200):
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return text.strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} stayed empty")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0


def test_stop_takes_the_whole_process_group(tmp_path: Path) -> None:
    p = ManagedProcess("spawner", [sys.executable, "-c", SPAWNER], tmp_path / "spawner.log")
    p.start()
    grandchild = int(_wait_for_line(tmp_path / "spawner.log"))
    assert p.alive()
    assert p.stop(timeout=10.0) == -signal.SIGTERM
    assert not p.alive()
    assert _gone(grandchild)


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    p = ManagedProcess("stubborn", [sys.executable, "-c", STUBBORN], tmp_path / "stubborn.log")
    p.start()
    assert _wait_for_line(tmp_path / "stubborn.log") == "ready"
    assert p.stop(timeout=0.5) == -signal.SIGKILL


def test_stop_of_a_process_never_started_is_a_no_op(tmp_path: Path) -> None:
    p = ManagedProcess("idle", ["true"], tmp_path / "idle.log")
    assert p.stop() is None and not p.alive() and p.returncode is None
