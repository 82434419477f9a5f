"""Tier 3: the join across restarts on a real broker (``streamsift worker`` subprocesses).

(a) After a graceful restart with both topics backlogged, every pending and label
record is delivered and handled exactly once and committed in the join's group
(faust 0.15 skipped 4-5 records per partition in about 1 restart of 3; the join now
reads its topics with its own consumer, see ``stream/join_wiring.py``).
(b) The same after a SIGKILL: pending items handled before the kill are restored
from the join's changelog, so their labels read after the restart join.
(b') After a SIGKILL that came before any commit, the records handled before it are
read again and recognised as redeliveries (not duplicates, not second requests).
(c) Per-annotator gold statistics and flags survive a SIGKILL: a noisy annotator
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

from tests.stream import workers
from tests.stream.workers import committed, producer, running, stream_env, topic, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

FLAGGED = "streamsift_quality_annotator_flagged"
ACCURACY = "streamsift_quality_annotator_accuracy_ratio"
JOINED = "streamsift_join_labels_joined_total"
ARRIVALS = "streamsift_join_label_arrivals_total"


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


def join_group(env: dict[str, str]) -> str:
    return f"{env['STREAMSIFT_APP_ID']}-join"


def commits(bootstrap: str, env: dict[str, str]) -> tuple[int, int]:
    """The join group's committed offsets, summed over partitions: (pending, labels)."""
    group = join_group(env)
    return (
        committed(bootstrap, group, topic(env, "pending")),
        committed(bootstrap, group, topic(env, "labels")),
    )


def training_ids(bootstrap: str, env: dict[str, str]) -> list[str]:
    """Event ids of the joined items in the training topic, with repetitions."""
    return [
        json.loads(r.value)["event_id"]
        for r in workers.read_topic(bootstrap, topic(env, "training"))
    ]


def join_counts(w: workers.Worker) -> dict[str, float]:
    return {
        "arrivals": w.metric(ARRIVALS),
        "joined": w.metric(JOINED, arm="active"),
        "duplicate": w.metric("streamsift_join_labels_rejected_total", reason="duplicate"),
        "unknown": w.metric("streamsift_join_labels_rejected_total", reason="unknown"),
        "second_request": w.metric("streamsift_join_duplicate_requests_total"),
    }


def handled_once(n: int) -> dict[str, float]:
    """The join's counts when n labels were each delivered once and joined once."""
    return {"arrivals": n, "joined": n, "duplicate": 0, "unknown": 0, "second_request": 0}


def check_after_restart(
    bootstrap: str, env: dict[str, str], w: workers.Worker, total: int, n: int
) -> None:
    """Every label of the restart delivered and joined exactly once, all committed:
    periodically (two commit intervals after the last join) and at the stop."""
    wait_for(
        lambda: w.metric(JOINED, arm="active") >= n,
        timeout=90,
        what=f"{n} labels joined after the restart ({join_counts(w)})",
    )
    time.sleep(2.5)  # two commit intervals: the periodic commits, not only the last one
    periodic = commits(bootstrap, env)
    counts = join_counts(w)
    assert w.stop() == 0
    final = commits(bootstrap, env)
    print(f"after restart: {counts} periodic commits={periodic} final={final}")
    # each label read once and joined once: nothing skipped, nothing handled twice
    assert counts == handled_once(n)
    assert periodic == (total, total)
    assert final == (total, total)


