"""Tier 3: the stream worker against a real broker (``streamsift worker`` subprocesses).

(b) bad input is dead-lettered with the right reasons while every valid event is
decided exactly once; (c) a worker killed with SIGKILL mid-stream and restarted
loses no accepted event, decides none twice and requests no label twice; (e) a
tampered model snapshot is refused while a signed one is loaded.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import threading
import time
from pathlib import Path

import pytest

from streamsift.core.online import OnlineModel
from streamsift.stream.snapshots import encode_snapshot, sign
from tests.stream.fakes import MALFORMED
from tests.stream.workers import (
    committed,
    decided_ids,
    inference_event,
    producer,
    read_topic,
    running,
    stream_env,
    topic,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]


def test_bad_input_is_dead_lettered_and_valid_input_all_decided(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(kafka_bootstrap)
    kinds = list(MALFORMED)
    with running(env, tmp_path) as worker:
        worker.wait_ready()
        prod = producer(kafka_bootstrap)
        sent_bad: dict[tuple[int, int], str] = {}
        futures = []
        for i in range(1_200):
            if i % 6 == 5:  # 200 malformed, every kind, interleaved with the valid ones
                kind = kinds[(i // 6) % len(kinds)]
                fut = prod.send(
                    topic(env, "inference-events"), key=b"bad-%d" % i, value=MALFORMED[kind]
                )
                futures.append((fut, kind))
            else:
                prod.send(topic(env, "inference-events"), key=b"k%d" % i, value=inference_event(i))
        prod.flush()
        for fut, kind in futures:
            meta = fut.get(timeout=10)
            sent_bad[(meta.partition, meta.offset)] = kind
        prod.close()
        assert len(sent_bad) == 200

        wait_for(
            lambda: worker.metric("streamsift_scorer_events_consumed_total") >= 1_200,
            timeout=60,
            what="1,200 events consumed",
        )
        wait_for(
            lambda: len(decided_ids(kafka_bootstrap, env)) >= 1_000,
            timeout=30,
            what="1,000 decisions logged",
        )
        letters = [
            json.loads(r.value) for r in read_topic(kafka_bootstrap, topic(env, "dead-letters"))
        ]
        got = {(d["partition"], d["offset"]): d["reason"] for d in letters}
        assert len(letters) == 200 and got == sent_bad
        for d in letters:
            assert d["source_topic"] == topic(env, "inference-events")
            assert base64.b64decode(d["value_b64"]) == MALFORMED[d["reason"]]
        decided = decided_ids(kafka_bootstrap, env)
        assert len(decided) == len(set(decided)) == 1_000
        counts = collections.Counter(sent_bad.values())
        for kind, n in counts.items():
            assert worker.metric("streamsift_scorer_events_invalid_total", reason=kind) == n
            labels = {"source": "inference-events", "reason": kind}
            assert worker.metric("streamsift_deadletters_total", **labels) == n
        assert worker.metric("streamsift_scorer_events_valid_total") == 1_000
        assert worker.stop() == 0


def test_sigkill_mid_stream_then_restart_loses_nothing_and_duplicates_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Capacity high enough that many events are selected: duplicates would show.
    env = stream_env(kafka_bootstrap, capacity_per_hour=180_000, max_pending=1_000_000)
    n = 4_000
    with running(env, tmp_path, "first") as first:
        first.wait_ready()

        def produce() -> None:
            prod = producer(kafka_bootstrap)
            for i in range(n):
                prod.send(topic(env, "inference-events"), key=b"k%d" % i, value=inference_event(i))
                if i % 500 == 499:
                    prod.flush()
                    time.sleep(0.1)  # a steady stream, so that the kill lands mid-stream
            prod.flush()
            prod.close()

        feeder = threading.Thread(target=produce)
        feeder.start()
        wait_for(
            lambda: first.metric("streamsift_scorer_events_consumed_total") > 600,
            timeout=60,
            what="the first worker to be selecting",
            every=0.1,
        )
        first.kill()
        done_before = len(set(decided_ids(kafka_bootstrap, env)))
        feeder.join(timeout=60)
        assert 0 < done_before < n, done_before

    with running(env, tmp_path, "second") as second:
        second.wait_ready(timeout=90)
        wait_for(
            lambda: len(set(decided_ids(kafka_bootstrap, env))) >= n,
            timeout=90,
            what=f"all {n} events decided",
        )
        time.sleep(1.0)  # anything decided twice would be logged by now
        decided = decided_ids(kafka_bootstrap, env)
        assert len(decided) == n, collections.Counter(decided).most_common(3)
        requests = [
            json.loads(r.value) for r in read_topic(kafka_bootstrap, topic(env, "label-requests"))
        ]
        per_event = collections.Counter(r["event_id"] for r in requests)
        assert requests and per_event.most_common(1)[0][1] == 1
        pending = read_topic(kafka_bootstrap, topic(env, "pending"))
        assert {json.loads(p.value)["request_id"] for p in pending} >= {
            r["request_id"] for r in requests
        }
        assert second.metric("streamsift_scorer_duplicates_total", kind="duplicate") == 0
        assert second.stop() == 0  # SIGTERM: graceful
    # ... and a graceful stop commits everything it processed (the scorer's intake
    # commits its own offsets in group <app_id>-scorer; faust's per-event acks lagged
    # after a restart, see stream/offsets.py).
    group = f"{env['STREAMSIFT_APP_ID']}-scorer"
    done = committed(kafka_bootstrap, group, topic(env, "inference-events"))
    assert done == n, f"graceful stop committed {done} of {n} offsets"


def test_an_upgraded_worker_resumes_where_the_faust_agent_committed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The scorer's group starts empty: it takes the app group's committed offsets."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streamsift.config import Settings
    from streamsift.stream.topics import ensure_topics

    env = stream_env(kafka_bootstrap)
    settings = Settings.model_validate(
        {k.removeprefix("STREAMSIFT_").lower(): v for k, v in env.items()}
    )
    ensure_topics(settings)
    name = topic(env, "inference-events")
    prod = producer(kafka_bootstrap)
    for i in range(100):  # scored and committed by the faust agent before the upgrade
        prod.send(name, key=b"k%d" % i, value=inference_event(i))
    prod.flush()

    async def commit_as_the_agent() -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=env["STREAMSIFT_APP_ID"]
        )
        await consumer.start()
        try:
            tps = [TopicPartition(name, p) for p in range(4)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            await consumer.commit(dict(ends))
            return sum(ends.values())
        finally:
            await consumer.stop()

    assert asyncio.run(commit_as_the_agent()) == 100
    with running(env, tmp_path) as worker:
        worker.wait_ready()
        for i in range(100, 150):
            prod.send(name, key=b"k%d" % i, value=inference_event(i))
        prod.flush()
        prod.close()
        wait_for(
            lambda: len(decided_ids(kafka_bootstrap, env)) >= 50,
            timeout=60,
            what="the 50 new events decided",
        )
        time.sleep(1.0)  # an old event re-read would be logged by now
        assert sorted(decided_ids(kafka_bootstrap, env)) == sorted(
            f"ev-{i}" for i in range(100, 150)
        )
        assert worker.stop() == 0
    group = f"{env['STREAMSIFT_APP_ID']}-scorer"
    assert committed(kafka_bootstrap, group, name) == 150


def test_tampered_snapshot_is_refused_and_a_signed_one_loaded(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(kafka_bootstrap)
    key = env["STREAMSIFT_SNAPSHOT_HMAC_KEY"].encode()
    model = OnlineModel()
    for _ in range(5):
        model.bump_version()
    good = encode_snapshot(model, model_name="streamsift", version=5, labels_seen=0, key=key, now=0)
    model.bump_version()
    forged = encode_snapshot(
        model, model_name="streamsift", version=6, labels_seen=0, key=b"bad", now=0
    )
    head, _, payload = good.partition(b"\n")
    body = json.loads(head)
    body["model_version"] = 9
    tampered = json.dumps(body).encode() + b"\n" + payload[:-1] + bytes([payload[-1] ^ 1])
    with running(env, tmp_path) as worker:
        worker.wait_ready()
        prod = producer(kafka_bootstrap)
        name = topic(env, "model-snapshots")
        prod.send(name, key=b"streamsift", value=good).get(timeout=10)
        wait_for(
            lambda: worker.metric("streamsift_snapshot_loaded_total") == 1,
            timeout=30,
            what="the signed snapshot to load",
        )
        for raw in (forged, tampered):
            prod.send(name, key=b"streamsift", value=raw).get(timeout=10)
        prod.close()
        wait_for(
            lambda: (
                worker.metric("streamsift_snapshot_refused_total", reason="bad_signature") == 1
                and worker.metric("streamsift_snapshot_refused_total", reason="hash_mismatch") == 1
            ),
            timeout=30,
            what="both bad snapshots to be refused",
        )
        assert worker.metric("streamsift_model_version") == 5
        assert worker.metric("streamsift_snapshot_loaded_total") == 1
        assert "snapshot refused (bad_signature)" in worker.log_text()
        assert sign(payload, key) == body["signature"]  # the forgery kept the old signature
        assert worker.stop() == 0
