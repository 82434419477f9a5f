"""What the stream service needs from the outside: the sampler, its model, a sink.

The transport codes against these protocols, not against concrete classes, so
that the agents stay thin and tier-2 tests can run them with a memory sink and
a small test double of the sampler. The production implementations are
:class:`streamsift.core.sampler.Sampler` and :class:`FaustSink` /
:class:`KafkaSink` below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from streamsift.core.types import CoreEvent, Decision, Label, LabelledItem

__all__ = ["MemorySink", "ModelLike", "SamplerLike", "SentMessage", "Sink"]

Headers = Sequence[tuple[str, bytes]]


@runtime_checkable
class ModelLike(Protocol):
    """The part of the core's ``OnlineModel`` the transport touches."""

    @property
    def version(self) -> int:
        """Version number, bumped by the learner at each snapshot."""
        ...

    @property
    def labels_seen(self) -> int:
        """Labels learned so far."""
        ...

    def bump_version(self) -> None:
        """Advance the version (the learner does this before each snapshot)."""
        ...

    def can_learn_label(self, y: Label) -> bool:
        """Whether a label of this class can be learned."""
        ...


class SamplerLike(Protocol):
    """The part of the core's ``Sampler`` the transport drives."""

    @property
    def model(self) -> Any:
        """The online model (``version``, ``labels_seen``, ``bump_version``, ...)."""
        ...

    def decide(self, event: CoreEvent, now: float | None = None) -> Decision:
        """Decide whether to request a label for one event (no capacity recorded yet)."""
        ...

    def confirm(self, decision: Decision, now: float) -> None:
        """Record a selection whose label request was acked."""
        ...

    # Optional, looked up with getattr by the scorer: ``decisions(events, times)``,
    # the iterator of ``Sampler.decisions`` (``decide`` of each event in turn, the
    # batch's independent work done at once; an exception in place of a decision).

    def take_extra(self, decision: Decision, now: float) -> bool:
        """Take capacity for one extra label before requesting it (False: none left)."""
        ...

    def label_arrived(self, now: float, n: int = 1) -> None:
        """Count labels that arrived for pending items."""
        ...

    def expire(self, n: int) -> None:
        """Count pending items that expired unlabelled."""
        ...

    def learn(self, item: LabelledItem, model: Any = None) -> None:
        """Learn one joined label into ``model`` (the learner's own copy; None: the
        sampler's scoring model) and update the control-arm estimates."""
        ...

    def swap_model(self, model: Any) -> None:
        """Replace the online model by a verified snapshot."""
        ...

    @property
    def state(self) -> Any:
        """Read-only state for metrics (``SamplerState``)."""
        ...


class Sink(Protocol):
    """Where the service writes: ``send`` queues a message and returns its ack.

    Awaiting ``send`` only queues the message; awaiting the returned awaitable
    waits until the broker acknowledged it (or raises).
    """

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Awaitable[Any]:
        """Queue one message; return the awaitable of its acknowledgement."""
        ...


@dataclass(frozen=True)
class SentMessage:
    """One message captured by :class:`MemorySink`."""

    topic: str
    value: bytes | None
    key: bytes | None
    partition: int | None
    headers: Headers | None


@dataclass
class MemorySink:
    """A sink that keeps every message in a list (tier-2 tests, dry runs).

    ``fail_topics`` makes sends to those topics fail at acknowledgement time.
    """

    sent: list[SentMessage] = field(default_factory=list)
    fail_topics: set[str] = field(default_factory=set)

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Awaitable[Any]:
        """Record the message and return an already-resolved acknowledgement."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if topic in self.fail_topics:
            fut.set_exception(ConnectionError(f"send to {topic} failed (test)"))
            return fut
        self.sent.append(SentMessage(topic, value, key, partition, headers))
        fut.set_result(len(self.sent) - 1)
        return fut

    def on(self, topic: str) -> list[SentMessage]:
        """The messages sent to one topic, in order."""
        return [m for m in self.sent if m.topic == topic]
