"""Tier-3 smoke tests: the broker works for every Kafka client of the stack.

- kafka-python produces validated ``InferenceEvent`` JSON; aiokafka reads it back in a
  consumer group, commits, and the events round-trip equal.
- A compacted topic keeps the latest value per key (what model snapshots rely on).
- A Faust app (in-process, no web server) consumes a topic with an agent, keeps a
  Table whose (compacted) changelog topic Faust creates on the broker, and commits
  its consumer group's offsets.

Each test makes its own uniquely named topics (``make_topic``); waits are bounded
safety nets, never assertions on speed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streamsift.schemas import InferenceEvent, ProductionOutput

pytestmark = pytest.mark.kafka

#: Upper bound for any wait on the broker; a healthy broker needs a few seconds at most.
WAIT_S = 60.0


def _events(n: int) -> list[InferenceEvent]:
    """``n`` valid events using every feature type, an embedding, region and metadata."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for i in range(n):
        p_yes = round((i % 10) / 10 + 0.05, 2)
        events.append(
            InferenceEvent(
                event_id=f"evt-{i:04d}-{uuid.uuid4().hex[:6]}",
                model_id="churn",
                model_version="3.1",
                timestamp=start + timedelta(seconds=i),
                features={
                    "age": 20 + i,
                    "spend": 10.5 * i,
                    "plan": ["free", "pro", "team"][i % 3],
                    "active": i % 2 == 0,
                    "referrer": None,
                },
                output=ProductionOutput(probabilities={"yes": p_yes, "no": round(1 - p_yes, 2)}),
                embedding=[i / 10, -i / 10, 0.5] if i % 4 else None,
                region=f"region-{i % 3}" if i % 5 else None,
                metadata={"source": "smoke-test", "attempt": 1},
            )
        )
    return events


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=WAIT_S)
    finally:
        producer.close(timeout=10)


async def _consume_in_group(
    bootstrap: str, topic: str, group: str, expected: int
) -> tuple[list[Any], dict[int, int | None]]:
    """Read ``expected`` records as member of ``group``, commit, return them and the commits."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while len(records) < expected and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
        await consumer.commit()
        committed = {tp.partition: await consumer.committed(tp) for tp in consumer.assignment()}
        return records, committed
    finally:
        await consumer.stop()


def test_inference_events_round_trip_kafka_python_to_aiokafka(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("smoke-inference-events", partitions=3)
    events = _events(30)
    _produce(
        kafka_bootstrap,
        topic,
        [(e.event_id.encode(), e.model_dump_json().encode()) for e in events],
    )

    group = f"smoke-group-{uuid.uuid4().hex}"
    records, committed = asyncio.run(_consume_in_group(kafka_bootstrap, topic, group, len(events)))

    received = [InferenceEvent.model_validate_json(r.value) for r in records]
    assert sorted(received, key=lambda e: e.event_id) == events
    assert all(
        r.key.decode() == InferenceEvent.model_validate_json(r.value).event_id for r in records
    )
    # The group committed exactly past every record it read, partition by partition.
    per_partition: dict[int, int] = {}
    for r in records:
        per_partition[r.partition] = max(per_partition.get(r.partition, -1), r.offset + 1)
    assert {p: o for p, o in committed.items() if o is not None} == per_partition
    assert sum(per_partition.values()) == len(events)


def test_compacted_topic_is_created_and_described(
    kafka_bootstrap: str, kafka_admin: Any, make_topic: Callable[..., str]
) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    topic = make_topic("smoke-snapshots", config={"cleanup.policy": "compact"})
    described = kafka_admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    assert described["topic"][topic]["cleanup.policy"]["value"] == "compact"
    (info,) = kafka_admin.describe_topics([topic])
    assert info["name"] == topic and len(info["partitions"]) == 1

    _produce(
        kafka_bootstrap, topic, [(b"model-a", b"v1"), (b"model-b", b"v1"), (b"model-a", b"v2")]
    )
    records, _ = asyncio.run(
        _consume_in_group(kafka_bootstrap, topic, f"smoke-{uuid.uuid4().hex}", expected=3)
    )
    latest = {r.key: r.value for r in records}
    assert latest == {b"model-a": b"v2", b"model-b": b"v1"}


async def _run_faust_app(
    bootstrap: str, source: str, app_id: str, n: int, committed: Callable[[], int]
) -> tuple[dict[str, int], list[int]]:
    """Run a Faust worker until it has processed ``n`` records and committed past them.

    ``committed()`` reads the group's committed offset (a blocking admin call, run in a
    thread). Faust commits acked offsets in the background (at least once), so the
    worker is stopped only once the commit has reached ``n``.
    """
    import faust

    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=1,
        broker_commit_every=1,
        broker_commit_interval=0.2,
    )
    topic = app.topic(source, value_serializer="json")
    counts = app.Table("counts", default=int, partitions=1)
    done = asyncio.Event()
    seen: list[int] = []

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for event in stream:
            counts[event["key"]] += 1
            seen.append(event["i"])
            if len(seen) >= n:
                done.set()

    await app.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        await asyncio.wait_for(done.wait(), WAIT_S)
        while await loop.run_in_executor(None, committed) < n and loop.time() < deadline:
            await asyncio.sleep(0.2)
        return dict(counts.items()), seen
    finally:
        await app.stop()


def test_faust_agent_and_table_against_the_broker(
    kafka_bootstrap: str, kafka_admin: Any, make_topic: Callable[..., str]
) -> None:
    """A Faust agent consumes the topic, updates a Table and commits its offsets."""
    from kafka.admin import ConfigResource, ConfigResourceType

    n = 12
    source = make_topic("smoke-faust-source")
    app_id = f"smoke-faust-{uuid.uuid4().hex}"

    def committed() -> int:
        offsets = kafka_admin.list_group_offsets(app_id).get(app_id, {})
        return sum(om.offset for tp, om in offsets.items() if tp.topic == source)

    records = [(f"k{i}".encode(), f'{{"i": {i}, "key": "k{i % 3}"}}'.encode()) for i in range(n)]
    _produce(kafka_bootstrap, source, records)
    try:
        counts, seen = asyncio.run(_run_faust_app(kafka_bootstrap, source, app_id, n, committed))
        assert counts == {"k0": 4, "k1": 4, "k2": 4}
        assert sorted(seen) == list(range(n))
        # The consumer group committed past every source record ...
        assert committed() == n
        # ... and Faust created the table's changelog topic, compacted, on the broker.
        changelog = f"{app_id}-counts-changelog"
        described = kafka_admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, changelog)]
        )
        assert described["topic"][changelog]["cleanup.policy"]["value"] == "compact"
    finally:
        internal = [t for t in kafka_admin.list_topics() if t.startswith(app_id)]
        if internal:
            kafka_admin.delete_topics(internal)
