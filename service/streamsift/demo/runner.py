"""The demo's orchestration: start everything, watch it, stop everything, report.

Order: the Kafka broker (``deploy/kafka/start.sh`` on a free or given port, unless a
cluster is configured), ``streamsift worker`` (until ``/readyz``), a local Prometheus
(when installed), the offline savings simulation (low priority), ``streamsift
label-sim``, then ``streamsift produce-synthetic``; the traffic runs for
``minutes`` while ``/metrics`` is scraped every second and shown live. Then the
reverse: producer, label-sim, worker, Prometheus, the run's topics (on an existing
cluster), the broker. Each child has its own process group and is stopped with
SIGTERM, a bounded wait and SIGKILL.

Ctrl-C (or SIGTERM) at any point goes straight to the stop sequence; a second one
shortens the waits. The report is written in every case with what was recorded.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from shutil import which

from rich.console import Console

from streamsift.config import Settings, load_settings
from streamsift.demo.broker import BrokerError, LocalBroker, free_port, repo_root
from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import EVENTS
from streamsift.demo.gold import write_gold_set
from streamsift.demo.guard import SignalGuard, StopRequestedError
from streamsift.demo.offline import offline_argv
from streamsift.demo.procs import ManagedProcess
from streamsift.demo.prom import LocalPrometheus
from streamsift.demo.promtext import Sample, scrape
from streamsift.demo.report import RunInfo
from streamsift.demo.series import Recording
from streamsift.demo.session import finish_run, stop_all
from streamsift.demo.watch import watch

__all__ = ["Demo", "DemoError"]


class DemoError(RuntimeError):
    """A part of the demo failed (the message says which, with its log tail)."""


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return 0


def _report_folder(out: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out / f"demo-{stamp}"
    n = 2
    while folder.exists():
        folder = out / f"demo-{stamp}-{n}"
        n += 1
    return folder


class Demo:
    """One demo run (see the module docstring)."""

    def __init__(self, cfg: DemoConfig, console: Console, guard: SignalGuard) -> None:
        self.cfg = cfg
        self.console = console
        self.guard = guard
        self.run_id = f"demo-{uuid.uuid4().hex[:8]}"
        self.folder = _report_folder(cfg.out)
        self.logs = self.folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.gold_path = self.logs / "gold.jsonl"
        self.root = repo_root()
        self.rec = Recording()
        self.info = RunInfo(
            run_id=self.run_id, started=datetime.now().isoformat(timespec="seconds")
        )
        self.procs: dict[str, ManagedProcess] = {}
        self.broker: LocalBroker | None = None
        self.prom: LocalPrometheus | None = None
        self.offline: ManagedProcess | None = None
        self.web_port = free_port()
        self.bootstrap = ""
        self.links: dict[str, str] = {}
        self.t0: float | None = None
        self.started = time.monotonic()

    # --- helpers --------------------------------------------------------------------
    def say(self, msg: str) -> None:
        self.console.print(msg, highlight=False, soft_wrap=True)

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.info.timings[step] = time.monotonic() - started

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        env.update(self.cfg.worker_env(self.run_id))
        if self.cfg.gold_rate > 0:
            env["STREAMSIFT_GOLD_PATH"] = str(self.gold_path.resolve())
        env.update(
            {
                "STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "STREAMSIFT_WEB_HOST": "127.0.0.1",
                "STREAMSIFT_WEB_PORT": str(self.web_port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def settings(self) -> Settings:
        """The service settings of this run (topic names, connection)."""
        env = self._env()
        prefix = "STREAMSIFT_"
        fields = Settings.model_fields
        values = {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}
        return load_settings(**{k: v for k, v in values.items() if k in fields})

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> ManagedProcess:
        proc = ManagedProcess(
            name,
            [sys.executable, "-m", "streamsift.cli", *args],
            self.logs / f"{name}.log",
            env=env,
            cwd=self.root,
        )
        self.procs[name] = proc
        proc.start()
        return proc

    # --- start ----------------------------------------------------------------------
    def start_broker(self) -> None:
        if self.cfg.bootstrap:
            self.bootstrap = self.cfg.bootstrap
            self.info.broker = "existing cluster (KAFKA_BOOTSTRAP_SERVERS)"
            self.say(f"kafka: using {self.bootstrap}")
            return
        port = self.cfg.kafka_port or free_port()
        self.broker = LocalBroker(port, self.logs, self.root)
        if self.broker.running_elsewhere():
            self.info.broker = f"local broker on port {port}, already running (left running)"
        else:
            self.say(
                f"kafka: starting the local broker on 127.0.0.1:{port} (deploy/kafka/start.sh)"
            )
        with self.timed("broker start"):
            self.bootstrap = self.broker.start(self.guard.flag.is_set)
        if self.broker.owned:
            self.info.broker = f"local broker started by the demo on port {port}"
            self.say(f"kafka: ready in {self.broker.seconds:.0f} s")

    def start_worker(self) -> None:
        self.info.bootstrap = self.bootstrap
        if self.cfg.gold_rate > 0:
            write_gold_set(self.gold_path, self.cfg.seed, self.cfg.gold_items)
        self.say(f"worker: starting (app id {self.run_id}, topics {self.run_id}.*)")
        worker = self._spawn("worker", ["worker", "--progress-seconds", "10"], self._env())
        base = f"http://127.0.0.1:{self.web_port}"
        with self.timed("worker ready"):
            deadline = time.monotonic() + 180
            while _get(f"{base}/readyz") != 200:
                if not worker.alive():
                    raise DemoError(f"the worker exited ({worker.returncode}):\n{worker.tail()}")
                if time.monotonic() > deadline:
                    raise DemoError(f"the worker was not ready in 180 s:\n{worker.tail()}")
                self.guard.sleep(0.5)
        self.links["worker /metrics"] = f"{base}/metrics"
        self.say(f"worker: ready in {self.info.timings['worker ready']:.0f} s ({base}/metrics)")

    def start_prometheus(self) -> None:
        binary = which("prometheus")
        if not self.cfg.prometheus or binary is None:
            self.info.prometheus = "not started" + ("" if binary else " (binary not installed)")
            return
        alerts = self.root / "deploy" / "prometheus" / "alerts.yml"
        self.prom = LocalPrometheus(
            binary, f"127.0.0.1:{self.web_port}", self.logs, alerts if alerts.is_file() else None
        )
        self.prom.start()
        self.procs["prometheus"] = self.prom.proc
        self.links["prometheus"] = self.prom.url
        self.info.prometheus = f"{self.prom.url} during the run (scraping every second)"

    def start_offline(self) -> None:
        cfg = self.cfg
        if cfg.offline_events <= 0:
            self.info.offline_status = "was skipped (--sim-events 0)"
            return
        argv = offline_argv(cfg, self.settings(), self.logs / "offline.json")
        self.offline = ManagedProcess("offline", argv, self.logs / "offline.log", cwd=self.root)
        self.offline.start()

    def start_traffic(self) -> None:
        cfg, env = self.cfg, self._env()
        summary = self.logs / "label-sim-summary.json"
        ready = self.logs / "label-sim.ready"
        flags = f"http://127.0.0.1:{self.web_port}/metrics"
        self._spawn("label-sim", cfg.label_sim_args(summary, ready, flags), env)
        self.wait_for_label_sim(ready)
        self._spawn("producer", cfg.producer_args(), env)
        self.wait_for_traffic()

    def wait_for_label_sim(self, ready: Path) -> None:
        """The team answers from the first request: wait until label-sim's consumer
        group assigned it the request partitions (its ready file), bounded."""
        with self.timed("label-sim ready"):
            deadline = time.monotonic() + 120
            while not ready.is_file():
                self.check_children()
                if time.monotonic() > deadline:
                    raise DemoError("label-sim had no request partition assigned within 120 s")
                self.guard.sleep(0.25)
        self.say(f"label-sim: ready in {self.info.timings['label-sim ready']:.0f} s")

    def wait_for_traffic(self) -> None:
        """The clock starts when the worker consumed its first event (bounded wait)."""
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        with self.timed("first event"):
            deadline = time.monotonic() + 120
            while True:
                values = scrape(url)
                if values is not None and Sample(0.0, values).total(EVENTS) > 0:
                    break
                self.check_children()
                if time.monotonic() > deadline:
                    raise DemoError(
                        "no event reached the worker within 120 s of the producer start"
                    )
                self.guard.sleep(0.25)
        self.t0 = time.monotonic()
        self.say(
            f"traffic: flowing {self.info.timings['first event']:.0f} s after the producer start"
        )

    # --- observe --------------------------------------------------------------------
    def sample(self) -> None:
        """One scrape of the worker into the recording."""
        if self.t0 is None:
            return
        values = scrape(f"http://127.0.0.1:{self.web_port}/metrics")
        if values is not None:
            t = round(time.monotonic() - self.t0, 3)
            if not self.rec.samples or t > self.rec.samples[-1].t:
                self.rec.add(Sample(t, values))

    def check_children(self) -> None:
        for name in ("worker", "producer", "label-sim"):
            p = self.procs.get(name)
            if p is not None and not p.alive():
                raise DemoError(f"{name} exited early ({p.returncode}):\n{p.tail(15)}")

    # --- run ------------------------------------------------------------------------
    def run(self) -> Path:
        """Run the demo; the path of report.md (written whatever happened)."""
        self.started = time.monotonic()
        self.say(f"streamsift demo: {self.cfg.minutes:g} min of traffic; report in {self.folder}")
        try:
            self.start_broker()
            self.start_worker()
            self.start_prometheus()
            self.start_offline()
            self.start_traffic()
            with self.timed("traffic"):
                watch(self)
        except (StopRequestedError, InterruptedError):
            self.info.interrupted = True
            self.say("[bold]interrupted[/]: stopping everything the demo started")
        except (DemoError, BrokerError) as err:
            self.info.errors.append(str(err).splitlines()[0])
            self.say(f"[red]error[/]: {err}")
        except Exception as err:  # a bug: still stop everything and write what we have
            (self.logs / "demo-error.log").write_text(traceback.format_exc(), encoding="utf-8")
            self.info.errors.append(f"unexpected {err!r} (logs/demo-error.log)")
            self.say(f"[red]unexpected error[/]: {err!r}")
        finally:
            with self.timed("shutdown"):
                self.shutdown()
        return finish_run(self)

    def shutdown(self) -> None:
        """Stop everything this run started, in reverse order (bounded waits)."""
        stop_all(self)
