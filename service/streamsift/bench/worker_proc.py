"""A ``streamsift worker`` subprocess on unique topics, observed from outside.

The broker benchmark runs the real service, not a copy of its hot path: it starts
``python -m streamsift.cli worker`` with every topic name, the app id (consumer
group) and the HTTP port made unique for the run, reads its progress from
``/metrics`` (``streamsift_scorer_events_consumed_total``) and its resident memory
from ``/proc/<pid>/status`` (or psutil when installed), and stops it with SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from streamsift.config import TOPIC_FIELDS

__all__ = ["TOPIC_FIELDS", "WorkerProcess", "cpu_seconds", "free_port", "rss_bytes", "topic_env"]


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfaN]+)", re.M)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def topic_env(run_id: str) -> dict[str, str]:
    """``STREAMSIFT_TOPIC_*`` variables naming fresh topics for run ``run_id``."""
    return {
        f"STREAMSIFT_{name.upper()}": f"bench-{run_id}.{name.removeprefix('topic_')}"
        for name in TOPIC_FIELDS
    }


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes."""
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        pass
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float | None:
    """CPU time of process ``pid`` so far (user + system, all threads), in seconds;
    ``None`` where ``/proc`` is not available."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return None
    # fields after the command: state is [0], utime [11], stime [12] (in clock ticks)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_metrics(text: str) -> dict[str, float]:
    """Sum every sample of each metric name in a Prometheus text exposition."""
    out: dict[str, float] = {}
    for name, _, value in _SAMPLE.findall(text):
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return out


class WorkerProcess:
    """One ``streamsift worker`` child process.

    Parameters
    ----------
    env
        Extra environment (``STREAMSIFT_*``) on top of the current one.
    log_path
        File receiving the worker's stdout and stderr.
    """

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            **env,
            "STREAMSIFT_WEB_PORT": str(self.port),
            "STREAMSIFT_WEB_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        """The child's pid."""
        if self._proc is None:
            raise RuntimeError("worker not started")
        return self._proc.pid

    def start(self) -> None:
        """Start the child (returns at once)."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.started_at = time.monotonic()
        cmd = [sys.executable, "-m", "streamsift.cli", "worker", "--loglevel", "warning"]
        self._proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=self._log)

    def alive(self) -> bool:
        """Whether the child is still running."""
        return self._proc is not None and self._proc.poll() is None

    def metrics(self, timeout: float = 2.0) -> dict[str, float] | None:
        """The worker's metrics, or ``None`` while its HTTP server does not answer."""
        try:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return parse_metrics(resp.read().decode("utf-8", "replace"))
        except OSError:
            return None

    def consumed(self) -> int | None:
        """Inference events the worker has consumed so far."""
        m = self.metrics()
        if m is None:
            return None
        return int(m.get("streamsift_scorer_events_consumed_total", 0.0))

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the worker's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit code."""
        proc, self._proc = self._proc, None
        code: int | None = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            code = proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> WorkerProcess:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_until(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
