"""Conversions between topic messages and the core's value types.

The core sees :class:`~streamsift.core.types.CoreEvent`, returns a
:class:`~streamsift.core.types.Decision` and learns from a
:class:`~streamsift.core.types.LabelledItem`; the topics carry pydantic messages.
These functions are the whole mapping, so that agents only call them.

Examples
--------
>>> from streamsift.schemas import InferenceEvent
>>> ev = InferenceEvent(event_id="e1", model_id="m", model_version="1",
...     timestamp="2026-01-01T00:00:00Z", features={"age": 40, "plan": "pro"},
...     output={"probabilities": {"yes": 0.3, "no": 0.7}}, region="eu")
>>> core = to_core_event(ev)
>>> core.timestamp, dict(core.proba), core.region
(1767225600.0, {'yes': 0.3, 'no': 0.7}, 'eu')
>>> d = Decision("e1", True, "active", 0.8, 0.25, "eu", "selected", model_version=4,
...              strategy="margin", at_floor=True)
>>> req, pend = build_request(ev, d, request_id="r1", now=0.0, allowed=("plan",))
>>> req.features, req.p, pend.features["age"], pend.at_floor
({'plan': 'pro'}, 0.25, 40, True)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from streamsift.core.drift.results import DriftResult
from streamsift.core.types import CoreEvent, Decision, LabelledItem, Proba
from streamsift.errors import SchemaError
from streamsift.schemas import (
    DriftEvent,
    FeatureDriftStat,
    InferenceEvent,
    LabelEvent,
    LabelRequest,
    Limits,
    PendingItem,
    decode,
    inference_fields,
)

__all__ = [
    "build_request",
    "decode_core_event",
    "decode_labelled",
    "drift_event",
    "encode_labelled",
    "join_item",
    "to_core_event",
]


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def to_core_event(event: InferenceEvent) -> CoreEvent:
    """The core's view of a validated inference event."""
    return CoreEvent(
        event_id=event.event_id,
        features=event.features,
        timestamp=event.timestamp.timestamp(),
        proba=cast("Proba | None", event.output.probabilities),
        region=event.region,
        embedding=event.embedding,
    )


def decode_core_event(raw: bytes | None, limits: Limits | None = None) -> CoreEvent:
    """``to_core_event(decode(InferenceEvent, raw, limits))``, built without the model.

    The common event is validated in one pydantic-core call
    (:func:`~streamsift.schemas.inference_fields`) and its core view built from the
    fields, with the same values; anything else goes through :func:`decode` and
    :func:`to_core_event`, so an invalid record raises the same
    :class:`~streamsift.errors.SchemaError`.

    Examples
    --------
    >>> raw = (b'{"event_id":"e1","model_id":"m","model_version":"1",'
    ...        b'"timestamp":"2026-01-01T01:00:00+01:00","features":{"age":40},'
    ...        b'"output":{"probabilities":{"yes":0.3,"no":0.7}},"region":"eu"}')
    >>> decode_core_event(raw) == to_core_event(decode(InferenceEvent, raw))
    True
    """
    fields = inference_fields(raw, limits)
    if fields is None:
        return to_core_event(decode(InferenceEvent, raw, limits))
    return CoreEvent(
        fields["event_id"],
        fields["features"],
        fields["timestamp"].timestamp(),
        fields["output"]["probabilities"],
        fields.get("region"),
        fields.get("embedding"),
    )


def build_request(
    event: InferenceEvent,
    decision: Decision,
    *,
    request_id: str,
    now: float,
    allowed: Iterable[str] | None,
    annotators_needed: int = 1,
) -> tuple[LabelRequest, PendingItem]:
    """The public label request (allow-listed features only) and the internal pending item.

    Both carry ``annotators_needed`` (validated by the models, 1..16).
    """
    if decision.arm == "none":
        raise ValueError(f"decision for {decision.event_id} is selected without an arm")
    features = event.features
    shown = features if allowed is None else {k: features[k] for k in allowed if k in features}
    requested_at = _utc(now)
    request = LabelRequest(
        request_id=request_id,
        event_id=event.event_id,
        model_id=event.model_id,
        requested_at=requested_at,
        features=shown,
        score=decision.score,
        strategy=decision.strategy,
        arm=decision.arm,
        p=decision.p,
        region=decision.region,
        priority=decision.priority,
        scored_model_version=decision.model_version,
        annotators_needed=annotators_needed,
    )
    pending = PendingItem(
        event_id=event.event_id,
        request_id=request_id,
        features=features,
        production_proba=event.output.probabilities,
        score=decision.score,
        p=decision.p,
        arm=decision.arm,
        region=decision.region,
        requested_at=requested_at,
        annotators_needed=annotators_needed,
        scored_model_version=decision.model_version,
        at_floor=decision.at_floor,
    )
    return request, pending


def drift_event(result: DriftResult, *, boost: float, now: float) -> DriftEvent:
    """The DriftEvent message of one closed window."""
    return DriftEvent(
        region=result.region,
        window_index=result.window_index,
        window_end=_utc(result.window_end_timestamp),
        detected_at=_utc(now),
        drifted=result.drifted,
        new_region=result.new_region,
        n_reference=result.n_reference,
        n_window=result.n_window,
        boost=boost,
        features=[
            FeatureDriftStat(
                feature=f.feature,
                kind=f.kind,
                ks_statistic=f.ks_statistic,
                p_value=f.p_value,
                corrected_p=f.corrected_p,
                psi=f.psi,
                level=f.level,
            )
            for f in result.features
        ],
    )


def join_item(pending: PendingItem, label: LabelEvent) -> LabelledItem:
    """The learner's input: the pending record's features and weights with the label."""
    return LabelledItem(
        event_id=pending.event_id,
        features=pending.features,
        label=label.label,
        p=pending.p,
        arm=pending.arm,
        region=pending.region,
        production_proba=cast("Proba | None", pending.production_proba),
        requested_at=pending.requested_at.timestamp(),
        labelled_at=label.labelled_at.timestamp(),
        at_floor=pending.at_floor,
    )


def encode_labelled(item: LabelledItem) -> bytes:
    """Serialise a joined item for the training topic."""
    body = {
        "event_id": item.event_id,
        "features": dict(item.features),
        "label": item.label,
        "p": item.p,
        "arm": item.arm,
        "region": item.region,
        "production_proba": None if item.production_proba is None else dict(item.production_proba),
        "requested_at": item.requested_at,
        "labelled_at": item.labelled_at,
        "at_floor": item.at_floor,
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def decode_labelled(raw: bytes | None) -> LabelledItem:
    """Read a joined item from the training topic.

    Raises
    ------
    SchemaError
        ``invalid_json`` or ``schema_violation``.
    """
    if raw is None:
        raise SchemaError("schema_violation", "training record has no value")
    try:
        body: Any = json.loads(raw)
    except ValueError as exc:
        raise SchemaError("invalid_json", str(exc)[:200]) from None
    try:
        proba: Mapping[Any, float] | None = body["production_proba"]
        return LabelledItem(
            event_id=str(body["event_id"]),
            features=dict(body["features"]),
            label=body["label"],
            p=float(body["p"]),
            arm=body["arm"],
            region=str(body["region"]),
            production_proba=proba,
            requested_at=float(body["requested_at"]),
            labelled_at=float(body["labelled_at"]),
            at_floor=body.get("at_floor", False) is True,  # absent in older records
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError("schema_violation", f"training record: {exc!r}"[:200]) from None
