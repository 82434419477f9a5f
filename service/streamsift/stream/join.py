"""The join: labels meet the pending items they answer, then go to the learner.

The pending store maps ``event_id`` (bytes) to a :class:`StoreEntry`:

* ``pending``: the pending item, waiting for its label;
* ``early``: a label that arrived before its pending item (the two come from
  different topics, so the join may read the label first); it waits
  ``early_label_grace_seconds`` for the item, then is dead-lettered as unknown;
* ``joined`` / ``expired``: small markers kept for ``pending_tombstone_seconds``
  so that a second label, or a late one, is recognised as such.

In the service the store is a faust table with a changelog (restored after a
restart, parked labels included); in tier-2 tests it is a dict.

:func:`join_label` is the whole per-item decision, one small pure function, so
that quality control (several annotators per item, the core's
``LabelCollector``) can replace it. :class:`Joiner` does the I/O around it.

Examples
--------
>>> from streamsift.schemas import LabelEvent, PendingItem
>>> item = PendingItem(event_id="e1", request_id="r1", features={"x": 1.0}, score=0.5,
...     p=0.25, arm="active", region="eu", requested_at="2026-01-01T00:00:00Z")
>>> entry = StoreEntry("pending", item.requested_at.timestamp(), item)
>>> label = LabelEvent(event_id="e1", label="yes", annotator_id="a1",
...     labelled_at="2026-01-01T00:01:00Z")
>>> out = join_label(entry, label, now=0.0, can_learn=lambda y: True)
>>> out.kind, out.item.p, out.latency, out.entry.state
('joined', 0.25, 60.0, 'joined')
>>> join_label(out.entry, label, now=0.0, can_learn=lambda y: True).kind
'duplicate'
>>> join_label(None, label, now=0.0, can_learn=lambda y: True).kind  # item not read yet
'early'
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from streamsift.config import Settings
from streamsift.core.types import Label, LabelledItem
from streamsift.errors import SchemaError
from streamsift.metrics import Metrics
from streamsift.schemas import LabelEvent, PendingItem, decode
from streamsift.stream.convert import encode_labelled, join_item
from streamsift.stream.deadletter import DeadLetters
from streamsift.stream.ports import SamplerLike, Sink
from streamsift.stream.records import SourceRecord

__all__ = ["JoinOutcome", "Joiner", "StoreEntry", "join_label"]

log = logging.getLogger(__name__)

State = Literal["pending", "early", "joined", "expired"]
Outcome = Literal["joined", "early", "duplicate", "unknown", "expired", "unlearnable_class"]


@dataclass(frozen=True)
class StoreEntry:
    """A pending-store value.

    ``at`` is the request time of a pending item, the arrival time of an early
    label, the join or expiry time of a marker. An early entry keeps the label's
    source record (for its dead letter, should its item never come).
    """

    state: State
    at: float
    item: PendingItem | None = None
    label: SourceRecord | None = None

    def encode(self) -> bytes:
        """Serialise for the table."""
        body: dict[str, Any] = {"state": self.state, "at": self.at}
        body["item"] = None if self.item is None else self.item.model_dump(mode="json")
        if self.label is not None:
            r = self.label
            body["label"] = [r.topic, r.partition, r.offset, _b64(r.key), _b64(r.value)]
        return json.dumps(body).encode()

    @classmethod
    def decode(cls, raw: bytes) -> StoreEntry:
        """Read back what :meth:`encode` wrote."""
        body = json.loads(raw)
        item = None if body["item"] is None else PendingItem.model_validate(body["item"])
        label = None
        if body.get("label") is not None:
            topic, partition, offset, key, value = body["label"]
            label = SourceRecord(topic, partition, offset, _unb64(key), _unb64(value))
        return cls(body["state"], float(body["at"]), item, label)


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


@dataclass(frozen=True)
class JoinOutcome:
    """What to do with one label.

    ``entry`` is the new store value (``None``: leave the store as it is); ``item``
    goes to the learner when ``kind == "joined"``.
    """

    kind: Outcome
    item: LabelledItem | None = None
    entry: StoreEntry | None = None
    latency: float | None = None


def join_label(
    entry: StoreEntry | None,
    label: LabelEvent,
    *,
    now: float,
    can_learn: Callable[[Label], bool],
) -> JoinOutcome:
    """Join one label with its store entry (the replaceable per-item policy)."""
    if entry is None:
        return JoinOutcome("early", entry=StoreEntry("early", now))
    if entry.state in ("joined", "early"):
        return JoinOutcome("duplicate")
    if entry.state == "expired" or entry.item is None:
        return JoinOutcome("expired")
    if not can_learn(label.label):
        return JoinOutcome("unlearnable_class")
    item = join_item(entry.item, label)
    latency = max(0.0, item.labelled_at - item.requested_at)
    return JoinOutcome("joined", item, StoreEntry("joined", now), latency)


class Joiner:
    """Maintain the pending store and join labels against it.

    Parameters
    ----------
    settings
        Topics, TTLs, the early-label grace.
    sampler
        ``label_arrived`` / ``expire`` are reported to it; its model says which
        classes can be learned.
    sink
        Where joined items (training topic) and dead letters go.
    metrics
        The project's metrics.
    store
        event_id bytes to :meth:`StoreEntry.encode` bytes (a faust table).
    clock
        Wall clock, seconds since the epoch.
    """

    def __init__(
        self,
        settings: Settings,
        sampler: SamplerLike,
        sink: Sink,
        metrics: Metrics,
        store: MutableMapping[bytes, bytes],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sampler = sampler
        self.sink = sink
        self.metrics = metrics
        self.store = store
        self.clock = clock
        self.dead_letters = DeadLetters(sink, settings.topic_dead_letters, metrics, clock)

    def _entry(self, key: bytes) -> StoreEntry | None:
        raw = self.store.get(key)
        return None if raw is None else StoreEntry.decode(raw)

    async def _reject(self, rec: SourceRecord, reason: str, detail: str) -> None:
        self.metrics.labels_rejected.labels(reason=reason).inc()
        await (await self.dead_letters.send(rec, source="labels", reason=reason, detail=detail))

    async def on_pending(self, rec: SourceRecord) -> None:
        """Add one pending item (from the pending topic) to the store."""
        try:
            item = decode(PendingItem, rec.value)
        except SchemaError as err:
            await (
                await self.dead_letters.send(
                    rec, source="pending", reason=err.reason, detail=err.detail
                )
            )
            return
        key = item.event_id.encode()
        existing = self._entry(key)
        entry = StoreEntry("pending", item.requested_at.timestamp(), item)
        if existing is None:
            self.store[key] = entry.encode()
        elif existing.state == "early" and existing.label is not None:
            self.store[key] = entry.encode()
            await self.on_label(existing.label, arrived=False)  # its label was waiting
        elif existing.item is None or existing.item.request_id != item.request_id:
            self.metrics.duplicate_pending.inc()
            log.warning("second request for event %s ignored by the join", item.event_id)

    async def on_label(self, rec: SourceRecord, *, arrived: bool = True) -> Outcome | None:
        """Join one label; return the outcome (``None`` for an undecodable label).

        ``arrived=False`` replays a parked early label (not counted twice).
        """
        m = self.metrics
        if arrived:
            m.label_arrivals.inc()
        try:
            label = decode(LabelEvent, rec.value)
        except SchemaError as err:
            m.labels_rejected.labels(reason="invalid").inc()
            await (
                await self.dead_letters.send(
                    rec, source="labels", reason=err.reason, detail=err.detail
                )
            )
            return None
        key = label.event_id.encode()
        now = self.clock()
        model = self.sampler.model
        out = join_label(self._entry(key), label, now=now, can_learn=model.can_learn_label)
        if out.kind == "early":
            self.store[key] = StoreEntry("early", now, label=rec).encode()
            return out.kind
        if out.kind != "joined" or out.item is None:
            await self._reject(rec, out.kind, f"label for event {label.event_id}: {out.kind}")
            return out.kind
        await (
            await self.sink.send(
                self.settings.topic_training, encode_labelled(out.item), key=key, partition=0
            )
        )
        if out.entry is not None:
            self.store[key] = out.entry.encode()
        self.sampler.label_arrived(rec.timestamp if rec.timestamp > 0 else now)
        m.labels_joined.labels(arm=out.item.arm).inc()
        if out.latency is not None:
            m.label_latency.observe(out.latency)
        return out.kind

    async def expire(self) -> int:
        """Expire old pending items and early labels, drop old markers; return expired items."""
        s = self.settings
        now = self.clock()
        expired: list[bytes] = []
        orphans: list[tuple[bytes, SourceRecord]] = []
        drop: list[bytes] = []
        pending = 0
        oldest = now
        for key, raw in list(self.store.items()):
            entry = StoreEntry.decode(raw)
            if entry.state == "pending":
                if now - entry.at > s.pending_ttl_seconds:
                    expired.append(key)
                else:
                    pending += 1
                    oldest = min(oldest, entry.at)
            elif entry.state == "early":
                if now - entry.at > s.early_label_grace_seconds and entry.label is not None:
                    orphans.append((key, entry.label))
            elif now - entry.at > s.pending_tombstone_seconds:
                drop.append(key)
        for key in expired:
            self.store[key] = StoreEntry("expired", now).encode()
        for key in drop:
            del self.store[key]
        for key, rec in orphans:
            wait = s.early_label_grace_seconds
            await self._reject(rec, "unknown", f"no pending item for {key.decode()} in {wait}s")
            del self.store[key]
        if expired:
            self.sampler.expire(len(expired))
            self.metrics.expired.inc(len(expired))
        self.metrics.pending_items.set(pending)
        self.metrics.oldest_pending_age.set(now - oldest if pending else 0.0)
        return len(expired)
