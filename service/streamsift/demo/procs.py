"""Child processes of the demo: each in its own process group, logging to a file.

Every child is started with ``start_new_session=True``: a Ctrl-C in the terminal
reaches only the demo, which then stops its children in a chosen order. ``stop``
sends SIGTERM to the child's whole process group, waits a bounded time, then sends
SIGKILL; it only ever signals groups the demo created.

Examples
--------
>>> import sys, tempfile
>>> from pathlib import Path
>>> log = Path(tempfile.mkdtemp()) / "sleeper.log"
>>> p = ManagedProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], log)
>>> p.start()
>>> p.alive()
True
>>> p.stop(timeout=10.0) in (-15, -9)
True
>>> p.alive(), p.returncode in (-15, -9)
(False, True)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["ManagedProcess", "tail"]


def _live_members(pgid: int) -> list[int] | None:
    """Pids of the group's processes that are not zombies (``None``: no ``/proc``)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    live = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(entry.name))
    return live


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file ('' when unreadable)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class ManagedProcess:
    """One child process (and its process group).

    Parameters
    ----------
    name
        Short name, used in messages.
    argv
        Command line.
    log_path
        File receiving stdout and stderr.
    env
        Full environment of the child (default: the demo's own).
    cwd
        Working directory.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    @property
    def pid(self) -> int | None:
        """The child's pid (also its process group id), once started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """Exit code once it exited (negative: killed by that signal)."""
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> None:
        """Start the child (returns at once)."""
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        """Whether the child is running."""
        return self._proc is not None and self._proc.poll() is None

    def _signal_group(self, sig: int) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)

    def _group_alive(self) -> bool:
        """Whether a live (not zombie) process is left in the child's group."""
        if self._proc is None:
            return False
        try:
            os.killpg(self._proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        members = _live_members(self._proc.pid)
        return True if members is None else bool(members)

    def _wait_group(self, timeout: float) -> bool:
        """Poll until the group has no live member (True) or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while self._group_alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for the child to exit; its code or None."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 30.0, sig: int = signal.SIGTERM) -> int | None:
        """Signal the group (SIGTERM), wait ``timeout`` s, then SIGKILL; the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(sig)
            if self.wait(timeout) is None:
                self._signal_group(signal.SIGKILL)
                self.wait(10.0)
        # A grandchild signalled with its parent may still be exiting (on a loaded
        # machine it is scheduled late); one that ignores the signal outlives it.
        if not self._wait_group(min(timeout, 5.0)):
            self._signal_group(signal.SIGKILL)
            self._wait_group(10.0)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()
        return proc.poll()

    def tail(self, lines: int = 30) -> str:
        """The last lines of the child's log."""
        if self._log is not None:
            self._log.flush()
        return tail(self.log_path, lines)

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, rc={self.returncode})"
