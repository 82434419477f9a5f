"""Ctrl-C and SIGTERM during a demo: a flag the orchestration polls, never an exception
thrown at an arbitrary point.

The first SIGINT/SIGTERM sets :attr:`SignalGuard.flag` (the demo stops what it
started and still writes its report); any later one sets :attr:`SignalGuard.hurry`
(shorter waits before SIGKILL). Every wait of the demo goes through
:meth:`SignalGuard.sleep` or polls the flag, so a stop request is seen within a
fraction of a second.

Examples
--------
>>> g = SignalGuard()
>>> g.flag.is_set(), g.hurry
(False, False)
>>> g._handler(2, None); g.flag.is_set(), g.hurry, g.signum
(True, False, 2)
>>> g._handler(15, None); g.hurry, g.signum
(True, 2)
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

__all__ = ["SignalGuard", "StopRequestedError"]


class StopRequestedError(Exception):
    """Ctrl-C or SIGTERM: stop everything now."""


class SignalGuard:
    """SIGINT/SIGTERM set :attr:`flag`; any later one sets :attr:`hurry` (main thread)."""

    def __init__(self) -> None:
        self.flag = threading.Event()
        self.hurry = False
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if self.flag.is_set():
            self.hurry = True
        self.signum = self.signum or signum
        self.flag.set()

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)

    def check(self) -> None:
        """Raise :class:`StopRequestedError` once a stop was asked."""
        if self.flag.is_set():
            raise StopRequestedError

    def sleep(self, seconds: float) -> None:
        """Sleep, waking (and raising :class:`StopRequestedError`) on a stop request."""
        self.flag.wait(max(seconds, 0.0))
        self.check()
