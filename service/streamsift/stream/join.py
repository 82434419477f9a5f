"""The join: labels meet the pending items they answer; quality control decides what trains.

The pending store maps ``event_id`` (bytes) to a :class:`StoreEntry`:

* ``pending``: the pending item with the labels received so far;
* ``early``: labels (one per annotator) that arrived before their pending item
  (the two come from different topics, so the join may read a label first); they
  wait ``early_label_grace_seconds`` for the item, then are dead-lettered as unknown;
* ``joined`` / ``held_out`` / ``gold`` / ``expired``: small markers kept for
  ``pending_tombstone_seconds`` so that a further label, or a late one, is
  recognised as such.

The per-item policy is the core's :class:`~streamsift.core.quality.LabelCollector`
(:func:`make_collector`): ``expect`` when the pending item arrives (with its
``annotators_needed`` and, for an injected gold item, its ``gold_label``),
``add_label`` per label (with the online model's prediction, for second opinions),
``poll`` on the expiry timer. Its outcomes: ``Aggregated`` goes to the training
topic (the only thing that trains; gold never does), ``NeedsMoreOpinions`` sends a
fresh request for one more annotator, ``HeldOut`` and ``GoldScored`` are counted.

**Restart.** The store entry of a pending item keeps every label received, how
many annotators it needs now and the partition it came from, so the collector's
item state is rebuilt from the store (restored from its changelog) the first time
the item is touched after a restart or reassignment (``expect`` at ``entry.at``,
labels replayed).

**Annotator statistics** (gold answers, the Dawid-Skene window, hence the flags)
are kept per partition: every item counts towards the partition it came from (the
collector's ``group``). Each partition's share is saved as a
:class:`~streamsift.core.quality.QualityState` in the ``quality_store`` (a
store keyed by partition number whose changelog record goes to that very
partition, :mod:`streamsift.stream.changelog_store`) on the expiry timer when it
changed, before the partition is revoked and at a graceful stop. The first time
the join sees a partition after an assignment (a record of it, a pending entry of
it, or :meth:`Joiner.load_partitions` from the timer) it merges that partition's
saved share into the collector, once; a revoked partition's share is saved and
taken back out (:meth:`Joiner.release_partitions`). A SIGKILL loses what changed
since the last save (one ``expiry_check_seconds``). In tier-2 tests the stores are
dicts.

Examples
--------
>>> from streamsift.schemas import PendingItem
>>> item = PendingItem(event_id="e1", request_id="r1", features={"x": 1.0}, score=0.5,
...     p=0.25, arm="active", region="eu", requested_at="2026-01-01T00:00:00Z",
...     annotators_needed=3)
>>> entry = StoreEntry("pending", 0.0, item, labels=(("a1", "yes", 60.0),), part=2)
>>> back = StoreEntry.decode(entry.encode())
>>> back.labels, back.n_needed, back.state, back.part
((('a1', 'yes', 60.0),), 3, 'pending', 2)
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from streamsift.config import Settings
from streamsift.core.quality import (
    Aggregated,
    GoldScored,
    HeldOut,
    LabelCollector,
    NeedsMoreOpinions,
    QualityState,
    QualityStateError,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    model_judges,
)
from streamsift.core.quality import Outcome as QualityOutcome
from streamsift.core.types import Decision, Label, Proba
from streamsift.errors import SchemaError
from streamsift.metrics import Metrics
from streamsift.schemas import LabelEvent, LabelRequest, PendingItem, decode
from streamsift.stream.convert import encode_labelled, join_item
from streamsift.stream.deadletter import DeadLetters
from streamsift.stream.ports import SamplerLike, Sink
from streamsift.stream.records import SourceRecord

__all__ = [
    "Joiner",
    "StoreEntry",
    "make_collector",
    "pending_decision",
    "quality_key",
    "reask_request",
]

log = logging.getLogger(__name__)

State = Literal["pending", "early", "joined", "expired", "held_out", "gold"]
Outcome = Literal[
    "joined",
    "early",
    "duplicate",
    "redelivered",
    "unknown",
    "expired",
    "unlearnable_class",
    "waiting",
    "more_opinions",
    "held_out",
    "gold",
]
#: Markers: the item is finished; a further label for it is a duplicate or late.
DONE: tuple[State, ...] = ("joined", "held_out", "gold")


@dataclass(frozen=True)
class StoreEntry:
    """A pending-store value.

    ``at`` is the request time of a pending item (moved to the time of the last
    extra-opinion request, so that the collector's deadline can be rebuilt), the
    arrival time of the first early label, the join or expiry time of a marker.
    An early entry keeps the labels' source records (for their dead letters, should
    the item never come), one per annotator. A pending entry keeps the labels
    received so far (annotator, label, labelled_at) and how many distinct
    annotators it needs now (``needed``; 0: the item's ``annotators_needed``):
    enough to rebuild the :class:`~streamsift.core.quality.LabelCollector` entry
    after a restart. ``part`` is the partition of the pending item's record (-1:
    unknown, an entry written before it was kept): its statistics count there, and
    ``pos`` is that record's offset (-1: unknown). ``seen`` holds the
    ``(partition, offset)`` of every label record the item took or dead-lettered
    (an early entry's parked records count too). A marker keeps ``part``, ``pos``
    and ``seen``: a record read again after a restart that came before its offset
    was committed is a redelivery, not a second label, request or dead letter.
    """

    state: State
    at: float
    item: PendingItem | None = None
    early: tuple[SourceRecord, ...] = ()
    labels: tuple[tuple[str, Label, float], ...] = ()
    needed: int = 0
    part: int = -1
    seen: tuple[tuple[int, int], ...] = ()
    pos: int = -1

    @property
    def label(self) -> SourceRecord | None:
        """The first parked early label, if any."""
        return self.early[0] if self.early else None

    @property
    def n_needed(self) -> int:
        """Distinct annotators the item needs now."""
        if self.needed:
            return self.needed
        return 1 if self.item is None else self.item.annotators_needed

    def encode(self) -> bytes:
        """Serialise for the store."""
        body: dict[str, Any] = {"state": self.state, "at": self.at}
        body["item"] = None if self.item is None else self.item.model_dump(mode="json")
        if self.early:
            body["early"] = [
                [r.topic, r.partition, r.offset, _b64(r.key), _b64(r.value), r.timestamp]
                for r in self.early
            ]
        if self.labels:
            body["labels"] = [list(t) for t in self.labels]
        if self.needed:
            body["needed"] = self.needed
        if self.part >= 0:
            body["part"] = self.part
        if self.seen:
            body["seen"] = [list(t) for t in self.seen]
        if self.pos >= 0:
            body["pos"] = self.pos
        return json.dumps(body).encode()

    def marker(self, state: State, at: float) -> StoreEntry:
        """The finished item's marker, keeping the records it took."""
        return StoreEntry(state, at, part=self.part, seen=self.seen, pos=self.pos)

    def holds(self, rec: SourceRecord) -> bool:
        """Whether ``rec`` is the pending record this entry came from (a redelivery)."""
        return self.pos >= 0 and (rec.partition, rec.offset) == (self.part, self.pos)

    def took(self, rec: SourceRecord) -> bool:
        """Whether ``rec`` is a label record this entry already handled (a redelivery)."""
        if rec.offset < 0:
            return False
        if (rec.partition, rec.offset) in self.seen:
            return True
        return any(r.partition == rec.partition and r.offset == rec.offset for r in self.early)

    @classmethod
    def decode(cls, raw: bytes) -> StoreEntry:
        """Read back what :meth:`encode` wrote."""
        body = json.loads(raw)
        item = None if body["item"] is None else PendingItem.model_validate(body["item"])
        early = tuple(
            SourceRecord(r[0], r[1], r[2], _unb64(r[3]), _unb64(r[4]), float(r[5]))
            for r in body.get("early", ())
        )
        labels = tuple((str(a), lab, float(t)) for a, lab, t in body.get("labels", ()))
        return cls(
            body["state"],
            float(body["at"]),
            item,
            early,
            labels,
            int(body.get("needed", 0)),
            int(body.get("part", -1)),
            tuple((int(p), int(o)) for p, o in body.get("seen", ())),
            int(body.get("pos", -1)),
        )


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def quality_key(partition: int) -> bytes:
    """Key of a partition's saved annotator statistics in the quality store.

    >>> quality_key(3)
    b'3'
    """
    return str(partition).encode()


def make_collector(settings: Settings) -> LabelCollector:
    """The core's label collector configured from the settings."""
    s = settings
    return LabelCollector(
        timeout=s.quality_timeout_seconds or s.pending_ttl_seconds,
        min_confidence=s.quality_min_confidence,
        max_extra_opinions=s.quality_max_extra_opinions,
        contradiction_confidence=s.contradiction_confidence,
        gold_min_answers=s.quality_gold_min_answers,
        flag_below=s.quality_flag_below,
        policy=s.quality_policy,
        ds_min_items=s.quality_ds_min_items,
        ds_refit_every=s.quality_ds_min_items,
    )


class Joiner:
    """Maintain the pending store and resolve labels through the label collector.

    Parameters
    ----------
    settings
        Topics, TTLs, the early-label grace, the quality-control settings.
    sampler
        ``label_arrived`` / ``expire`` are reported to it; ``take_extra`` takes the
        capacity of an extra opinion before it is requested; its model says which
        classes can be learned and gives the online prediction for second opinions.
    sink
        Where aggregates (training topic), extra-opinion requests and dead letters go.
    metrics
        The project's metrics.
    store
        event_id bytes to :meth:`StoreEntry.encode` bytes (the join's changelog-backed
        store of its partitions, :mod:`streamsift.stream.changelog_store`; a new key
        goes to the partition of the record being handled, a later write to where the
        key lives).
    clock
        Wall clock, seconds since the epoch.
    quality_store
        :func:`quality_key` to encoded :class:`~streamsift.core.quality.QualityState`
        (a changelog-backed store keyed by partition); ``None``: annotator statistics
        are not kept across restarts.
    """

    def __init__(
        self,
        settings: Settings,
        sampler: SamplerLike,
        sink: Sink,
        metrics: Metrics,
        store: MutableMapping[bytes, bytes],
        clock: Callable[[], float] = time.time,
        quality_store: MutableMapping[bytes, bytes] | None = None,
    ) -> None:
        self.settings = settings
        self.sampler = sampler
        self.sink = sink
        self.metrics = metrics
        self.store = store
        self.clock = clock
        self.dead_letters = DeadLetters(sink, settings.topic_dead_letters, metrics, clock)
        self.collector = make_collector(settings)
        self._known: set[str] = set()  # item ids the collector holds
        self.quality_store = quality_store
        self._loaded: set[int] = set()  # partitions whose saved statistics were merged
        self._dirty: set[int] = set()  # loaded partitions changed since their last save

    # --- per-partition annotator statistics ----------------------------------------
    def load_partitions(self, partitions: Iterable[int]) -> list[int]:
        """Merge the saved statistics of each partition not merged yet since it was
        assigned (once; nothing without a quality store). Returns those merged now."""
        qs = self.quality_store
        if qs is None:
            return []
        done = []
        for p in partitions:
            if p < 0 or p in self._loaded:
                continue
            raw = qs.get(quality_key(p))
            self._loaded.add(p)
            done.append(p)
            if raw is None:
                continue
            try:
                state = QualityState.decode(raw)
            except QualityStateError as err:  # replaced by this worker's next save
                log.warning("saved annotator statistics of partition %d unreadable: %s", p, err)
                continue
            self.collector.restore(p, state)
            log.info(
                "partition %d: annotator statistics restored (%d annotators, %d gold answers,"
                " %d window items)",
                p,
                len(state.gold),
                sum(n for n, _ in state.gold.values()),
                len(state.items),
            )
        return done

    def save_quality(self, partitions: Iterable[int] | None = None) -> list[int]:
        """Write the statistics of changed loaded partitions (of ``partitions``, default
        all) to the quality store. Returns the partitions written."""
        qs = self.quality_store
        if qs is None:
            return []
        wanted = self._dirty if partitions is None else self._dirty & set(partitions)
        written = sorted(wanted & self._loaded)
        for p in written:
            qs[quality_key(p)] = self.collector.export(p).encode()
            self._dirty.discard(p)
        return written

    def release_partitions(self, partitions: Iterable[int]) -> None:
        """Revoked partitions: save their statistics, then take them out of the collector
        (with their pending items: the next owner rebuilds those from the store)."""
        gone = set(partitions)
        self.save_quality(gone)
        for p in gone:
            self._known.difference_update(self.collector.forget(p))
            self._loaded.discard(p)
            self._dirty.discard(p)

    @property
    def loaded_partitions(self) -> frozenset[int]:
        """Partitions whose saved statistics are merged into the collector."""
        return frozenset(self._loaded)

    def _entry(self, key: bytes) -> StoreEntry | None:
        raw = self.store.get(key)
        return None if raw is None else StoreEntry.decode(raw)

    async def _reject(self, rec: SourceRecord, reason: str, detail: str) -> None:
        self.metrics.labels_rejected.labels(reason=reason).inc()
        await (await self.dead_letters.send(rec, source="labels", reason=reason, detail=detail))

    async def _reject_seen(
        self, key: bytes, entry: StoreEntry, rec: SourceRecord, reason: str, detail: str
    ) -> None:
        """Dead-letter a label of a known item, then remember its record, so that the
        record read again after a restart is a redelivery (dead-lettered once). The
        dead letter is acknowledged first: a crash in between repeats it, never loses it."""
        await self._reject(rec, reason, f"label for event {detail}")
        if rec.offset >= 0:
            seen = (*entry.seen, (rec.partition, rec.offset))
            self.store[key] = replace(entry, seen=seen).encode()

    def _ensure(self, item_id: str, entry: StoreEntry) -> None:
        """Make the collector hold a pending entry (rebuilt from the store after a
        restart or a reassignment: its deadline from ``entry.at``, its labels replayed)."""
        if item_id in self._known or entry.item is None:
            return
        c = self.collector
        gold = entry.item.gold_label
        group = entry.part if entry.part >= 0 else None
        self.load_partitions([entry.part])
        c.expect(item_id, entry.at, n_annotators=entry.n_needed, gold_label=gold, group=group)
        self._known.add(item_id)
        for annotator, lab, at in entry.labels:
            c.add_label(item_id, annotator, lab, at)

    async def on_pending(self, rec: SourceRecord) -> None:
        """Add one pending item (from the pending topic) to the store and the collector."""
        try:
            item = decode(PendingItem, rec.value)
        except SchemaError as err:
            await (
                await self.dead_letters.send(
                    rec, source="pending", reason=err.reason, detail=err.detail
                )
            )
            return
        self.load_partitions([rec.partition])
        key = item.event_id.encode()
        existing = self._entry(key)
        if existing is not None and existing.holds(rec):
            # read again after a restart before its offset was committed: handled once
            self.metrics.redelivered.labels(source="pending").inc()
            return
        at = item.requested_at.timestamp()
        seen = existing.seen if existing is not None and existing.state == "early" else ()
        entry = StoreEntry("pending", at, item, part=rec.partition, seen=seen, pos=rec.offset)
        if existing is None:
            self.store[key] = entry.encode()
            self._ensure(item.event_id, entry)
        elif existing.state == "early":
            self.store[key] = entry.encode()
            self._ensure(item.event_id, entry)
            for waiting in existing.early:  # its labels were waiting
                await self.on_label(waiting, arrived=False)
        elif existing.item is None or existing.item.request_id != item.request_id:
            self.metrics.duplicate_pending.inc()
            log.warning("second request for event %s ignored by the join", item.event_id)

    def _model_proba(self, entry: StoreEntry) -> Proba | None:
        """The online model's prediction, for second opinions on single-label items;
        None while the model is relearning after a concept change
        (:func:`~streamsift.core.quality.model_judges`)."""
        item = entry.item
        if item is None or item.gold_label is not None or entry.n_needed != 1:
            return None
        model = self.sampler.model
        if not model_judges(model):
            return None
        predict = getattr(model, "predict_proba_one", None)
        if not callable(predict):
            return None
        try:
            proba = dict(predict(dict(item.features)))
        except Exception as exc:  # the label must not be lost to a model error
            log.warning("predict_proba_one failed for %s: %r", item.event_id, exc)
            return None
        return cast("Proba", proba) if proba else None

    async def on_label(self, rec: SourceRecord, *, arrived: bool = True) -> Outcome | None:
        """Pass one label to the collector and act on what it decides.

        Returns the outcome (``None`` for an undecodable label). ``arrived=False``
        replays a parked early label (not counted twice).
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
        self.load_partitions([rec.partition])
        key = label.event_id.encode()
        now = self.clock()
        entry = self._entry(key)
        if entry is not None and entry.took(rec):
            # read again after a restart before its offset was committed: handled once
            m.redelivered.labels(source="labels").inc()
            return "redelivered"
        if entry is None or entry.state == "early":
            parked = () if entry is None else entry.early
            if entry is not None and any(_annotator(r) == label.annotator_id for r in parked):
                await self._reject_seen(key, entry, rec, "duplicate", f"{label.event_id}: early")
                return "duplicate"
            at = now if entry is None else entry.at
            seen = () if entry is None else entry.seen
            self.store[key] = StoreEntry("early", at, early=(*parked, rec), seen=seen).encode()
            return "early"
        if entry.state in DONE or (
            entry.state == "pending" and any(a == label.annotator_id for a, _, _ in entry.labels)
        ):
            await self._reject_seen(key, entry, rec, "duplicate", f"{label.event_id}: duplicate")
            return "duplicate"
        if entry.state == "expired" or entry.item is None:
            await self._reject_seen(key, entry, rec, "expired", f"{label.event_id}: expired")
            return "expired"
        is_gold = entry.item.gold_label is not None
        if not is_gold and not self.sampler.model.can_learn_label(label.label):
            detail = f"{label.event_id}: unlearnable_class"
            await self._reject_seen(key, entry, rec, "unlearnable_class", detail)
            return "unlearnable_class"
        self._ensure(label.event_id, entry)
        labelled_at = label.labelled_at.timestamp()
        self.sampler.label_arrived(rec.timestamp if rec.timestamp > 0 else now)
        seen = entry.seen if rec.offset < 0 else (*entry.seen, (rec.partition, rec.offset))
        entry = replace(
            entry,
            labels=(*entry.labels, (label.annotator_id, label.label, labelled_at)),
            seen=seen,
        )
        self.store[key] = entry.encode()
        outcomes = self.collector.add_label(
            label.event_id,
            label.annotator_id,
            label.label,
            now,
            model_proba=self._model_proba(entry),
        )
        result: Outcome = "waiting"
        for out in outcomes:
            result = await self._act(key, entry, out, now)
        return result

    async def _act(self, key: bytes, entry: StoreEntry, out: QualityOutcome, now: float) -> Outcome:
        """Carry out one collector outcome for the item under ``key``."""
        m = self.metrics
        item = entry.item
        assert item is not None
        if entry.part in self._loaded:
            self._dirty.add(entry.part)
        if isinstance(out, GoldScored):
            result = "correct" if out.correct else "wrong"
            m.gold_answers.labels(annotator=m.annotators(out.annotator), result=result).inc()
            self._known.discard(out.item_id)
            self.store[key] = entry.marker("gold", now).encode()
            return "gold"
        if isinstance(out, NeedsMoreOpinions):
            return await self._ask_again(key, entry, out, now)
        if (
            isinstance(out, Aggregated)
            and out.method == "single"
            and entry.needed > item.annotators_needed
            and len(entry.labels) < entry.needed
        ):
            # A second opinion was asked and never came; the collector rebuilt after a
            # restart does not know the first label contradicted the model: hold it out.
            out = HeldOut(out.item_id, "contradicts_model")
        if not isinstance(out, Aggregated):
            self._known.discard(out.item_id)
        if isinstance(out, HeldOut):
            if not entry.labels:  # nothing arrived in time: the old expiry
                self.sampler.expire(entry.n_needed)
                m.expired.inc()
                self.store[key] = entry.marker("expired", now).encode()
                return "expired"
            missing = entry.n_needed - len(entry.labels)
            if missing > 0:
                self.sampler.expire(missing)
            m.held_out.labels(reason=out.reason).inc()
            log.info(
                "item %s held out of training (%s) after %d labels",
                item.event_id,
                out.reason,
                len(entry.labels),
            )
            self.store[key] = entry.marker("held_out", now).encode()
            return "held_out"
        assert isinstance(out, Aggregated)
        if not self.sampler.model.can_learn_label(out.label):
            m.held_out.labels(reason="low_confidence").inc()
            self.store[key] = entry.marker("held_out", now).encode()
            return "held_out"
        missing = entry.n_needed - len(entry.labels)
        if missing > 0:  # aggregated at the timeout without every label
            self.sampler.expire(missing)
        labelled_at = max(t for _, _, t in entry.labels)
        trained = join_item(item, _as_label(item.event_id, out.label, labelled_at))
        await (
            await self.sink.send(
                self.settings.topic_training, encode_labelled(trained), key=key, partition=0
            )
        )
        self.store[key] = entry.marker("joined", now).encode()
        self._known.discard(out.item_id)  # after the marker: a label read meanwhile is late
        m.aggregated.labels(method=out.method).inc()
        m.labels_joined.labels(arm=item.arm).inc()
        m.label_latency.observe(max(0.0, trained.labelled_at - trained.requested_at))
        return "joined"

    async def _ask_again(
        self, key: bytes, entry: StoreEntry, out: NeedsMoreOpinions, now: float
    ) -> Outcome:
        """Publish a fresh request (new request id, same event, one annotator) if the
        sampler's capacity has room for one more label: the label takes its token from
        the same bucket (and money budget) as every selection *before* it is requested
        (``Sampler.take_extra``). Without room the opinion is not asked: counted in
        ``streamsift_quality_extra_labels_refused_total{kind}`` and the item is held out
        with the reason the opinion was wanted (never silently resolved)."""
        item = entry.item
        assert item is not None
        m = self.metrics
        kind = "second_opinion" if out.reason == "contradicts_model" else "extra_opinion"
        if out.reason == "contradicts_model":
            m.contradictions.inc()
        if not self.sampler.take_extra(pending_decision(item), now):
            m.extra_labels_refused.labels(kind=kind).inc()
            return await self._act(key, entry, self.collector.decline(out.item_id), now)
        m.extra_labels.labels(kind=kind).inc()
        request = reask_request(item, self.settings, now=now)
        ack = await self.sink.send(
            self.settings.topic_label_requests, request.model_dump_json().encode(), key=key
        )
        await ack
        self.store[key] = replace(entry, at=now, needed=len(entry.labels) + 1).encode()
        return "more_opinions"

    async def expire(self) -> int:
        """Resolve items past their deadline, expire old early labels, drop old markers.

        Returns the items that expired with no label at all.
        """
        s = self.settings
        now = self.clock()
        orphans: list[tuple[bytes, SourceRecord]] = []
        drop: list[bytes] = []
        gold_expired: list[tuple[bytes, StoreEntry]] = []
        pending = 0
        oldest = now
        for key, raw in list(self.store.items()):
            entry = StoreEntry.decode(raw)
            if entry.state == "pending":
                self._ensure(key.decode(), entry)
                gold = entry.item is not None and entry.item.gold_label is not None
                if gold and now >= entry.at + self.collector.timeout:
                    gold_expired.append((key, entry))  # the collector drops it silently
                    continue
                pending += 1
                oldest = min(oldest, entry.at)
            elif entry.state == "early":
                if now - entry.at > s.early_label_grace_seconds:
                    orphans.extend((key, r) for r in entry.early)
            elif now - entry.at > s.pending_tombstone_seconds:
                drop.append(key)
        for key in drop:
            del self.store[key]
        for key, rec in orphans:
            wait = s.early_label_grace_seconds
            await self._reject(rec, "unknown", f"no pending item for {key.decode()} in {wait}s")
            self.store.pop(key, None)
        expired = len(gold_expired)
        for key, entry in gold_expired:
            self.store[key] = entry.marker("expired", now).encode()
            self._known.discard(key.decode())
        if gold_expired:
            self.sampler.expire(len(gold_expired))
            self.metrics.expired.inc(len(gold_expired))
        for out in self.collector.poll(now):
            key = out.item_id.encode()
            current = self._entry(key)
            if current is None or current.state != "pending":  # revoked, or resolved elsewhere
                self._known.discard(out.item_id)
                continue
            pending -= 1
            if await self._act(key, current, out, now) == "expired":
                expired += 1
        self.metrics.pending_items.set(max(0, pending))
        self.metrics.oldest_pending_age.set(now - oldest if pending > 0 else 0.0)
        self.save_quality()
        self.refresh_quality()
        return expired

    def refresh_quality(self) -> None:
        """Copy the collector's per-annotator accuracy, flags and agreement into gauges.

        Annotators beyond ``metrics_max_annotators`` (label ``other``) get no gauges: one
        series cannot hold several people's accuracy; their gold answers still count.
        """
        m = self.metrics
        for st in self.collector.annotators:
            name = m.annotators(st.annotator)
            if name == "other":
                continue
            if st.gold_accuracy is not None:
                m.annotator_accuracy.labels(annotator=name, source="gold").set(st.gold_accuracy)
            if st.ds_accuracy is not None:
                m.annotator_accuracy.labels(annotator=name, source="dawid_skene").set(
                    st.ds_accuracy
                )
            m.annotator_flagged.labels(annotator=name).set(1.0 if st.flagged else 0.0)
        window = self.collector.window  # the multi-label items of the Dawid-Skene window
        if len(window) >= 2:
            alpha = krippendorff_alpha_nominal(window).value
            if alpha == alpha:  # not nan
                m.agreement.labels(statistic="krippendorff_alpha").set(alpha)
            sizes = Counter(len(u) for u in window)
            n, _ = sizes.most_common(1)[0]
            rows = [u for u in window if len(u) == n]
            cats = sorted({str(v) for u in rows for v in u})
            counts = [[sum(1 for v in u if str(v) == c) for c in cats] for u in rows]
            kappa = fleiss_kappa(counts).value
            if kappa == kappa:
                m.agreement.labels(statistic="fleiss_kappa").set(kappa)


def _annotator(rec: SourceRecord) -> str | None:
    try:
        return decode(LabelEvent, rec.value).annotator_id
    except SchemaError:
        return None


def _as_label(event_id: str, label: Label, labelled_at: float) -> LabelEvent:
    return LabelEvent(
        event_id=event_id,
        label=label,
        annotator_id="aggregate",
        labelled_at=datetime.fromtimestamp(labelled_at, UTC),
    )


def selected_decision(
    event_id: str, arm: str, score: float, p: float, region: str, model_version: int
) -> Decision:
    """The recorded selection of one event (to confirm it with the sampler after a send)."""
    arm_: Any = arm
    return Decision(
        event_id=event_id,
        selected=True,
        arm=arm_,
        score=score,
        p=p,
        region=region,
        reason="selected",
        model_version=model_version,
    )


def pending_decision(item: PendingItem) -> Decision:
    """The selection a pending item stands for (to confirm an extra label with the sampler)."""
    return selected_decision(
        item.event_id, item.arm, item.score, item.p, item.region, item.scored_model_version
    )


def reask_request(item: PendingItem, settings: Settings, *, now: float) -> LabelRequest:
    """One more opinion on ``item``: a fresh request id for the same event, one annotator.

    Built from the pending record (allow-listed features, the same score / p / arm /
    region); ``strategy`` is the configured strategy name and ``model_id`` is empty,
    since the pending record does not carry them.
    """
    allowed = settings.labeller_features
    feats = item.features
    shown = feats if allowed is None else {k: feats[k] for k in allowed if k in feats}
    return LabelRequest(
        request_id=uuid.uuid4().hex,
        event_id=item.event_id,
        requested_at=datetime.fromtimestamp(now, UTC),
        features=shown,
        score=item.score,
        strategy=settings.strategy,
        arm=item.arm,
        p=item.p,
        region=item.region,
        scored_model_version=item.scored_model_version,
        annotators_needed=1,
    )
