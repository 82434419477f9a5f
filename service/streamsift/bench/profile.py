"""Where the worker's time goes: py-spy on the benchmark's worker, summed by stage.

:class:`Profiler` attaches ``py-spy record`` (sampling, ``--nonblocking``: the
worker is not paused) to the ``streamsift worker`` subprocess of the broker
benchmark from 10 % to 90 % of the pre-loaded events, and :func:`summarise` sums
its raw (collapsed-stack) output into the stages of the scorer's path. Each sample
goes to the first stage, in :data:`STAGES` order, that one of its frames names, so
a stack inside ``Scorer.process`` lands in exactly one of its parts.

py-spy is optional (the ``profile`` extra); without it the benchmark runs and
reports that no profile was taken.

Examples
--------
>>> lines = [
...     "process 1:\\"w\\";run (a.py:1);Scorer.process (s.py:2);decode_core_event (c.py:3) 6",
...     "process 1:\\"w\\";run (a.py:1);EpollSelector.select (selectors.py:4) 2",
...     "process 1:\\"w\\";run (a.py:1);Fetcher.fetched_records (f.py:5) 2",
... ]
>>> summary = summarise(lines)
>>> summary.samples, [(s.name, round(s.share, 2)) for s in summary.stages if s.samples]
(10, [('decode', 0.6), ('kafka_fetch', 0.2), ('idle', 0.2)])
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STAGES", "ProfileSummary", "Profiler", "Stage", "find_py_spy", "summarise"]

#: (stage, description, frame-name prefixes), most specific first.
STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("decode", "decode + validate (`decode_core_event`)", ("decode_core_event ",)),
    (
        "online_model",
        "online model probabilities (`OnlineModel.predict_proba_many`)",
        ("OnlineModel.predict_proba_many ",),
    ),
    ("drift", "drift windows (`DriftMonitor.update_many`)", ("DriftMonitor.update_many ",)),
    (
        "sampler_batch",
        "rest of the batch's scoring (`Sampler.decisions`: scores, regions, drift inputs)",
        ("Sampler.decisions ",),
    ),
    (
        "selection",
        "selection per event (`Sampler._finishing`: guard, selector, the Decision)",
        # (a nonblocking sample's stack can miss its outer frames)
        ("Sampler._finishing ", "Sampler._finish ", "Sampler._select ", "Selector.decide "),
    ),
    ("decision_log", "decision log encoding (`encode_rows`)", ("encode_rows ",)),
    ("dedupe", "dedupe (`Dedupe.check` / `add`)", ("Dedupe.",)),
    (
        "scorer_rest",
        "rest of `Scorer.process` (label requests, metrics, the loop itself)",
        ("Scorer.process ",),
    ),
    (
        "kafka_fetch",
        "Kafka fetch (aiokafka fetcher, `getmany`, record conversion)",
        (
            "Fetcher.",
            "AIOKafkaConsumer.getmany ",
            "from_consumer_record ",
            "AIOKafkaConnection._read ",
            "_SelectorSocketTransport._read_ready ",
        ),
    ),
    (
        "kafka_produce",
        "Kafka produce (aiokafka sender, sends)",
        ("Sender.", "AIOKafkaProducer.send ", "_SelectorSocketTransport.write "),
    ),
    (
        "metrics_http",
        "`/metrics` scrapes",
        ("RequestHandler.", "MetricsHandler", "generate_latest "),
    ),
    ("idle", "idle (waiting in `select`)", ("EpollSelector.select ",)),
)


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage's samples and share of all samples."""

    name: str
    description: str
    samples: int
    share: float


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """Samples per stage (``other``: event loop, commits, timers, start-up)."""

    samples: int
    stages: tuple[Stage, ...]

    def busy_share(self, name: str) -> float:
        """A stage's share of the samples in which the worker was not idle."""
        busy = self.samples - sum(s.samples for s in self.stages if s.name == "idle")
        return next((s.samples for s in self.stages if s.name == name), 0) / busy if busy else 0.0


def summarise(lines: Iterable[str]) -> ProfileSummary:
    """Sum py-spy raw output (``frame;frame;... count`` per line) by :data:`STAGES`."""
    counts = dict.fromkeys([s[0] for s in STAGES] + ["native", "other"], 0)
    total = 0
    for line in lines:
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if not stack or not n.isdigit():
            continue
        k = int(n)
        total += k
        frames = stack.split(";")[1:]  # the first item names the process
        if not frames:
            counts["native"] += k
            continue
        for name, _, prefixes in STAGES:
            if any(f.startswith(prefixes) for f in frames):
                counts[name] += k
                break
        else:
            counts["other"] += k
    described = {s[0]: s[1] for s in STAGES}
    described["native"] = "no Python frame (a thread in native code)"
    described["other"] = "other (event loop, commits, timers, start-up)"
    return ProfileSummary(
        total,
        tuple(
            Stage(name, described[name], c, c / total if total else 0.0)
            for name, c in counts.items()
        ),
    )


def find_py_spy() -> str | None:
    """The py-spy executable: next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).with_name("py-spy")
    if here.exists():
        return str(here)
    return shutil.which("py-spy")


class Profiler:
    """``py-spy record`` of one process until :meth:`stop` (SIGINT: py-spy writes out).

    Parameters
    ----------
    pid
        The process to sample.
    out
        Where py-spy writes its raw collapsed stacks.
    rate
        Samples per second.
    """

    def __init__(self, pid: int, out: Path, rate: int = 200) -> None:
        exe = find_py_spy()
        if exe is None:
            raise FileNotFoundError("py-spy is not installed (pip install '.[profile]')")
        self.out = out
        self._log = out.with_suffix(".log").open("wb")
        cmd = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking"]
        cmd += ["--format", "raw", "--output", str(out)]
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 30.0) -> ProfileSummary | None:
        """Stop sampling; the summary, or ``None`` when py-spy wrote nothing."""
        try:
            if self._proc.poll() is None:
                os.kill(self._proc.pid, signal.SIGINT)
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        finally:
            self._log.close()
        if not self.out.exists():
            return None
        with self.out.open(encoding="utf-8", errors="replace") as f:
            summary = summarise(f)
        return summary if summary.samples else None
