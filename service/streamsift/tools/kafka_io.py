"""Kafka plumbing of the tools (kafka-python): topics, a paced producer loop, stop flags.

The pure generators of this package know nothing about Kafka; this module moves
their output to a broker. :func:`produce_synthetic` is shared by ``streamsift
produce-synthetic`` and the broker benchmark (which pre-loads a topic with it).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from streamsift.config import Settings
from streamsift.stream.kafka_config import kafka_python_kwargs
from streamsift.tools.synthetic import SyntheticStream

__all__ = [
    "ProduceStats",
    "StopFlag",
    "ensure_topic",
    "make_producer",
    "produce_synthetic",
    "stop_on_signals",
]

log = logging.getLogger(__name__)


class StopFlag:
    """A thread-safe "please stop" flag remembering which signal raised it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None

    def set(self, signum: int | None = None) -> None:
        """Ask the loop to stop."""
        if self.signum is None:
            self.signum = signum
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop was asked."""
        return self._event.wait(max(seconds, 0.0))


@contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """Turn SIGINT and SIGTERM into ``flag.set`` for the duration (main thread only).

    A second SIGINT restores the default behaviour and interrupts immediately.
    """
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        if flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def ensure_topic(settings: Settings, name: str, partitions: int) -> bool:
    """Create topic ``name`` with ``partitions`` partitions unless it exists.

    Returns
    -------
    bool
        True when the topic was created.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**kafka_python_kwargs(settings), client_id="streamsift-tools")
    try:
        if name in admin.list_topics():
            return False
        try:
            admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=partitions,
                        replication_factor=settings.topic_replication,
                        topic_configs={"retention.ms": str(settings.topic_retention_ms)},
                    )
                ]
            )
        except TopicAlreadyExistsError:
            return False
        return True
    finally:
        admin.close()


def make_producer(settings: Settings, **overrides: Any) -> Any:
    """A kafka-python producer tuned for throughput (batched, acks from the leader)."""
    from kafka import KafkaProducer

    kw: dict[str, Any] = {
        "acks": 1,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_request_size": 4 * 1024 * 1024,
        "client_id": "streamsift-tools",
    }
    kw.update(overrides)
    return KafkaProducer(**kafka_python_kwargs(settings), **kw)


@dataclass
class ProduceStats:
    """What :func:`produce_synthetic` sent."""

    sent: int = 0
    drifted: int = 0
    bytes: int = 0
    seconds: float = 0.0
    first_index: int = 0

    @property
    def rate(self) -> float:
        """Events per second actually achieved."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def produce_synthetic(
    producer: Any,
    topic: str,
    stream: SyntheticStream,
    count: int | None,
    rate: float = 0.0,
    live_timestamps: bool = True,
    stop: StopFlag | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = 500,
    clock: Callable[[], float] = time.time,
) -> ProduceStats:
    """Send ``count`` events of ``stream`` to ``topic`` at ``rate`` events/s.

    Parameters
    ----------
    producer
        A kafka-python ``KafkaProducer`` (or anything with ``send`` and ``flush``).
    count
        Events to send; ``None`` sends until stopped.
    rate
        Target events per second; 0 sends as fast as possible.
    live_timestamps
        Stamp each event with the send time instead of its generated time.
    stop
        Checked between chunks; the loop flushes and returns when set.
    on_progress
        Called with the number of events sent since the previous call.
    chunk
        Events generated and sent per step (smaller gives smoother pacing).
    clock
        Wall clock in seconds (event timestamps and pacing).
    """
    stats = ProduceStats(first_index=stream.position)
    stop = stop if stop is not None else StopFlag()
    start = time.monotonic()
    while not stop and (count is None or stats.sent < count):
        n = chunk if count is None else min(chunk, count - stats.sent)
        if rate > 0:
            n = max(1, min(n, int(rate * 0.05) or 1))
            due = start + stats.sent / rate
            ahead = due - time.monotonic()
            if ahead > 0 and stop.wait(ahead):
                break
        for ev in stream.take(n):
            value = ev.to_json(clock() if live_timestamps else None)
            producer.send(topic, key=ev.event_id.encode(), value=value)
            stats.bytes += len(value)
            stats.drifted += ev.drifted
        stats.sent += n
        if on_progress is not None:
            on_progress(n)
    producer.flush()
    stats.seconds = time.monotonic() - start
    return stats
