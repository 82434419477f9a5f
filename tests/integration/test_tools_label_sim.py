"""Tier 3: ``streamsift label-sim`` answers label requests on unique topics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streamsift.schemas import LabelEvent, LabelRequest, decode
from streamsift.tools import SyntheticStream

pytestmark = pytest.mark.kafka

WAIT_S = 120.0


def _send_requests(bootstrap: str, topic: str, n: int, redundant_every: int = 5) -> dict[str, Any]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    events = {}
    try:
        for e in SyntheticStream(seed=21).take(n):
            needed = 3 if e.index % redundant_every == 0 else 1
            req = LabelRequest(
                request_id=f"req-{e.event_id}",
                event_id=e.event_id,
                requested_at=datetime.now(UTC),
                features=e.features,
                score=0.5,
                strategy="test",
                arm="active",
                p=0.5,
                region=e.region,
                scored_model_version=0,
                annotators_needed=needed,
            )
            producer.send(topic, key=e.event_id.encode(), value=req.model_dump_json().encode())
            events[e.event_id] = (e, needed)
        producer.send(topic, key=b"bad", value=b"{not json")
        # a redelivered request (same request id) is answered once
        first = next(iter(events.values()))[0]
        dup = LabelRequest(
            request_id=f"req-{first.event_id}",
            event_id=first.event_id,
            requested_at=datetime.now(UTC),
            features=first.features,
            score=0.5,
            strategy="test",
            arm="active",
            p=0.5,
            region=first.region,
            scored_model_version=0,
            annotators_needed=3,
        )
        producer.send(topic, key=first.event_id.encode(), value=dup.model_dump_json().encode())
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return events


def _read_labels(bootstrap: str, topic: str, expected: int) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=60_000,
    )
    out: list[Any] = []
    try:
        for rec in consumer:
            out.append(rec)
            if len(out) >= expected:
                break
    finally:
        consumer.close()
    return out


def _label_sim(bootstrap: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "streamsift.cli", "label-sim", "--bootstrap", bootstrap,
            "--no-progress", *args]  # fmt: skip


def test_label_sim_answers_requests_with_noise_and_redundancy(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    requests = make_topic("tools-label-requests", partitions=2)
    labels = make_topic("tools-labels", partitions=2)
    n = 200
    events = _send_requests(kafka_bootstrap, requests, n)
    expected_labels = sum(needed for _, needed in events.values())
    summary = tmp_path / "summary.json"
    proc = subprocess.run(
        _label_sim(
            kafka_bootstrap,
            "--requests-topic",
            requests,
            "--labels-topic",
            labels,
            "--group",
            f"{requests}-sim",
            "--annotators",
            "5",
            "--labels-per-hour",
            "3600",
            "--noise",
            "0,0,0,0.5,0.5",
            "--delay-median",
            "1",
            "--time-scale",
            "50",
            "--max-labels",
            str(expected_labels),
            "--idle-exit",
            "30",
            "--summary-json",
            str(summary),
            "--seed",
            "4",
        ),
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(summary.read_text())
    assert stats["labels"] == expected_labels
    assert stats["invalid"] == 1 and stats["duplicates"] == 1 and stats["accepted"] == n

    records = _read_labels(kafka_bootstrap, labels, expected_labels)
    assert len(records) == expected_labels
    by_event: dict[str, list[LabelEvent]] = defaultdict(list)
    for rec in records:
        lab = decode(LabelEvent, rec.value)
        assert rec.key == lab.event_id.encode()
        assert lab.request_id == f"req-{lab.event_id}" and lab.team == "simulated"
        by_event[lab.event_id].append(lab)
    assert set(by_event) == set(events)
    wrong: dict[str, int] = defaultdict(int)
    for event_id, labs in by_event.items():
        e, needed = events[event_id]
        annotators = [lab.annotator_id for lab in labs]
        assert len(annotators) == needed == len(set(annotators))
        for lab in labs:
            if lab.annotator_id in ("annotator-0", "annotator-1", "annotator-2"):
                assert lab.label == e.label
            else:
                wrong[lab.annotator_id] += lab.label != e.label
    assert wrong["annotator-3"] > 0 and wrong["annotator-4"] > 0
    assert stats["flipped"] == sum(wrong.values())


def test_label_sim_stops_cleanly_on_sigterm(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    requests = make_topic("tools-label-requests", partitions=1)
    labels = make_topic("tools-labels", partitions=1)
    _send_requests(kafka_bootstrap, requests, 50, redundant_every=1000)
    summary = tmp_path / "summary.json"
    # One slow annotator: a label every 2 s, so work is still outstanding when stopped.
    proc = subprocess.Popen(
        _label_sim(
            kafka_bootstrap,
            "--requests-topic",
            requests,
            "--labels-topic",
            labels,
            "--group",
            f"{requests}-sim",
            "--annotators",
            "1",
            "--labels-per-hour",
            "1800",
            "--delay-median",
            "0",
            "--summary-json",
            str(summary),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = _read_labels(kafka_bootstrap, labels, 1)
        if not first:  # name what label-sim said (it starts slowly on a busy machine)
            proc.kill()
            out, err = proc.communicate(timeout=30)
            raise AssertionError(f"no label within 60 s of quiet; label-sim:\n{out}\n{err}")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    stats = json.loads(summary.read_text())
    assert stats["accepted"] == 50
    assert stats["labels"] >= 1
    assert stats["labels"] + stats["outstanding_at_exit"] == 50
    # labels sent before the stop were flushed:
    assert len(_read_labels(kafka_bootstrap, labels, stats["labels"])) == stats["labels"]


def test_label_sim_signals_ready_and_gives_flagged_annotators_no_work(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    """``--ready-file`` appears once partitions are assigned (before any request is
    sent here); ``--flags-from`` a worker's /metrics flagging annotator-3 and -4 keeps
    every label with annotators 0-2."""
    import http.server
    import threading
    import time

    body = (
        b'streamsift_quality_annotator_flagged{annotator="annotator-3"} 1.0\n'
        b'streamsift_quality_annotator_flagged{annotator="annotator-4"} 1.0\n'
        b'streamsift_quality_annotator_flagged{annotator="annotator-0"} 0.0\n'
    )

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    requests = make_topic("tools-label-requests", partitions=2)
    labels = make_topic("tools-labels", partitions=2)
    ready, summary = tmp_path / "ready.json", tmp_path / "summary.json"
    argv = _label_sim(
        kafka_bootstrap, "--requests-topic", requests, "--labels-topic", labels,
        "--group", f"{requests}-sim", "--annotators", "5", "--labels-per-hour", "3600",
        "--delay-median", "0", "--time-scale", "50", "--idle-exit", "20",
        "--offset-reset", "latest", "--ready-file", str(ready),
        "--flags-from", f"http://127.0.0.1:{server.server_port}/metrics",
        "--flags-every", "0.2", "--summary-json", str(summary),
    )  # fmt: skip
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not ready.is_file():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "label-sim never got its partitions"
            time.sleep(0.1)
        assert json.loads(ready.read_text())["partitions"] == 2
        # offset-reset latest: only what is sent after the ready file is answered,
        # so every request answered proves the team was listening when it said so.
        events = _send_requests(kafka_bootstrap, requests, 60)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, err
    stats = json.loads(summary.read_text())
    expected = sum(needed for _, needed in events.values())
    assert stats["accepted"] == 60 and stats["labels"] == expected, stats
    assert stats["benched"] == ["annotator-3", "annotator-4"]
    assert stats["benched_fill"] == 0
    assert set(stats["by_annotator"]) == {"annotator-0", "annotator-1", "annotator-2"}
    assert stats["given"]["annotator-3"] == stats["given"]["annotator-4"] == 0
    records = _read_labels(kafka_bootstrap, labels, expected)
    assert {decode(LabelEvent, r.value).annotator_id for r in records} <= {
        "annotator-0", "annotator-1", "annotator-2",
    }  # fmt: skip
