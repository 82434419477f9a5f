"""Tier-2 test doubles: a tiny sampler, its model, a log reader, message builders.

The double follows the core's Sampler interface (decide / confirm / label_arrived /
expire / learn / swap_model / model / state) with trivially predictable answers:
an event is selected when its features say ``"select": True``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from streamsift.core.types import CoreEvent, Decision, LabelledItem
from streamsift.stream.decisions import DecisionBatch


@dataclass
class FakeModel:
    """Picklable stand-in for the online model."""

    version: int = 0
    labels_seen: int = 0
    classes: tuple[str, ...] = ("yes", "no")
    answer: str | None = "yes"  # what predict_one says, for the promotion gate

    def predict_one(self, x: object) -> str | None:
        return self.answer

    def bump_version(self) -> None:
        self.version += 1

    def can_learn_label(self, y: object) -> bool:
        return y in self.classes


@dataclass
class FakeState:
    event_rate: float = 10.0
    target_fraction: float = 0.1
    boosts: dict[str, float] = field(default_factory=dict)


class FakeSampler:
    """Records every call; selects events whose features carry ``select: True``
    (at the probability floor if they also carry ``floor: True``)."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.model: Any = FakeModel()
        self.decided: list[str] = []
        self.confirmed: list[str] = []
        self.arrived = 0
        self.expired = 0
        self.learned: list[LabelledItem] = []
        self.swapped: list[Any] = []
        self.share: float | None = None
        self.fail_on = fail_on
        self.drift: tuple[object, ...] = ()
        self.state = FakeState()
        self.extra_capacity: int | None = None  # extra labels take_extra grants (None: all)
        self.refused: list[str] = []

    def decide(self, event: CoreEvent, now: float | None = None) -> Decision:
        if event.event_id == self.fail_on:
            raise RuntimeError("core bug")
        self.decided.append(event.event_id)
        chosen = bool(event.features.get("select"))
        drift, self.drift = self.drift, ()
        return Decision(
            event_id=event.event_id,
            selected=chosen,
            arm="active" if chosen else "none",
            score=0.9 if chosen else 0.1,
            p=0.5 if chosen else 0.05,
            region=event.region or "r0",
            reason="selected" if chosen else "below_threshold",
            model_version=self.model.version,
            strategy="fake",
            drift=drift,
            at_floor=chosen and bool(event.features.get("floor")),
        )

    def confirm(self, decision: Decision, now: float) -> None:
        self.confirmed.append(decision.event_id)

    def take_extra(self, decision: Decision, now: float) -> bool:
        if self.extra_capacity is not None:
            if self.extra_capacity <= 0:
                self.refused.append(decision.event_id)
                return False
            self.extra_capacity -= 1
        self.confirm(decision, now)
        return True

    def label_arrived(self, now: float, n: int = 1) -> None:
        self.arrived += n

    def expire(self, n: int) -> None:
        self.expired += n

    def learn(self, item: LabelledItem, model: Any = None) -> None:
        self.learned.append(item)
        (self.model if model is None else model).labels_seen += 1

    def swap_model(self, model: Any) -> None:
        self.swapped.append(model)
        self.model = model

    def set_capacity_share(self, share: float) -> None:
        self.share = share


class FakeReader:
    """A LogReader over lists: decision batches per partition, request ids seen."""

    def __init__(
        self,
        batches: dict[int, list[DecisionBatch]] | None = None,
        request_ids: set[str] | None = None,
    ) -> None:
        self.batches = batches or {}
        self.request_ids = request_ids or set()
        self.tail_calls: list[int] = []
        self.since_calls: list[float] = []

    async def decision_tail(self, partition: int, want_ids: int) -> list[DecisionBatch]:
        self.tail_calls.append(partition)
        return list(self.batches.get(partition, []))

    async def request_ids_since(self, since: float) -> set[str]:
        self.since_calls.append(since)
        return set(self.request_ids)


def event_bytes(
    event_id: str, *, select: bool = False, region: str = "eu", floor: bool = False, **extra: Any
) -> bytes:
    """A valid InferenceEvent as JSON bytes (``floor``: a ``floor`` feature, which
    :class:`FakeSampler` reads as a pick at the probability floor)."""
    body: dict[str, Any] = {
        "schema_version": "1.0",
        "event_id": event_id,
        "model_id": "churn",
        "model_version": "3",
        "timestamp": "2026-01-01T00:00:00Z",
        "features": {"age": 42, "plan": "pro", "secret": "s3", "select": select},
        "output": {"probabilities": {"yes": 0.4, "no": 0.6}},
        "region": region,
    }
    if floor:
        body["features"]["floor"] = True
    body.update(extra)
    return json.dumps(body).encode()


def synthetic_request(event: Any, request_id: str, **extra: Any) -> Any:
    """A LabelRequest for a :class:`~streamsift.tools.synthetic.SyntheticEvent`
    (all its features shown; ``extra`` overrides any field)."""
    from datetime import UTC, datetime

    from streamsift.schemas import LabelRequest

    fields: dict[str, Any] = {
        "request_id": request_id,
        "event_id": event.event_id,
        "requested_at": datetime(2026, 1, 1, tzinfo=UTC),
        "features": event.features,
        "score": 0.5,
        "strategy": "margin",
        "arm": "active",
        "p": 0.2,
        "region": event.region,
        "scored_model_version": 0,
    }
    fields.update(extra)
    return LabelRequest(**fields)


def label_bytes(event_id: str, label: object = "yes", annotator: str = "a1") -> bytes:
    """A valid LabelEvent as JSON bytes."""
    return json.dumps(
        {
            "schema_version": "1.0",
            "event_id": event_id,
            "label": label,
            "annotator_id": annotator,
            "labelled_at": "2026-01-01T00:05:00Z",
        }
    ).encode()


#: One malformed message per decode reason.
MALFORMED: dict[str, bytes] = {
    "undecodable": b"\xff\xfe\x00garbage",
    "invalid_json": b'{"event_id": "x", ',
    "schema_violation": json.dumps({"schema_version": "1.0", "event_id": "x"}).encode(),
    "non_finite": event_bytes("nf").replace(b'"age": 42', b'"age": NaN'),
    "bad_probabilities": event_bytes("bp", output={"probabilities": {"yes": 0.9, "no": 0.9}}),
    "unknown_schema_version": event_bytes("uv", schema_version="2.0"),
    "oversized": event_bytes("big", metadata={"pad": "x" * 70_000}),
}


def value(reg: Any, name: str, **labels: str) -> float | None:
    """A sample of a test registry (``streamsift_`` prefix implied)."""
    return reg.get_sample_value(f"streamsift_{name}", labels)


def dead_letters(sink: Any, topic: str = "streamsift.dead-letters") -> list[Any]:
    """The dead letters a memory sink received, decoded."""
    from streamsift.schemas import DeadLetter

    return [DeadLetter.model_validate_json(m.value or b"") for m in sink.on(topic)]


def decided_ids(sink: Any, topic: str = "streamsift.decisions") -> list[str]:
    """Event ids in the decision records a memory sink received."""
    from streamsift.stream.decisions import decode_batch

    return [d.event_id for m in sink.on(topic) for d in decode_batch(m.value or b"").decisions]
