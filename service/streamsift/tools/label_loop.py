"""The Kafka loop of the simulated labelling team (kafka-python consumer and producer).

Reads :class:`~streamsift.schemas.LabelRequest` messages from the label-requests
topic in a consumer group, hands them to a
:class:`~streamsift.tools.labelsim.LabellingTeam` on the wall clock, and publishes
each :class:`~streamsift.schemas.LabelEvent` to the labels topic (key event_id)
when it comes due. When the team's backlog is full, ``on_full="wait"`` pauses
the consumer (the requests wait in Kafka, as they would for a real team) and
``on_full="drop"`` refuses the request (it is never answered; the worker's
pending store expires it). A request id seen again is answered once.

Offsets are auto-committed: like a real team that lost its whiteboard, a crashed
simulator does not re-answer what it had accepted.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from streamsift.config import Settings
from streamsift.errors import SchemaError
from streamsift.schemas import LabelRequest, decode
from streamsift.stream.kafka_config import kafka_python_kwargs
from streamsift.tools.kafka_io import StopFlag, make_producer
from streamsift.tools.labelsim import LabellingTeam

__all__ = ["FlagPoller", "LabelSimStats", "flagged_in_metrics", "run_label_sim"]

#: The worker's gauge: 1 for an annotator it flags (``streamsift.metrics``).
FLAGGED_METRIC = "streamsift_quality_annotator_flagged"


def flagged_in_metrics(text: str) -> frozenset[str]:
    """Annotators whose ``streamsift_quality_annotator_flagged`` gauge is 1 in a
    Prometheus text exposition (``other``, the overflow series, is not a person).

    >>> text = chr(10).join([
    ...     'streamsift_quality_annotator_flagged{annotator="a-4"} 1.0',
    ...     'streamsift_quality_annotator_flagged{annotator="a-1"} 0.0', ''])
    >>> flagged_in_metrics(text)
    frozenset({'a-4'})
    """
    from prometheus_client.parser import text_string_to_metric_families

    out: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            who = sample.labels.get("annotator")
            if sample.name == FLAGGED_METRIC and who and who != "other" and sample.value >= 1:
                out.add(who)
    return frozenset(out)


class FlagPoller:
    """Poll the workers' ``/metrics`` for flagged annotators in a daemon thread.

    ``current()`` is the union over ``urls`` of the last successful scrape of each
    (``None`` until every url answered once); a failed scrape keeps that url's last
    answer. Several workers each flag from their own evidence, so the union is used.
    """

    def __init__(self, urls: list[str], every: float = 2.0, timeout: float = 2.0) -> None:
        import threading

        self.urls = list(urls)
        self.every = every
        self.timeout = timeout
        self.failures = 0
        self._last: dict[str, frozenset[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flag-poller", daemon=True)

    def start(self) -> FlagPoller:
        """Start polling (returns self)."""
        self._thread.start()
        return self

    def poll_once(self) -> None:
        """Scrape every url once."""
        from urllib.request import urlopen

        for url in self.urls:
            try:
                with urlopen(url, timeout=self.timeout) as resp:
                    self._last[url] = flagged_in_metrics(resp.read().decode("utf-8", "replace"))
            except (OSError, ValueError) as exc:
                self.failures += 1
                log.debug("flag poll of %s failed: %r", url, exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.every)

    def current(self) -> frozenset[str] | None:
        """Annotators flagged by any worker (``None`` before every url answered)."""
        last = dict(self._last)
        if len(last) < len(self.urls):
            return None
        return frozenset().union(*last.values())

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 1.0)


log = logging.getLogger(__name__)

#: Request ids remembered to answer a redelivered request only once.
DEDUPE_HORIZON = 100_000
#: A consumer never assigned a partition this long after it subscribed is closed and
#: a new one joins instead, at most :data:`MAX_JOIN_RETRIES` times (see
#: :func:`run_label_sim`).
JOIN_TIMEOUT_SECONDS = 20.0
MAX_JOIN_RETRIES = 3


@dataclass
class LabelSimStats:
    """Counters of one label-sim run."""

    requests: int = 0
    invalid: int = 0
    duplicates: int = 0
    accepted: int = 0
    dropped: int = 0
    unlabellable: int = 0
    labels: int = 0
    flipped: int = 0
    waiting: int = 0
    backlog: int = 0
    outstanding_at_exit: int = 0
    #: Consumers closed and replaced because they were never assigned a partition.
    consumer_restarts: int = 0
    by_annotator: dict[str, int] = field(default_factory=dict)
    #: Annotators flagged by the worker, given no new work (as of the last poll).
    benched: list[str] = field(default_factory=list)
    #: Labels a benched annotator still gave: only when too few others could.
    benched_fill: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON summaries)."""
        return dict(self.__dict__)


