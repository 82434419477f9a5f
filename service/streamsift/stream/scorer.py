"""The scorer: decode a batch of inference events, decide, log, request, count.

:meth:`Scorer.process` is everything the scorer does with one batch polled
from inference-events; it holds no scoring logic (that is the Sampler's).
Per batch, in this order:

1. rebuild the dedupe set of any input partition seen for the first time since it
   was assigned, finishing requests a crashed worker logged but never sent
   (:mod:`streamsift.stream.recovery`);
2. decode and validate every record (bad ones become dead letters, sent in record
   order once the batch is decided), drop ids already decided (counted), and
   decide the rest with ``Sampler.decisions`` (the decisions of ``Sampler.decide``
   per event, the batch's independent work done at once; a sampler without it is
   asked ``decide`` per event), building the request of each selected event before
   the next event's selection. A record whose event id is already among the
   batch's undecided records is checked for duplicates only after those are
   decided, as when each record was decided in turn;
3. send the decision-log records and dead letters and wait for their acks;
4. send the pending items of the selected events, wait; then their label requests
   and the drift events, wait;
5. ``Sampler.confirm`` each selected decision (decide first, record later).

Quality control (issue 6): the :class:`~streamsift.core.quality.RedundancyPolicy`
sets each selected item's ``annotators_needed`` (1 or ``redundancy_k``, in both
the request and the pending item); the :class:`~streamsift.core.quality.GoldMixer`
(gold set from ``gold_path``; none when unset) adds, per real request with
probability ``gold_rate``, a gold request: fresh opaque request and event ids, the
gold item's allow-listed features, the arm / score / p / region / strategy of the
request it rides along with, one annotator; its pending item carries
``gold_label``. **Capacity:** every label counts. Each extra annotator of a
redundant item and each gold request first takes its token from the sampler's
bucket and money budget (``Sampler.take_extra``) before the request is built; when
refused, the item asks fewer annotators (down to 1) or the gold request is not
made, counted in ``streamsift_quality_extra_labels_refused_total{kind}``
(``redundancy``, ``gold``). The selection itself is confirmed after its send as
always, so the sampler's rate and budget control see every label and select fewer
items to make room (requested extras are counted in
``streamsift_quality_extra_labels_total{kind}``). Gold requests
are not in the decision log: a worker killed between logging a batch and sending
its requests re-sends the real requests, not the gold ones (a lost gold probe).
A gold event id is a uuid4 hex: indistinguishable when producers use opaque ids too;
producers with patterned ids (``syn1-0000001234``) make gold ids recognisable, so
real deployments should key events by opaque ids. Extra confirmations also enter the
sampler's running mean of ``p`` (importance weights), as the labels they stand for do.

The intake marks the batch's offsets as processed only after ``process`` returned
(:mod:`streamsift.stream.offsets`), so an event is committed only once everything
it caused is on the broker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from streamsift.config import Settings
from streamsift.core.quality import GoldMixer, GoldRequest, GoldSet, RedundancyPolicy
from streamsift.core.types import CoreEvent, Decision
from streamsift.errors import SchemaError
from streamsift.metrics import Metrics, observe_many
from streamsift.schemas import InferenceEvent, LabelRequest, Limits, PendingItem, decode
from streamsift.stream.convert import build_request, decode_core_event, drift_event
from streamsift.stream.deadletter import DeadLetters
from streamsift.stream.decisions import LoggedDecision, encode_rows
from streamsift.stream.dedupe import Dedupe
from streamsift.stream.join import selected_decision
from streamsift.stream.ports import SamplerLike, Sink
from streamsift.stream.records import SourceRecord
from streamsift.stream.recovery import LogReader

__all__ = ["BatchReport", "Scorer", "gather_acks"]

log = logging.getLogger(__name__)

SOURCE = "inference-events"


async def gather_acks(acks: Iterable[Awaitable[Any]]) -> None:
    """Wait for every acknowledgement; raise the first failure after all settled."""
    errors = []
    for ack in list(acks):
        try:
            await ack
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


@dataclass(frozen=True)
class BatchReport:
    """What one call of :meth:`Scorer.process` did."""

    consumed: int
    decided: int
    selected: int
    invalid: int
    duplicates: int
    recovered: int


@dataclass
class _Selected:
    decision: Decision
    request: bytes
    pending: bytes
    event_id: str
    event: CoreEvent | None = None
    at: float = 0.0
    n_labels: int = 1
    gold: bool = False
    #: Its extra labels (annotators beyond the first; a gold request's one label)
    #: already took their capacity with ``Sampler.take_extra``; only a request
    #: re-sent after a crash is confirmed for all of them after the send.
    extras_taken: bool = True


class Scorer:
    """Drive the sampler over batches of raw inference events.

    Parameters
    ----------
    settings
        Topic names, limits, dedupe horizon, labeller allow-list.
    sampler
        The core's sampler (``decide`` / ``confirm``).
    sink
        Where messages go.
    metrics
        The project's metrics.
    reader
        Reads the decision log and label-requests back after a (re)assignment.
    input_partitions
        Partition count of inference-events (sizes the dedupe set per partition).
    worker_id
        Written into decision records.
    clock
        Wall clock, seconds since the epoch.
    """

    def __init__(
        self,
        settings: Settings,
        sampler: SamplerLike,
        sink: Sink,
        metrics: Metrics,
        reader: LogReader,
        *,
        input_partitions: int,
        worker_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sampler = sampler
        self.sink = sink
        self.metrics = metrics
        self.reader = reader
        self.worker_id = worker_id
        self.clock = clock
        self.limits = Limits(
            settings.max_message_bytes, settings.max_features, settings.max_embedding
        )
        self.dedupe = Dedupe(settings.dedupe_horizon, input_partitions)
        self.dead_letters = DeadLetters(sink, settings.topic_dead_letters, metrics, clock)
        self._selection_ratio: float | None = None
        self._last_time = 0.0
        self.redundancy = RedundancyPolicy(
            share=settings.redundancy_share, k=settings.redundancy_k, seed=settings.seed
        )
        self.gold: GoldMixer | None = None
        if settings.gold_path and settings.gold_rate > 0:
            self.gold = GoldMixer(
                GoldSet.from_jsonl(settings.gold_path), rate=settings.gold_rate, seed=settings.seed
            )

    def _log_time(self, rec: SourceRecord | None) -> float:
        """The sampler's clock: the record's Kafka timestamp (its arrival in the log).

        Arrival times keep the sampler's event-rate estimate true to the input even
        when this worker lags, catches up after a restart, or processes in bursts;
        the wall clock would see processing speed instead. Kept monotonic; the wall
        clock stands in for records without a timestamp.
        """
        t = rec.timestamp if rec is not None and rec.timestamp > 0 else self.clock()
        if t > self._last_time:
            self._last_time = t
        return self._last_time

    def on_revoked(self, partitions: Iterable[int]) -> None:
        """Forget revoked input partitions (their dedupe state is rebuilt on return)."""
        for p in partitions:
            self.dedupe.forget(p)

    async def process(self, records: Sequence[SourceRecord]) -> BatchReport:
        """Process one batch; return only when every resulting message was acknowledged."""
        started = time.perf_counter()
        m = self.metrics
        settle = getattr(self.sampler, "settle", None)
        if callable(settle):  # every earlier decision was confirmed or dropped by now
            settle()
        recovered = 0
        firsts: dict[int, int] = {}
        for rec in records:
            firsts[rec.partition] = min(rec.offset, firsts.get(rec.partition, rec.offset))
        for partition, first in firsts.items():
            if not self.dedupe.is_loaded(partition):
                recovered += await self._load_partition(partition, first)

        acks: list[Awaitable[Any]] = []
        logged: dict[int, list[list[object]]] = {}
        selected: list[_Selected] = []
        drift: list[Any] = []
        by_arm_region: Tally[tuple[str, str]] = Tally()
        timings: list[float] = []
        invalid = dupes = 0
        limits = self.limits
        check = self.dedupe.check
        # Dead letters in record order, sent once the records are decided.
        dead: list[tuple[int, SourceRecord, str, str]] = []
        invalid_reasons: Tally[str] = Tally()
        dupe_kinds: Tally[str] = Tally()
        # Records are decided in segments of the batch: a record whose event id is in
        # the open segment ends it, so that its duplicate check sees the decisions
        # before it (as when every record was decided before the next was checked).
        segment: list[tuple[int, SourceRecord, CoreEvent, float]] = []
        in_segment: set[str] = set()
        for index, rec in enumerate(records):
            try:
                core = decode_core_event(rec.value, limits)
            except SchemaError as err:
                invalid += 1
                invalid_reasons[err.reason] += 1
                dead.append((index, rec, err.reason, err.detail))
                continue
            event_id = core.event_id
            if event_id in in_segment:
                self._decide(segment, selected, logged, drift, by_arm_region, timings, dead)
                segment, in_segment = [], set()
            seen = check(rec.partition, event_id, rec.offset)
            if seen != "new":
                dupes += 1
                dupe_kinds[seen] += 1
                continue
            at = rec.timestamp  # self._log_time(rec), inlined
            if not at > 0:
                at = self.clock()
            if at > self._last_time:
                self._last_time = at
            else:
                at = self._last_time
            segment.append((index, rec, core, at))
            in_segment.add(event_id)
        if segment:
            self._decide(segment, selected, logged, drift, by_arm_region, timings, dead)
        for reason, k in invalid_reasons.items():
            m.events_invalid.labels(reason=reason).inc(k)
        for kind, k in dupe_kinds.items():
            m.duplicates.labels(kind=kind).inc(k)
        dead.sort(key=_first)
        for _, rec, reason, detail in dead:
            acks.append(await self._dead(rec, reason, detail))
        observe_many(m.scoring_duration, timings)

        decided = sum(len(v) for v in logged.values())
        m.events_consumed.inc(len(records))
        m.events_valid.inc(len(records) - invalid)
        now = self.clock()
        requests = {s.event_id: (s.request, s.pending) for s in selected}
        for partition, rows in logged.items():
            for raw in encode_rows(
                self.settings.topic_inference_events, partition, self.worker_id, now, rows, requests
            ):
                acks.append(
                    await self.sink.send(self.settings.topic_decisions, raw, partition=partition)
                )
        await gather_acks(acks)
        await self._send_requests(selected, drift, now)
        for (arm, region), n in by_arm_region.items():
            m.decisions.labels(arm=arm, region=m.regions(region)).inc(n)
        self._observe_selection(decided, len(selected))
        m.batch_duration.observe(time.perf_counter() - started)
        return BatchReport(len(records), decided, len(selected), invalid, dupes, recovered)

    def _decide(
        self,
        segment: Sequence[tuple[int, SourceRecord, CoreEvent, float]],
        selected: list[_Selected],
        logged: dict[int, list[list[object]]],
        drift: list[Any],
        by_arm_region: Tally[tuple[str, str]],
        timings: list[float],
        dead: list[tuple[int, SourceRecord, str, str]],
    ) -> None:
        """Decide the new records of one segment in order (``Sampler.decisions``: the
        batch's independent work at once, each selection in turn), build the requests
        of the selected ones, remember them for dedupe and log them."""
        m = self.metrics
        allowed = self.settings.labeller_features
        limits = self.limits
        add = self.dedupe.add
        take_extra = self.sampler.take_extra
        perf = time.perf_counter
        events = [core for _, _, core, _ in segment]
        times = [at for _, _, _, at in segment]
        t0 = perf()
        batch = getattr(self.sampler, "decisions", None)
        results = batch(events, times) if callable(batch) else self._one_by_one(events, times)
        shared = (perf() - t0) / len(events)  # the batch's work, spread over its events
        nxt = results.__next__
        for index, rec, core, at in segment:
            event_id = core.event_id
            t0 = perf()
            result = nxt()
            timings.append(perf() - t0 + shared)
            try:
                if not isinstance(result, Decision):
                    raise result
                decision = result
                request_id = None
                if decision.selected:
                    request_id = uuid.uuid4().hex
                    # the message itself only for the few selected events
                    event = decode(InferenceEvent, rec.value, limits)
                    req, pend = build_request(
                        event,
                        decision,
                        request_id=request_id,
                        now=self.clock(),
                        allowed=allowed,
                        annotators_needed=self._annotators(decision, at),
                    )
                    selected.append(
                        _Selected(
                            decision,
                            req.model_dump_json().encode(),
                            pend.model_dump_json().encode(),
                            event_id,
                            core,
                            at,
                            req.annotators_needed,
                        )
                    )
                    drawn = self.gold.draw() if self.gold is not None else None
                    if drawn is not None:
                        gold = self._gold_request(drawn, req, decision, at)
                        if take_extra(gold.decision, at):
                            selected.append(gold)
                        else:
                            m.extra_labels_refused.labels(kind="gold").inc()
            except Exception as exc:  # a core bug must not stop the stream: dead-letter it
                log.exception("processing event %s failed", event_id)
                dead.append((index, rec, "processing_error", repr(exc)))
                continue
            add(rec.partition, event_id, rec.offset)
            if decision.drift:
                drift.extend(decision.drift)
            by_arm_region[(decision.arm, decision.region)] += 1
            rows = logged.get(rec.partition)
            if rows is None:
                rows = logged[rec.partition] = []
            rows.append(  # LoggedDecision.row() of this decision, built directly
                [
                    event_id,
                    rec.offset,
                    int(decision.selected),
                    decision.arm,
                    decision.p,
                    decision.score,
                    decision.region,
                    decision.model_version,
                    decision.reason,
                    request_id,
                ]
            )

    def _one_by_one(
        self, events: Sequence[CoreEvent], times: Sequence[float]
    ) -> Iterator[Decision | Exception]:
        """``Sampler.decisions`` of a sampler that only has ``decide``."""
        decide = self.sampler.decide
        for event, at in zip(events, times, strict=True):
            result: Decision | Exception
            try:
                result = decide(event, at)
            except Exception as exc:
                result = exc
            yield result

    async def _dead(self, rec: SourceRecord, reason: str, detail: str) -> Awaitable[Any]:
        return await self.dead_letters.send(rec, source=SOURCE, reason=reason, detail=detail)

    async def _send_requests(
        self, selected: Sequence[_Selected], drift: Sequence[Any] = (), now: float = 0.0
    ) -> None:
        """Pending items first (the join must know an item before its label can come);
        then the label requests and the drift events of ``drift`` (stamped ``now``),
        acknowledged together: one broker round trip less than a wait for each."""
        s = self.settings
        if not selected:
            await self._send_drift(drift, now)
            return
        await gather_acks(
            [
                await self.sink.send(s.topic_pending, x.pending, key=x.event_id.encode())
                for x in selected
            ]
        )
        acks = [
            await self.sink.send(s.topic_label_requests, x.request, key=x.event_id.encode())
            for x in selected
        ]
        acks.extend(await self._drift_sends(drift, now))
        await gather_acks(acks)
        confirm_event = getattr(self.sampler, "confirm_event", None)
        m = self.metrics
        for x in selected:
            if not x.gold:  # a gold request's label took its capacity before it was built
                if x.event is not None and callable(confirm_event):
                    confirm_event(x.decision, x.event, x.at)  # also feeds the diversity memory
                else:
                    self.sampler.confirm(x.decision, x.at)
            if not x.extras_taken:  # re-sent after a crash: the dead worker's tokens are gone
                for _ in range(x.n_labels - 1):
                    self.sampler.confirm(x.decision, x.at)
            m.label_requests.labels(arm=x.decision.arm).inc()
            if x.gold:
                m.extra_labels.labels(kind="gold").inc()
            elif x.n_labels > 1:
                m.extra_labels.labels(kind="redundancy").inc(x.n_labels - 1)

    def _annotators(self, decision: Decision, at: float) -> int:
        """Annotators to ask for a selected item: the redundancy policy's number, less
        the extra annotators the sampler has no capacity for (each takes its token
        first, ``Sampler.take_extra``; refusals are counted)."""
        wanted = self.redundancy.decide(decision.score)
        granted = 1
        take_extra = self.sampler.take_extra
        while granted < wanted and take_extra(decision, at):
            granted += 1
        if granted < wanted:  # the bucket does not refill at the same instant: stop asking
            self.metrics.extra_labels_refused.labels(kind="redundancy").inc(wanted - granted)
        return granted

    def _gold_request(
        self, drawn: GoldRequest, alongside: LabelRequest, decision: Decision, at: float
    ) -> _Selected:
        """A gold request shaped like ``alongside`` (same arm, score, p, region,
        strategy, time) under fresh opaque ids, and its pending item with the answer."""
        allowed = self.settings.labeller_features
        feats = dict(drawn.gold.features)
        shown = feats if allowed is None else {k: feats[k] for k in allowed if k in feats}
        event_id = uuid.uuid4().hex
        req = alongside.model_copy(
            update={
                "request_id": drawn.request_id,
                "event_id": event_id,
                "features": shown,
                "annotators_needed": 1,
            }
        )
        pend = PendingItem(
            event_id=event_id,
            request_id=drawn.request_id,
            features=feats,
            score=alongside.score,
            p=alongside.p,
            arm=alongside.arm,
            region=alongside.region,
            requested_at=alongside.requested_at,
            annotators_needed=1,
            gold_label=drawn.gold.label,
            scored_model_version=alongside.scored_model_version,
        )
        gold_decision = dataclasses.replace(decision, event_id=event_id, drift=())
        return _Selected(
            gold_decision,
            req.model_dump_json().encode(),
            pend.model_dump_json().encode(),
            event_id,
            None,
            at,
            1,
            True,
        )

    async def flush_drift(self) -> int:
        """Close the drift windows of quiet regions (timer); send their events."""
        flush = getattr(self.sampler, "flush_drift", None)
        if not callable(flush):
            return 0
        now = self.clock()
        results = list(flush(now))
        await self._send_drift(results, now)
        return len(results)

    async def _send_drift(self, results: Sequence[Any], now: float) -> None:
        await gather_acks(await self._drift_sends(results, now))

    async def _drift_sends(self, results: Sequence[Any], now: float) -> list[Awaitable[Any]]:
        """Send the drift events of ``results``; return their acks (not awaited)."""
        if not results:
            return []
        m = self.metrics
        boosts = dict(getattr(self.sampler.state, "boosts", {}) or {})
        acks = []
        for r in results:
            msg = drift_event(r, boost=float(boosts.get(r.region, 1.0)), now=now)
            acks.append(
                await self.sink.send(
                    self.settings.topic_drift_events,
                    msg.model_dump_json().encode(),
                    key=r.region.encode(),
                )
            )
            region = m.regions(r.region)
            m.drift_events.labels(region=region, drifted=str(bool(r.drifted)).lower()).inc()
            for f in r.features:
                feature = m.features(f.feature)
                if f.ks_statistic is not None:
                    m.drift_ks.labels(region=region, feature=feature).set(f.ks_statistic)
                m.drift_psi.labels(region=region, feature=feature).set(f.psi)
        return acks

    def _observe_selection(self, decided: int, selected: int) -> None:
        if decided == 0:
            return
        ratio = selected / decided
        alpha = min(1.0, decided / 1_000)
        prev = self._selection_ratio
        self._selection_ratio = ratio if prev is None else prev + alpha * (ratio - prev)
        self.metrics.selection_ratio.set(self._selection_ratio)

    async def _load_partition(self, partition: int, first_offset: int) -> int:
        """Rebuild one partition's dedupe set; re-send requests logged but never sent."""
        s = self.settings
        batches = await self.reader.decision_tail(partition, self.dedupe.per_partition)
        uncertain: dict[str, tuple[LoggedDecision, tuple[bytes, bytes], float]] = {}
        for batch in batches:
            if batch.source_topic != s.topic_inference_events:
                continue
            for d in batch.decisions:
                self.dedupe.add(partition, d.event_id, d.offset)
                if d.selected and d.offset >= first_offset and d.event_id in batch.requests:
                    uncertain[d.event_id] = (d, batch.requests[d.event_id], batch.decided_at)
        self.dedupe.mark_loaded(partition)
        if not uncertain:
            return 0
        since = min(at for _, _, at in uncertain.values()) - s.recovery_lookback_seconds
        sent = await self.reader.request_ids_since(since)
        at = self._log_time(None)
        missing = [
            _Selected(
                _as_decision(d), req, pend, eid, None, at, _annotators_needed(req), False, False
            )
            for eid, (d, (req, pend), _) in uncertain.items()
            if d.request_id not in sent
        ]
        log.warning(
            "partition %d: %d logged selections after offset %d, %d never reached %s; re-sending",
            partition,
            len(uncertain),
            first_offset,
            len(missing),
            s.topic_label_requests,
        )
        await self._send_requests(missing)
        self.metrics.recovered_requests.inc(len(missing))
        return len(missing)


def _first(item: tuple[int, SourceRecord, str, str]) -> int:
    return item[0]


def _as_decision(d: LoggedDecision) -> Decision:
    return selected_decision(d.event_id, d.arm, d.score, d.p, d.region, d.model_version)


def _annotators_needed(request: bytes) -> int:
    """``annotators_needed`` of a logged request (1 for records logged before it existed)."""
    try:
        return max(1, int(json.loads(request).get("annotators_needed", 1)))
    except (ValueError, TypeError, AttributeError):
        return 1
