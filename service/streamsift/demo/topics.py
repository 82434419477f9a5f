"""Reading one of the run's topics back, and deleting the run's topics afterwards.

Both use kafka-python with the connection settings of the service
(:func:`streamsift.stream.kafka_config.kafka_python_kwargs`), short client timeouts
and an overall deadline, so a broker that went away cannot hang the demo's exit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from streamsift.config import Settings
from streamsift.stream.kafka_config import kafka_python_kwargs

__all__ = ["delete_run_topics", "read_json_topic"]

#: Client options that keep every call short (filtered to what the client knows).
_FAST = {"request_timeout_ms": 5000, "bootstrap_timeout_ms": 5000, "reconnect_backoff_max_ms": 500}


def _options(cls: Any) -> dict[str, Any]:
    return {k: v for k, v in _FAST.items() if k in getattr(cls, "DEFAULT_CONFIG", {})}


def read_json_topic(settings: Settings, topic: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Every JSON record of ``topic`` from the beginning to its current end.

    Records that are not JSON objects are skipped; a partial read is returned when
    the deadline passes.
    """
    from kafka import KafkaConsumer, TopicPartition

    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    consumer = KafkaConsumer(
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        consumer_timeout_ms=1000,
        **_options(KafkaConsumer),
        **kafka_python_kwargs(settings),
    )
    out: list[dict[str, Any]] = []
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return out
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    with contextlib.suppress(ValueError, TypeError):
                        doc = json.loads(r.value)
                        if isinstance(doc, dict):
                            out.append(doc)
    finally:
        consumer.close()
    return out


def delete_run_topics(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with ``prefix``; the names deleted."""
    from kafka import KafkaAdminClient

    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    admin = KafkaAdminClient(**_options(KafkaAdminClient), **kafka_python_kwargs(settings))
    try:
        mine = sorted(t for t in admin.list_topics() if str(t).startswith(prefix))
        if mine:
            admin.delete_topics(mine)
        return mine
    finally:
        admin.close()
