"""The end of a demo run: stop everything in order, then write the report.

Split from :mod:`streamsift.demo.runner` (which starts and watches): every step
here is bounded, skips what was never started, and keeps going when one step
fails, so that nothing the demo started is left behind and a report is written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from streamsift.demo.figures import compute_figures
from streamsift.demo.offline import OfflineResult
from streamsift.demo.plots import write_plots
from streamsift.demo.report import write_report
from streamsift.demo.topics import delete_run_topics, read_json_topic

if TYPE_CHECKING:
    from streamsift.demo.runner import Demo

__all__ = ["finish_run", "stop_all"]

#: Longest wait for the offline simulation once the live part is over.
OFFLINE_WAIT_S = 600.0


def _wait(d: Demo, normal: float) -> float:
    return 3.0 if d.guard.hurry else normal


def _drain(d: Demo) -> None:
    """A few more scrapes while labels already given reach the worker."""
    worker = d.procs.get("worker")
    if d.info.interrupted or d.info.errors or worker is None or not worker.alive():
        return
    end = time.monotonic() + min(6.0, max(2.0, 2 * d.cfg.label_delay_s))
    while time.monotonic() < end and not d.guard.flag.is_set():
        d.sample()
        d.guard.flag.wait(1.0)


def stop_all(d: Demo) -> None:
    """Producer, label-sim, worker, Prometheus, the run's topics, the broker."""
    codes = d.info.exit_codes
    if "producer" in d.procs:
        codes["producer"] = d.procs["producer"].stop(_wait(d, 20.0))
    _drain(d)
    if "label-sim" in d.procs:
        codes["label-sim"] = d.procs["label-sim"].stop(_wait(d, 20.0))
    worker = d.procs.get("worker")
    if worker is not None:
        if worker.alive():
            d.sample()  # the last scrape, with every label that was joined
        codes["worker"] = worker.stop(_wait(d, 60.0))
    if d.prom is not None:
        codes["prometheus"] = d.prom.stop()
    if d.bootstrap and "worker" in d.procs and not d.guard.hurry:
        settings = d.settings()
        try:
            d.info.drift_events = read_json_topic(settings, settings.topic_drift_events)
            if d.cfg.bootstrap and not d.cfg.keep_topics:
                deleted = delete_run_topics(settings, d.run_id)
                d.say(f"kafka: deleted the run's {len(deleted)} topics ({d.run_id}.*)")
        except Exception as exc:  # the broker may be gone: the report says so
            d.info.errors.append(f"could not read or delete the run's topics: {exc!r}")
    if d.broker is not None and d.broker.owned:
        d.say("kafka: stopping the local broker (deploy/kafka/stop.sh)")
        outcome = d.broker.stop()
        if outcome != "stopped":
            d.info.errors.append(f"broker: {outcome}")
    if d.offline is not None and (d.info.interrupted or d.guard.flag.is_set()):
        d.offline.stop(_wait(d, 5.0))
        d.info.offline_status = "was stopped by the interruption"


def _collect_offline(d: Demo) -> OfflineResult | None:
    proc = d.offline
    if proc is None:
        return None
    started = time.monotonic()
    last_note = 0.0
    while proc.alive():
        waited = time.monotonic() - started
        if d.guard.flag.is_set() or waited > OFFLINE_WAIT_S:
            proc.stop(5.0)
            d.info.offline_status = (
                "was stopped by the interruption"
                if d.guard.flag.is_set()
                else f"did not finish within {OFFLINE_WAIT_S:.0f} s"
            )
            break
        if waited - last_note >= 10.0:
            d.say(f"offline savings simulation still running ({waited:.0f} s); Ctrl-C skips it")
            last_note = waited
        proc.wait(1.0)
    d.info.timings["offline wait"] = time.monotonic() - started
    code = proc.stop(1.0)
    d.info.exit_codes["offline"] = code
    path = d.logs / "offline.json"
    if code != 0 or not path.is_file():
        d.info.offline_status = d.info.offline_status or f"failed (exit {code}; logs/offline.log)"
        return None
    try:
        result = OfflineResult.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        d.info.offline_status = f"wrote an unreadable result ({exc!r})"
        return None
    d.info.offline_status = f"finished in {result.seconds:.0f} s"
    return result


def finish_run(d: Demo) -> Path:
    """Wait for the offline result, then write plots and report.md; its path."""
    offline = _collect_offline(d)
    summary = d.logs / "label-sim-summary.json"
    if summary.is_file():
        try:
            d.info.label_sim = json.loads(summary.read_text(encoding="utf-8"))
        except ValueError:
            d.info.label_sim = None
    figs = compute_figures(d.rec, d.cfg)
    started = time.monotonic()
    plots: list[str] = []
    try:
        plots = list(write_plots(d.rec, d.cfg, figs, offline, d.folder))
    except Exception as exc:  # a plotting failure must not lose the report
        d.info.errors.append(f"plotting failed: {exc!r}")
    d.info.timings["plots"] = time.monotonic() - started
    d.info.timings["total"] = time.monotonic() - d.started
    report = write_report(d.folder, d.cfg, d.rec, figs, d.info, offline, plots)
    return report