def run_label_sim(
    settings: Settings,
    team: LabellingTeam,
    requests_topic: str,
    labels_topic: str,
    group_id: str,
    stop: StopFlag,
    *,
    team_name: str = "simulated",
    on_full: Literal["wait", "drop"] = "wait",
    max_labels: int | None = None,
    idle_exit: float | None = None,
    offset_reset: Literal["earliest", "latest"] = "earliest",
    on_progress: Callable[[LabelSimStats], None] | None = None,
    on_ready: Callable[[int], None] | None = None,
    flags: Callable[[], frozenset[str] | None] | None = None,
    clock: Callable[[], float] = time.time,
    join_timeout: float = JOIN_TIMEOUT_SECONDS,
) -> LabelSimStats:
    """Answer label requests until stopped, ``max_labels`` sent, or idle.

    Parameters
    ----------
    idle_exit
        Stop once no request arrived for this many seconds and nothing is left to
        answer (``None``: never).
    on_progress
        Called about four times a second with the live counters.
    on_ready
        Called once, with the number of partitions, when the consumer group first
        assigned partitions of the requests topic to the team: from then on every
        request is answered (callers wait for it before sending traffic).
    flags
        Returns the annotators the worker currently flags (``None``: unknown, keep the
        last answer); polled every loop. Flagged annotators get no new work
        (:meth:`~streamsift.tools.labelsim.LabellingTeam.bench`).
    join_timeout
        A consumer that has not been assigned any partition this many seconds after
        it subscribed is closed and a new one joins the group instead (at most
        :data:`MAX_JOIN_RETRIES` times; 0 disables). kafka-python 3.0.12 was seen to
        stop after the group's second SyncGroup of a fresh group (the leader
        re-joins once right after its first assignment): no heartbeat, no
        assignment, until the broker expired the member 45 s later.
    """
    from kafka import KafkaConsumer

    def subscribe() -> Any:
        return KafkaConsumer(
            requests_topic,
            **kafka_python_kwargs(settings),
            group_id=group_id,
            client_id="streamsift-label-sim",
            auto_offset_reset=offset_reset,
            # Offsets are committed by the loop, between polls, never by kafka-python
            # while it re-joins the group: in 2 of 3 fresh-clone CI runs a label-sim of
            # the tier-3 tests joined (the leader re-joins once right after its first
            # assignment), read nothing of the 200-odd requests waiting, and idled out.
            enable_auto_commit=False,
            max_poll_records=500,
        )

    stats = LabelSimStats()
    consumer = subscribe()
    subscribed_at = time.monotonic()
    producer = make_producer(settings, linger_ms=2, batch_size=64 * 1024)
    waiting: deque[LabelRequest] = deque()
    seen: OrderedDict[str, None] = OrderedDict()
    last_request = time.monotonic()
    last_commit = last_request
    last_report = 0.0
    ready = False
    try:
        while not stop:
            now = clock()
            while waiting:
                req = waiting[0]
                if on_full == "wait" and not team.has_room(now, req.annotators_needed):
                    break
                waiting.popleft()
                result = team.submit_request(req, now)
                if result == "accepted":
                    stats.accepted += 1
                elif result == "full":
                    stats.dropped += 1
                else:
                    stats.unlabellable += 1
            if flags is not None:
                flagged = flags()
                if flagged is not None and flagged != team.benched:
                    team.bench(flagged)
                    log.info("annotators benched (flagged by the worker): %s", sorted(flagged))
            assigned = consumer.assignment()
            if assigned and not ready:
                ready = True
                if on_ready is not None:
                    on_ready(len(assigned))
            if (
                not ready
                and join_timeout > 0
                and stats.consumer_restarts < MAX_JOIN_RETRIES
                and time.monotonic() - subscribed_at > join_timeout
            ):
                log.warning(
                    "no partition of %s assigned %.0f s after joining group %s:"
                    " closing the consumer, a new one joins",
                    requests_topic,
                    join_timeout,
                    group_id,
                )
                _close_quietly(consumer)
                consumer = subscribe()
                subscribed_at = time.monotonic()
                stats.consumer_restarts += 1
                continue
            if waiting and assigned:
                consumer.pause(*assigned)
            elif consumer.paused():
                consumer.resume(*consumer.paused())
            due_at = team.next_due_at
            wait_s = 0.1 if due_at is None else min(0.1, max(due_at - clock(), 0.0))
            if not ready:  # nothing can be due yet: give the group join longer polls
                wait_s = 0.5
            polled = consumer.poll(timeout_ms=int(wait_s * 1000), max_records=500)
            for records in polled.values():
                for rec in records:
                    last_request = time.monotonic()
                    stats.requests += 1
                    try:
                        req = decode(LabelRequest, rec.value)
                    except SchemaError as err:
                        stats.invalid += 1
                        log.warning("invalid label request at offset %s: %s", rec.offset, err)
                        continue
                    if req.request_id in seen:
                        stats.duplicates += 1
                        continue
                    seen[req.request_id] = None
                    if len(seen) > DEDUPE_HORIZON:
                        seen.popitem(last=False)
                    waiting.append(req)
            if polled and time.monotonic() - last_commit >= 1.0:
                last_commit = time.monotonic()
                _commit(consumer)
            for lab in team.due(clock()):
                value = lab.to_label_event(team_name).model_dump_json().encode()
                producer.send(labels_topic, key=lab.event_id.encode(), value=value)
                stats.labels += 1
                stats.flipped += lab.flipped
                stats.by_annotator[lab.annotator_id] = (
                    stats.by_annotator.get(lab.annotator_id, 0) + 1
                )
            stats.waiting = len(waiting)
            stats.backlog = team.backlog(clock())
            stats.benched = sorted(team.benched)
            stats.benched_fill = team.counts["benched_fill"]
            if on_progress is not None and time.monotonic() - last_report > 0.25:
                last_report = time.monotonic()
                on_progress(stats)
            if max_labels is not None and stats.labels >= max_labels:
                break
            idle = time.monotonic() - last_request
            if (
                idle_exit is not None
                and idle >= idle_exit
                and not waiting
                and team.next_due_at is None
            ):
                break
    finally:
        stats.outstanding_at_exit = len(team.drain()) + len(waiting)
        try:
            producer.flush(timeout=10)
        finally:
            producer.close(timeout=10)
            _commit(consumer)
            consumer.close()
    if on_progress is not None:
        on_progress(stats)
    return stats


def _close_quietly(consumer: Any) -> None:
    try:
        consumer.close(autocommit=False)
    except Exception as exc:  # it is being replaced: a failure to close is only logged
        log.warning("closing the label-request consumer failed: %r", exc)


def _commit(consumer: Any) -> None:
    """Commit what was read (best effort: a failure means re-reading a few requests,
    which the request-id dedupe of a running label-sim drops)."""
    try:
        consumer.commit()
    except Exception as exc:  # rebalancing, broker away
        log.warning("committing label-request offsets failed: %r", exc)
