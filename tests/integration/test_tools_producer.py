"""Tier 3: ``streamsift produce-synthetic`` writes valid, keyed events that read back equal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamsift.cli import main
from streamsift.schemas import InferenceEvent, decode
from streamsift.tools import SyntheticStream

pytestmark = pytest.mark.kafka

WAIT_S = 60.0


def _consume_all(bootstrap: str, topic: str, expected: int) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(WAIT_S * 1000),
    )
    records: list[Any] = []
    try:
        for rec in consumer:
            records.append(rec)
            if len(records) >= expected:
                break
    finally:
        consumer.close()
    return records


@pytest.mark.parametrize("client", ["aiokafka", "kafka-python"])
def test_produce_synthetic_round_trip(
    kafka_bootstrap: str, make_topic: Callable[..., str], client: str
) -> None:
    topic = make_topic("tools-synthetic", partitions=3)
    n, drift_at = 1500, 700
    code = main(
        [
            "produce-synthetic",
            "--bootstrap", kafka_bootstrap,
            "--topic", topic,
            "--rate", "0",
            "--count", str(n),
            "--drift-at", str(drift_at),
            "--drift-regions", "eu-west",
            "--seed", "3",
            "--timestamps", "synthetic",
            "--client", client,
            "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    records = _consume_all(kafka_bootstrap, topic, n)
    assert len(records) == n

    expected = {
        e.event_id: e
        for e in SyntheticStream(
            seed=3, drift_at=drift_at, drift_regions=("eu-west",), rate=1000.0
        ).take(n)
    }
    partition_of: dict[str, int] = {}
    for rec in records:
        event = decode(InferenceEvent, rec.value)
        assert rec.key == event.event_id.encode()
        partition_of[event.event_id] = rec.partition
        assert event == expected[event.event_id].to_inference_event()
    assert set(partition_of) == set(expected)
    # keyed like the default partitioner: all three partitions are used
    assert len(set(partition_of.values())) == 3


def test_aiokafka_batches_use_kafkas_key_partitioner(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    from kafka.partitioner import murmur2

    topic = make_topic("tools-synthetic-keys", partitions=4)
    assert (
        main(
            [
                "produce-synthetic",
                "--bootstrap",
                kafka_bootstrap,
                "--topic",
                topic,
                "--rate",
                "0",
                "--count",
                "400",
                "--seed",
                "9",
                "--no-progress",
            ]
        )
        == 0
    )
    for rec in _consume_all(kafka_bootstrap, topic, 400):
        assert rec.partition == (murmur2(rec.key) & 0x7FFFFFFF) % 4
