"""The demo's watch loop: scrape ``/metrics`` every second and show it live.

In a terminal the view is a rich :class:`~rich.live.Live` panel redrawn twice a
second; otherwise (a log file, CI) a status line is printed every ten seconds. The
loop ends after the configured duration, or at once on Ctrl-C (through the
:class:`~streamsift.demo.guard.SignalGuard`), or when a child process died.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from rich.live import Live

from streamsift.demo.live import live_status, render, status_line

if TYPE_CHECKING:
    from streamsift.demo.runner import Demo

__all__ = ["watch"]


def watch(d: Demo) -> None:
    """Scrape every second for the run's duration; show the live view."""
    assert d.t0 is not None
    cfg = d.cfg
    live = cfg.live and d.console.is_terminal
    last_line = -1e9

    def status(note: str = "") -> Any:
        assert d.t0 is not None
        return live_status(d.rec, cfg, time.monotonic() - d.t0, d.links, note)

    with Live(render(status()), console=d.console, refresh_per_second=2,
              transient=False) if live else contextlib.nullcontext() as view:  # fmt: skip
        while True:
            elapsed = time.monotonic() - d.t0
            if elapsed >= cfg.duration_s:
                break
            d.sample()
            d.check_children()
            st = status()
            if view is not None:
                view.update(render(st))
            elif elapsed - last_line >= 10:
                d.say(status_line(st))
                last_line = elapsed
            d.guard.sleep(1.0 - (time.monotonic() - d.t0) % 1.0)
        d.sample()
        if d.rec.last is not None:
            d.rec.marks["traffic_end"] = d.rec.last.t
        if view is not None:
            view.update(render(status("traffic done: stopping")))
