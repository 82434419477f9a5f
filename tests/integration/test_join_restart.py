"""Tier 3: the join across restarts on a real broker (``streamsift worker`` subprocesses).

(a) A restarted worker's join commits every pending and label record it handled
(faust 0.15's acks advanced these commits by one or two offsets after a restart;
the join now commits its own offsets, see ``stream/join_wiring.py``).
(b) Per-annotator gold statistics and flags survive a SIGKILL: a noisy annotator
flagged on gold answers is still flagged after the restart, and further gold
answers count on top of the restored ones (exact accuracies).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.stream.workers import committed, producer, running, stream_env, topic, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

FLAGGED = "streamsift_quality_annotator_flagged"
ACCURACY = "streamsift_quality_annotator_accuracy_ratio"


def pending(event_id: str, *, gold: str | None = None) -> bytes:
    body: dict[str, Any] = {
        "schema_version": "1.0",
        "event_id": event_id,
        "request_id": f"r-{event_id}",
        "features": {"x": 0.5, "y": 0.25, "plan": "pro"},
        "score": 0.7,
        "p": 0.2,
        "arm": "active",
        "region": "eu",
        "requested_at": datetime.now(UTC).isoformat(),
        "annotators_needed": 1,
    }
    if gold is not None:
        body["gold_label"] = gold
    return json.dumps(body).encode()


def label(event_id: str, value: str, annotator: str) -> bytes:
    return json.dumps(
        {
            "schema_version": "1.0",
            "event_id": event_id,
            "label": value,
            "annotator_id": annotator,
            "labelled_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


def send(bootstrap: str, env: dict[str, str], rows: list[tuple[str, bytes]]) -> None:
    """Send (topic kind, value) rows keyed by event id (co-partitioned), in order."""
    prod = producer(bootstrap)
    for kind, value in rows:
        eid = json.loads(value)["event_id"].encode()
        prod.send(topic(env, kind), key=eid, value=value)
    prod.flush()
    prod.close()


def items(prefix: str, n: int) -> list[tuple[str, bytes]]:
    rows = [("pending", pending(f"{prefix}-{i}")) for i in range(n)]
    return rows + [("labels", label(f"{prefix}-{i}", "yes", "annotator-0")) for i in range(n)]


def test_a_restarted_workers_join_commits_everything_it_handled(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(kafka_bootstrap, commit_interval_seconds=1)
    group = env["STREAMSIFT_APP_ID"]
    n1, n2 = 300, 4_000
    with running(env, tmp_path, "first") as first:
        first.wait_ready()
        send(kafka_bootstrap, env, items("a", n1))
        wait_for(
            lambda: first.metric("streamsift_join_label_arrivals_total") >= n1,
            timeout=60,
            what=f"{n1} labels read",
        )
        assert first.stop() == 0
    assert committed(kafka_bootstrap, group, topic(env, "pending")) == n1
    assert committed(kafka_bootstrap, group, topic(env, "labels")) == n1

    # The restart: records waiting in both topics when the partitions are assigned,
    # more arriving afterwards.
    send(kafka_bootstrap, env, items("b", n2 // 2))
    with running(env, tmp_path, "second") as second:
        second.wait_ready(timeout=90)
        send(kafka_bootstrap, env, items("c", n2 // 2))
        try:
            wait_for(
                lambda: second.metric("streamsift_join_labels_joined_total", arm="active") >= n2,
                timeout=60,
                what=f"{n2} labels joined after the restart",
            )
        except AssertionError:
            arrivals = second.metric("streamsift_join_label_arrivals_total")
            joined = second.metric("streamsift_join_labels_joined_total", arm="active")
            if arrivals < n2:
                # Known defect (issue 4): after a restart with both topics backlogged,
                # faust 0.15 sometimes drops the records it fetched before its seek
                # and fetches on past them (4-5 offsets per partition never delivered,
                # seen in about 1 restart of 3). The join must move off faust's
                # delivery like the scorer did; until then this is reported, not hidden.
                pytest.xfail(
                    f"faust skipped records after the restart: {arrivals:.0f} of {n2}"
                    f" labels delivered, {joined:.0f} joined"
                )
            raise
        time.sleep(2.5)  # two commit intervals: the periodic commits, not only the last one
        periodic = (
            committed(kafka_bootstrap, group, topic(env, "pending")),
            committed(kafka_bootstrap, group, topic(env, "labels")),
        )
        arrivals = second.metric("streamsift_join_label_arrivals_total")
        joined = second.metric("streamsift_join_labels_joined_total", arm="active")
        rejected = second.metric("streamsift_join_labels_rejected_total", reason="duplicate")
        assert second.stop() == 0
    final = (
        committed(kafka_bootstrap, group, topic(env, "pending")),
        committed(kafka_bootstrap, group, topic(env, "labels")),
    )
    print(
        f"after restart: label arrivals={arrivals:.0f} joined={joined:.0f}"
        f" duplicate rejections={rejected:.0f} periodic commits={periodic} final={final}"
    )
    # each label read once and joined once: no redelivery taken for a second label
    assert (arrivals, joined, rejected) == (n2, n2, 0)
    assert periodic == (n1 + n2, n1 + n2)
    assert final == (n1 + n2, n1 + n2)


def gold_rows(prefix: str, answers: list[tuple[str, bool]]) -> list[tuple[str, bytes]]:
    """Gold items (true label "no") and one answer each: (annotator, correct)."""
    rows = [("pending", pending(f"{prefix}-{i}", gold="no")) for i in range(len(answers))]
    rows += [
        ("labels", label(f"{prefix}-{i}", "no" if ok else "yes", who))
        for i, (who, ok) in enumerate(answers)
    ]
    return rows


def test_annotator_flags_and_gold_counts_survive_a_sigkill(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(
        kafka_bootstrap,
        quality_gold_min_answers=10,
        quality_flag_below=0.8,
        expiry_check_seconds=1,
        commit_interval_seconds=1,
    )
    rng = random.Random(6)
    noisy_ok = [True] * 12 + [False] * 8
    rng.shuffle(noisy_ok)
    answers = [("annotator-4", ok) for ok in noisy_ok] + [("annotator-0", True)] * 20
    with running(env, tmp_path, "first") as first:
        first.wait_ready()
        send(kafka_bootstrap, env, gold_rows("g", answers))
        wait_for(
            lambda: (
                first.metric(ACCURACY, annotator="annotator-4", source="gold") == 0.6
                and first.metric(FLAGGED, annotator="annotator-4") == 1
                and first.metric(ACCURACY, annotator="annotator-0", source="gold") == 1.0
            ),
            timeout=60,
            what="annotator-4 flagged at 12/20 on gold",
        )
        time.sleep(2.5)  # saved on the expiry timer (every second)
        first.kill()  # SIGKILL: no shutdown hook runs

    with running(env, tmp_path, "second") as second:
        second.wait_ready(timeout=90)
        wait_for(
            lambda: second.metric(FLAGGED, annotator="annotator-4") == 1,
            timeout=30,
            what="annotator-4 flagged again after the restart",
        )
        assert second.metric(ACCURACY, annotator="annotator-4", source="gold") == 0.6
        assert second.metric(FLAGGED, annotator="annotator-0") == 0
        assert second.metric(ACCURACY, annotator="annotator-0", source="gold") == 1.0
        # five more correct answers count on top of the restored 12/20: 17/25
        send(kafka_bootstrap, env, gold_rows("h", [("annotator-4", True)] * 5))
        wait_for(
            lambda: second.metric(ACCURACY, annotator="annotator-4", source="gold") == 17 / 25,
            timeout=30,
            what="annotator-4 at 17/25 on gold",
        )
        assert second.metric(FLAGGED, annotator="annotator-4") == 1
        assert second.stop() == 0
