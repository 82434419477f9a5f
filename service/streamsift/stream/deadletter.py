"""Dead letters: bad input goes to the dead-letters topic with its original bytes.

Nothing is dropped silently: every message a worker cannot process becomes a
:class:`~streamsift.schemas.DeadLetter` (original key and value in base64, the
bounded reason, a human-readable detail, and the source topic, partition and
offset), keyed by the source topic, and is counted by source and reason once the
broker acknowledged it.

Examples
--------
>>> rec = SourceRecord("events", 2, 17, None, b"\\xff\\xfe")
>>> dl = build_dead_letter(rec, "undecodable", "not UTF-8", now=0.0)
>>> dl.source_topic, dl.partition, dl.offset, dl.reason, dl.value_b64
('events', 2, 17, 'undecodable', '//4=')
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from streamsift.metrics import Metrics
from streamsift.schemas import DeadLetter
from streamsift.stream.ports import Sink
from streamsift.stream.records import SourceRecord

__all__ = ["DeadLetters", "build_dead_letter"]

#: Longest detail kept in a dead letter.
MAX_DETAIL: int = 1_000


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def build_dead_letter(record: SourceRecord, reason: str, detail: str, now: float) -> DeadLetter:
    """The dead letter of one record."""
    return DeadLetter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        reason=reason,
        detail=detail[:MAX_DETAIL],
        key_b64=_b64(record.key),
        value_b64=_b64(record.value) or "",
        failed_at=datetime.fromtimestamp(now, UTC),
    )


async def _count_on_ack(ack: Awaitable[Any], on_ok: Callable[[], None]) -> Any:
    result = await ack
    on_ok()
    return result


class DeadLetters:
    """Send dead letters to one topic and count them.

    Parameters
    ----------
    sink
        Where to send.
    topic
        The dead-letters topic.
    metrics
        ``deadletters_total{source, reason}`` is incremented on acknowledgement.
    clock
        Wall clock (seconds since the epoch).
    """

    def __init__(
        self,
        sink: Sink,
        topic: str,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sink = sink
        self.topic = topic
        self.metrics = metrics
        self.clock = clock

    async def send(
        self, record: SourceRecord, *, source: str, reason: str, detail: str = ""
    ) -> Awaitable[Any]:
        """Queue the dead letter of ``record``; return its (counting) acknowledgement.

        ``source`` is the bounded kind of input (``inference-events``, ``labels``...),
        used as the metric label instead of the possibly unbounded topic name.
        """
        letter = build_dead_letter(record, reason, detail, self.clock())
        ack = await self.sink.send(
            self.topic,
            letter.model_dump_json().encode("utf-8"),
            key=record.topic.encode("utf-8"),
        )
        counter = self.metrics.dead_letters.labels(source=source, reason=reason)
        return _count_on_ack(ack, counter.inc)