def test_a_restarted_workers_join_handles_every_record_once_and_commits_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(kafka_bootstrap, commit_interval_seconds=1)
    n1, n2 = 300, 4_000
    with running(env, tmp_path, "first") as first:
        first.wait_ready()
        send(kafka_bootstrap, env, items("a", n1))
        wait_for(lambda: first.metric(JOINED, arm="active") >= n1, timeout=60, what="a joined")
        assert first.stop() == 0
    assert commits(kafka_bootstrap, env) == (n1, n1)

    # The restart: records waiting in both topics when the partitions are assigned,
    # more arriving afterwards.
    send(kafka_bootstrap, env, items("b", n2 // 2))
    with running(env, tmp_path, "second") as second:
        second.wait_ready(timeout=90)
        send(kafka_bootstrap, env, items("c", n2 // 2))
        check_after_restart(kafka_bootstrap, env, second, n1 + n2, n2)
    ids = training_ids(kafka_bootstrap, env)
    assert len(ids) == len(set(ids)) == n1 + n2


def test_after_a_sigkill_the_join_restores_its_pending_items_and_handles_the_backlog_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(kafka_bootstrap, commit_interval_seconds=1)
    n1, n2 = 300, 2_000
    # "w" items: pending handled before the kill, their labels sent after it
    waiting = [("pending", pending(f"w-{i}")) for i in range(n1)]
    with running(env, tmp_path, "first") as first:
        first.wait_ready()
        send(kafka_bootstrap, env, items("a", n1) + waiting)
        wait_for(
            lambda: commits(kafka_bootstrap, env) == (2 * n1, n1),
            timeout=60,
            what="everything handled and committed before the kill",
        )
        first.kill()  # SIGKILL: no shutdown hook runs

    late = [("labels", label(f"w-{i}", "yes", "annotator-0")) for i in range(n1)]
    send(kafka_bootstrap, env, late + items("b", n2 // 2))
    with running(env, tmp_path, "second") as second:
        second.wait_ready(timeout=90)
        send(kafka_bootstrap, env, items("c", n2 // 2))
        check_after_restart(kafka_bootstrap, env, second, 2 * n1 + n2, n1 + n2)
    ids = training_ids(kafka_bootstrap, env)
    assert len(ids) == len(set(ids)) == 2 * n1 + n2


def markers_in_changelog(bootstrap: str, env: dict[str, str]) -> int:
    """Keys whose latest record in the pending store's changelog is a joined marker."""
    from streamsift.stream.join import StoreEntry
    from streamsift.stream.topics import PENDING_TABLE

    latest: dict[bytes, bytes | None] = {}
    changelog = f"{env['STREAMSIFT_APP_ID']}-{PENDING_TABLE}-changelog"
    for r in workers.read_topic(bootstrap, changelog):
        latest[r.key] = r.value
    return sum(
        1 for v in latest.values() if v is not None and StoreEntry.decode(v).state == "joined"
    )


def test_labels_handled_but_not_committed_before_a_sigkill_are_redeliveries_not_duplicates(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A worker SIGKILLed after joining labels whose offsets it had not committed
    yet reads them again after the restart: the restored markers recognise each
    record (same partition and offset), so none is dead-lettered as a duplicate and
    none trains twice."""
    # no commit before the kill; the expiry timer flushes the changelogs every second
    env = stream_env(kafka_bootstrap, commit_interval_seconds=600, expiry_check_seconds=1)
    n = 200
    with running(env, tmp_path, "first") as first:
        first.wait_ready()
        send(kafka_bootstrap, env, items("k", n))
        wait_for(lambda: first.metric(JOINED, arm="active") >= n, timeout=60, what="k joined")
        wait_for(
            lambda: markers_in_changelog(kafka_bootstrap, env) >= n,
            timeout=30,
            what="the timer flushed the joined markers to the changelog",
        )
        assert commits(kafka_bootstrap, env) == (0, 0)
        first.kill()

    with running(env, tmp_path, "second") as second:
        second.wait_ready(timeout=90)
        redelivered = "streamsift_join_records_redelivered_total"
        wait_for(
            lambda: second.metric(redelivered, source="labels") >= n,
            timeout=60,
            what=f"{n} labels read again ({join_counts(second)})",
        )
        counts = join_counts(second)
        pending_again = second.metric(redelivered, source="pending")
        assert second.stop() == 0
    print(f"after the SIGKILL restart: {counts}, pending records read again {pending_again}")
    assert pending_again == n
    assert counts == {
        "arrivals": n, "joined": 0, "duplicate": 0, "unknown": 0, "second_request": 0
    }  # fmt: skip
    assert workers.read_topic(kafka_bootstrap, topic(env, "dead-letters")) == []
    ids = training_ids(kafka_bootstrap, env)
    assert len(ids) == len(set(ids)) == n
    assert commits(kafka_bootstrap, env) == (n, n)


def test_an_upgraded_worker_restores_the_faust_tables_and_resumes_at_the_app_groups_offsets(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """State and offsets as a faust-era worker left them: pending items in the pending
    table's changelog (raw key and value, the producer's partition of the key) and
    the app group's committed offsets; the join's group starts empty."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    from streamsift.config import Settings
    from streamsift.schemas import PendingItem
    from streamsift.stream.join import StoreEntry
    from streamsift.stream.topics import changelog_topic, ensure_topics

    env = stream_env(kafka_bootstrap, commit_interval_seconds=1)
    settings = Settings.model_validate(
        {k.removeprefix("STREAMSIFT_").lower(): v for k, v in env.items()}
    )
    ensure_topics(settings)
    n = 200
    prod = producer(kafka_bootstrap)
    # handled by the faust agent: a record it dead-lettered (read again, it would be
    # dead-lettered again), then the pending items, each with its table entry
    prod.send(topic(env, "pending"), key=b"bad", value=b"not json", partition=0)
    for i in range(n):
        eid, raw = f"old-{i}", pending(f"old-{i}")
        part = prod.send(topic(env, "pending"), key=eid.encode(), value=raw).get(30).partition
        entry = StoreEntry("pending", time.time(), PendingItem.model_validate_json(raw), part=part)
        prod.send(changelog_topic(settings), key=eid.encode(), value=entry.encode())
    prod.flush()
    app_group = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=settings.app_id, enable_auto_commit=False
    )
    tps = [TopicPartition(topic(env, "pending"), p) for p in range(4)]
    ends = app_group.end_offsets(tps)
    app_group.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in ends.items()})
    app_group.close()
    assert sum(ends.values()) == n + 1

    with running(env, tmp_path, "upgraded") as worker:
        worker.wait_ready(timeout=90)
        send(kafka_bootstrap, env, [("labels", label(f"old-{i}", "yes", "a-0")) for i in range(n)])
        wait_for(
            lambda: worker.metric(JOINED, arm="active") >= n,
            timeout=60,
            what=f"the labels of the {n} restored items joined ({join_counts(worker)})",
        )
        time.sleep(2.5)  # an old record read again would be handled by now
        counts = join_counts(worker)
        assert worker.stop() == 0
    assert counts == handled_once(n)
    assert workers.read_topic(kafka_bootstrap, topic(env, "dead-letters")) == []
    assert commits(kafka_bootstrap, env) == (n + 1, n)


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
