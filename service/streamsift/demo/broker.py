"""The local Kafka broker of the demo: ``deploy/kafka/start.sh`` and ``stop.sh``.

The demo starts the single-node KRaft broker of ``deploy/kafka`` on a free port
(or the one asked for) and stops it with ``stop.sh`` at the end. If a broker of
ours already runs on that port (``make kafka-up``), it is used and left running:
the demo stops only what it started. After stopping its own broker it keeps the
broker log in the report's ``logs/`` and removes the port's data and config files.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from streamsift.demo.procs import ManagedProcess

__all__ = ["BrokerError", "LocalBroker", "free_port", "repo_root"]


class BrokerError(RuntimeError):
    """The local broker could not be started."""


def repo_root() -> Path:
    """The checkout holding ``deploy/kafka`` (the package is installed editable)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "kafka" / "start.sh").is_file():
            return parent
    return Path.cwd()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalBroker:
    """One broker of ``deploy/kafka`` on 127.0.0.1:``port``.

    Parameters
    ----------
    port
        Client port.
    logs
        Folder for the scripts' output and, at the end, the broker log.
    root
        Repository root (default: found from this file).
    """

    def __init__(self, port: int, logs: Path, root: Path | None = None) -> None:
        self.port = port
        self.logs = logs
        self.root = root or repo_root()
        self.scripts = self.root / "deploy" / "kafka"
        self.state = Path(os.environ.get("KAFKA_STATE_DIR", self.root / ".kafka"))
        self.env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CHECK_PYTHON": sys.executable}
        self.owned = False  # True once this demo started the broker
        self.seconds = 0.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state / f"kafka-{self.port}.pid"

    def running_elsewhere(self) -> bool:
        """Whether a broker of ours, not started by this demo, runs on the port."""
        try:
            pid = int("".join(c for c in self.pid_file.read_text() if c.isdigit()))
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError):
            return False
        return b"kafka.Kafka" in cmdline and f"server-{self.port}.properties".encode() in cmdline

    def start(self, should_stop: Callable[[], bool], timeout: float = 900.0) -> str:
        """Run ``start.sh`` (jars, format, start, wait); the bootstrap address.

        Returns early (raising :class:`InterruptedError`) when ``should_stop()``
        becomes true; whatever ``start.sh`` already launched is then stopped.
        """
        if self.running_elsewhere():
            return self.bootstrap
        started = time.monotonic()
        self.owned = True  # from here on, stop() must run stop.sh
        for attempt in (1, 2):
            code, tail = self._run_start(should_stop, started + timeout)
            if code == 0:
                self.seconds = time.monotonic() - started
                return self.bootstrap
            # start.sh stops what it started when it fails; one retry covers a transient
            # failure (a port race, a rare formatting error) before giving up.
            if attempt == 1:
                with (self.logs / "kafka-start.log").open("a") as log:
                    log.write("--- start.sh failed: retrying once ---\n")
        errors = [ln for ln in tail.splitlines() if "error" in ln.lower()]
        reason = errors[-1] if errors else f"exit {code}"
        raise BrokerError(f"deploy/kafka/start.sh failed twice ({reason}):\n{tail}")

    def _run_start(self, should_stop: Callable[[], bool], deadline: float) -> tuple[int, str]:
        proc = ManagedProcess(
            "kafka-start",
            ["bash", str(self.scripts / "start.sh")],
            self.logs / "kafka-start.log",
            env=self.env,
            cwd=self.root,
        )
        proc.start()
        while proc.alive():
            if should_stop():
                proc.stop(timeout=5.0)
                raise InterruptedError("interrupted while the broker was starting")
            if time.monotonic() > deadline:
                proc.stop(timeout=5.0)
                raise BrokerError("deploy/kafka/start.sh did not finish in time")
            proc.wait(0.25)
        code = proc.stop()
        return (code if code is not None else -1), proc.tail(40)

    def stop(self, timeout: float = 90.0) -> str:
        """Stop the broker this demo started (``stop.sh``) and tidy its files."""
        if not self.owned:
            return "broker not started by the demo: left running"
        proc = ManagedProcess(
            "kafka-stop",
            ["bash", str(self.scripts / "stop.sh")],
            self.logs / "kafka-stop.log",
            env=self.env,
            cwd=self.root,
        )
        proc.start()
        code = proc.wait(timeout)
        if code is None:
            proc.stop(timeout=5.0)
            return f"stop.sh did not finish in {timeout:.0f} s:\n{proc.tail(10)}"
        proc.stop()
        if code != 0:
            return f"stop.sh exited {code}:\n{proc.tail(10)}"
        self.owned = False
        log = self.state / f"kafka-{self.port}.log"
        if log.is_file():
            shutil.copyfile(log, self.logs / "kafka-broker.log")
        shutil.rmtree(self.state / f"data-{self.port}", ignore_errors=True)
        for name in ("server-{}.properties", "log4j2-{}.properties", "kafka-{}.log"):
            (self.state / name.format(self.port)).unlink(missing_ok=True)
        return "stopped"
