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

__all__ = ["DecisionBatch", "LoggedDecision", "decode_batch", "encode_batches", "encode_rows"]

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


_compact = json.JSONEncoder(separators=(",", ":")).encode


def _record(
    topic: str,
    partition: int,
    worker: str,
    at: float,
    rows: list[str],
    requests: list[str],
) -> bytes:
    """Assemble a record from rows and request entries already encoded (each once).

    The bytes equal ``json.dumps(body, separators=(",", ":"))`` of the body
    ``{"v", "topic", "partition", "worker", "at", "d": rows, "r": requests}``.
    """
    head = _compact({"v": FORMAT, "topic": topic, "partition": partition, "worker": worker})
    return (
        f'{head[:-1]},"at":{_compact(at)},"d":[{",".join(rows)}],"r":{{{",".join(requests)}}}}}'
    ).encode()


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
    (LabelRequest, PendingItem). The batch is encoded once; only a batch too large
    for one record is re-encoded row by row to split it.
    """
    return encode_rows(
        source_topic,
        partition,
        worker,
        decided_at,
        [d.row() for d in decisions],
        requests,
        max_bytes,
    )


def encode_rows(
    source_topic: str,
    partition: int,
    worker: str,
    decided_at: float,
    rows: Sequence[list[object]],
    requests: Mapping[str, tuple[bytes, bytes]],
    max_bytes: int = MAX_RECORD_BYTES,
) -> list[bytes]:
    """:func:`encode_batches` of rows already in :meth:`LoggedDecision.row` form.

    For the scorer's hot path, which builds the rows directly instead of a
    :class:`LoggedDecision` per event; ``row[0]`` is the event id.
    """
    if not rows:
        return []
    # Fast path: the whole batch in one record, encoded by one C call (the common
    # case: a 500-event batch is ~60 KiB); rows are only encoded one by one, to
    # find the split points, when it does not fit.
    whole: dict[str, object] = {"v": FORMAT, "topic": source_topic, "partition": partition}
    whole.update(
        worker=worker,
        at=decided_at,
        d=rows,
        r={
            eid: [req[0].decode("utf-8"), req[1].decode("utf-8")]
            for row in rows
            if (req := requests.get(eid := str(row[0]))) is not None
        },
    )
    raw = _compact(whole).encode("utf-8")
    if len(raw) <= max_bytes:
        return [raw]
    out: list[bytes] = []
    chunk: list[str] = []
    reqs: list[str] = []
    size = 0
    encode = _compact
    for row in rows:
        encoded = encode(row)
        eid = str(row[0])
        req = requests.get(eid)
        entry = None
        if req is not None:
            entry = (
                f"{encode(eid)}:[{encode(req[0].decode('utf-8'))},{encode(req[1].decode('utf-8'))}]"
            )
        cost = len(encoded) + (len(entry) if entry is not None else 0) + 8
        if chunk and size + cost > max_bytes:
            out.append(_record(source_topic, partition, worker, decided_at, chunk, reqs))
            chunk, reqs, size = [], [], 0
        chunk.append(encoded)
        if entry is not None:
            reqs.append(entry)
        size += cost
    if chunk:
        out.append(_record(source_topic, partition, worker, decided_at, chunk, reqs))
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
