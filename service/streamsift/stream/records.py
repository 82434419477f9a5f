"""The one view of a consumed Kafka record that the service needs.

Agents turn a faust event (or an aiokafka ``ConsumerRecord``) into a
:class:`SourceRecord` at once, so that the rest of the transport, and the tier-2
tests, never depend on faust's event classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SourceRecord", "from_consumer_record", "from_faust_event"]


@dataclass(slots=True)
class SourceRecord:
    """A consumed record: where it came from and its raw bytes.

    A value: nothing changes it after it is built. Not declared ``frozen`` because
    one is built per consumed record and a frozen dataclass's ``__init__`` costs
    ~1.5 µs more (``core/types.py`` says why).

    Parameters
    ----------
    topic, partition, offset
        Its position, reported in dead letters.
    key, value
        The raw bytes as received (``None`` for a missing key or a tombstone).
    timestamp
        The record timestamp, seconds since the epoch.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = 0.0


def _bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"expected raw bytes, got {type(value).__name__}")


def from_faust_event(event: Any) -> SourceRecord:
    """Build a record from a faust event of a raw-serialised topic."""
    m = event.message
    value = m.value if m.value is not None else event.value
    return SourceRecord(
        topic=m.topic,
        partition=int(m.partition),
        offset=int(m.offset),
        key=_bytes(m.key),
        value=_bytes(value),
        timestamp=float(m.timestamp or 0.0),
    )


def from_consumer_record(record: Any) -> SourceRecord:
    """Build a record from an aiokafka ``ConsumerRecord``."""
    key, value = record.key, record.value
    return SourceRecord(  # positional, and bytes (the usual case) without a call
        record.topic,
        int(record.partition),
        int(record.offset),
        key if key is None or key.__class__ is bytes else _bytes(key),
        value if value is None or value.__class__ is bytes else _bytes(value),
        (record.timestamp or 0) / 1000.0,
    )
