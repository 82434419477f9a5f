"""The decision log: every decided event, written before its label request.

One record per batch (split when large) and per input partition, sent to the
same partition number of the decisions topic as the events came from. A row per
decided event (id, source offset, selected, arm, p, score, region, model version,
reason); for a selected event the record also carries the exact LabelRequest and
PendingItem that will be sent, so that a worker restarting between "decision
logged" and "request acknowledged" can finish the job with the same request id
instead of deciding again (see :mod:`streamsift.stream.recovery`).

The log is what makes the service read its own output: on (re)assignment of an
input partition the worker reads the tail of the matching decision partition to
rebuild its dedupe set.

Examples
--------
>>> rows = [LoggedDecision("e1", 7, False, "none", 0.1, 0.2, "eu", 3, "not_drawn"),
...         LoggedDecision("e2", 8, True, "active", 0.5, 0.9, "eu", 3, "selected", "r2")]
>>> [raw] = encode_batches("events", 0, "w1", 1.0, rows, {"e2": (b'{"q":1}', b'{"p":1}')})
>>> batch = decode_batch(raw)
>>> [d.event_id for d in batch.decisions], batch.requests["e2"]
(['e1', 'e2'], (b'{"q":1}', b'{"p":1}'))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["DecisionBatch", "LoggedDecision", "decode_batch", "encode_batches"]

#: Format version of decision records.
FORMAT: int = 1
#: A record is split before it grows past this many bytes (brokers default to 1 MiB).
MAX_RECORD_BYTES: int = 512 * 1024


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """One row of the decision log."""

    event_id: str
    offset: int
    selected: bool
    arm: str
    p: float
    score: float
    region: str
    model_version: int
    reason: str
    request_id: str | None = None

    def row(self) -> list[object]:
        """The compact JSON row."""
        return [
            self.event_id,
            self.offset,
            int(self.selected),
            self.arm,
            self.p,
            self.score,
            self.region,
            self.model_version,
            self.reason,
            self.request_id,
        ]


@dataclass(frozen=True)
class DecisionBatch:
    """A decoded decision record."""

    source_topic: str
    partition: int
    worker: str
    decided_at: float
    decisions: list[LoggedDecision]
    requests: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)


def _record(
    topic: str,
    partition: int,
    worker: str,
    at: float,
    rows: list[list[object]],
    requests: dict[str, list[str]],
) -> bytes:
    body: dict[str, object] = {"v": FORMAT, "topic": topic, "partition": partition}
    body.update(worker=worker, at=at, d=rows, r=requests)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def encode_batches(
    source_topic: str,
    partition: int,
    worker: str,
    decided_at: float,
    decisions: Sequence[LoggedDecision],
    requests: Mapping[str, tuple[bytes, bytes]],
    max_bytes: int = MAX_RECORD_BYTES,
) -> list[bytes]:
    """Encode the decisions of one input partition, split into records under ``max_bytes``.

    ``requests`` maps the event id of each selected decision to its serialised
    (LabelRequest, PendingItem).
    """
    out: list[bytes] = []
    rows: list[list[object]] = []
    reqs: dict[str, list[str]] = {}
    size = 0
    for d in decisions:
        row = d.row()
        extra = 0
        req = requests.get(d.event_id)
        if req is not None:
            extra = len(req[0]) + len(req[1])
        cost = len(json.dumps(row)) + extra + 8
        if rows and size + cost > max_bytes:
            out.append(_record(source_topic, partition, worker, decided_at, rows, reqs))
            rows, reqs, size = [], {}, 0
        rows.append(row)
        if req is not None:
            reqs[d.event_id] = [req[0].decode("utf-8"), req[1].decode("utf-8")]
        size += cost
    if rows:
        out.append(_record(source_topic, partition, worker, decided_at, rows, reqs))
    return out


def decode_batch(raw: bytes) -> DecisionBatch:
    """Decode one decision record.

    Raises
    ------
    ValueError
        When the record is not a decision record of a known format.
    """
    body = json.loads(raw)
    if not isinstance(body, dict) or body.get("v") != FORMAT:
        raise ValueError("not a decision record of format 1")
    rows = [
        LoggedDecision(
            str(r[0]),
            int(r[1]),
            bool(r[2]),
            str(r[3]),
            float(r[4]),
            float(r[5]),
            str(r[6]),
            int(r[7]),
            str(r[8]),
            r[9],
        )
        for r in body["d"]
    ]
    reqs = {k: (v[0].encode("utf-8"), v[1].encode("utf-8")) for k, v in body["r"].items()}
    return DecisionBatch(
        str(body["topic"]),
        int(body["partition"]),
        str(body["worker"]),
        float(body["at"]),
        rows,
        reqs,
    )
