"""Helpers of the tier-3 stream tests: worker subprocesses, topic I/O, metrics.

Not a test module: imported by ``tests/integration/test_stream_*.py``. Every
wait is bounded; every process started here is stopped by the test that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]

#: Topic settings of the service, as environment variable suffixes.
TOPICS = (
    "INFERENCE_EVENTS",
    "LABEL_REQUESTS",
    "LABELS",
    "PENDING",
    "DRIFT_EVENTS",
    "MODEL_SNAPSHOTS",
    "DEAD_LETTERS",
    "DECISIONS",
    "TRAINING",
    "WORKER_RATES",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stream_env(bootstrap: str, **overrides: object) -> dict[str, str]:
    """Settings of one test: unique app id and topic names, fast timers."""
    prefix = f"t3-{uuid.uuid4().hex[:10]}"
    env = {
        "STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "STREAMSIFT_APP_ID": prefix,
        "STREAMSIFT_TOPIC_PARTITIONS": "4",
        "STREAMSIFT_TAKE_BATCH": "200",
        "STREAMSIFT_TAKE_WITHIN_SECONDS": "0.1",
        "STREAMSIFT_SESSION_TIMEOUT_SECONDS": "6",
        "STREAMSIFT_HEARTBEAT_INTERVAL_SECONDS": "1",
        "STREAMSIFT_RATE_PUBLISH_SECONDS": "1",
        "STREAMSIFT_SNAPSHOT_HMAC_KEY": "tier3-key",
        "STREAMSIFT_DEDUPE_HORIZON": "100000",
    }
    for name in TOPICS:
        env[f"STREAMSIFT_TOPIC_{name}"] = f"{prefix}.{name.lower().replace('_', '-')}"
    env.update({f"STREAMSIFT_{k.upper()}": str(v) for k, v in overrides.items()})
    return env


def topic(env: dict[str, str], name: str) -> str:
    return env[f"STREAMSIFT_TOPIC_{name.upper().replace('-', '_')}"]


class Worker:
    """One ``streamsift worker`` subprocess with its own web port and log file."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str = "worker") -> None:
        self.port = free_port()
        self.log_path = log_dir / f"{name}-{self.port}.log"
        full = {
            **os.environ,
            **env,
            "STREAMSIFT_WEB_PORT": str(self.port),
            "STREAMSIFT_WORKER_ID": f"{name}-{self.port}",
            "PYTHONUNBUFFERED": "1",
        }
        for var in ("KAFKA_BOOTSTRAP_SERVERS",):  # the test's env wins over the runner's
            full.pop(var, None)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamsift.cli", "worker", "--progress-seconds", "2"],
            cwd=REPO,
            env=full,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=3) as r:
                return int(r.status), r.read()
        except urllib.error.HTTPError as err:
            return int(err.code), err.read()

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until /readyz answers 200; return its report."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError):
                status, body = self.get("/readyz")
                last = body
                if status == 200:
                    return dict(json.loads(body))
            time.sleep(0.3)
        raise AssertionError(f"worker not ready in {timeout}s (last {last!r}):\n{self.tail()}")

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics, keyed by (name, sorted labels)."""
        status, body = self.get("/metrics")
        assert status == 200, body
        out = {}
        for fam in text_string_to_metric_families(body.decode()):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
        return out

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def tail(self, n: int = 60) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 45.0) -> int:
        """SIGTERM, wait; SIGKILL if it does not stop in time. Return the exit code."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._log.close()
        return int(self.proc.returncode)


@contextlib.contextmanager
def running(env: dict[str, str], log_dir: Path, name: str = "worker") -> Iterator[Worker]:
    """A worker for the duration of a ``with`` block (stopped, or killed, at the end)."""
    w = Worker(env, log_dir, name)
    try:
        yield w
    finally:
        if w.proc.poll() is None:
            w.stop()


def producer(bootstrap: str) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")


def read_topic(bootstrap: str, name: str) -> list[Any]:
    """Every record of a topic, from the beginning to the current end."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
        max_poll_records=100_000,
    )
    try:
        parts = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {name} to its end"
            for tp, records in consumer.poll(timeout_ms=500).items():
                out.extend(r for r in records if r.offset < ends[tp])
        return out
    finally:
        consumer.close()


def decided_ids(bootstrap: str, env: dict[str, str]) -> list[str]:
    """Event ids in the decision log, with repetitions."""
    return [
        row[0]
        for rec in read_topic(bootstrap, topic(env, "decisions"))
        for row in json.loads(rec.value)["d"]
    ]


def wait_for(cond: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def inference_event(i: int, *, region: str | None = None, event_id: str | None = None) -> bytes:
    """A valid, varied InferenceEvent (seeded by ``i``)."""
    x = (i * 7919) % 1000 / 1000.0
    y = (i * 104729) % 1000 / 1000.0
    p = min(0.99, max(0.01, 0.5 + (x - y) / 2))
    body = {
        "schema_version": "1.0",
        "event_id": event_id or f"ev-{i}",
        "model_id": "churn",
        "model_version": "7",
        "timestamp": "2026-01-01T00:00:00Z",
        "features": {"x": x, "y": y, "plan": ("free", "pro", "team")[i % 3]},
        "output": {"probabilities": {"yes": p, "no": 1 - p}},
    }
    if region is not None:
        body["region"] = region
    return json.dumps(body).encode()


def committed(bootstrap: str, group: str, name: str) -> int:
    """Total committed offset of a consumer group over the partitions of one topic."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == name)


def gold_file(path: Path, n: int = 200) -> Path:
    """A gold set (JSONL) from the synthetic generator's own ground truth."""
    from streamsift.tools import SyntheticStream
    from streamsift.tools.concept import true_label

    stream = SyntheticStream(seed=99)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            x = dict(stream.event_at(i).features)
            fh.write(json.dumps({"id": f"gold-{i}", "features": x, "label": true_label(x)}) + "\n")
    return path
