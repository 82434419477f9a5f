"""Topic contracts: the pydantic v2 models of every message streamsift reads or writes.

Every message carries ``schema_version`` (``MAJOR.MINOR``). A reader accepts any
minor version of a major it knows and rejects an unknown major, so producers can
add optional fields without a coordinated deploy. The JSON Schema of each model
is exported into ``schemas/`` (``streamsift schemas export``) for producers in
other languages.

Decoding untrusted bytes goes through :func:`decode`, which turns every failure
into a :class:`~streamsift.errors.SchemaError` with a bounded ``reason`` (safe as a
metric label and dead-letter reason).

Examples
--------
>>> raw = (b'{"schema_version": "1.0", "event_id": "e-1", "model_id": "churn",'
...        b' "model_version": "3", "timestamp": "2026-01-01T00:00:00Z",'
...        b' "features": {"age": 42, "plan": "pro"},'
...        b' "output": {"probabilities": {"yes": 0.25, "no": 0.75}}}')
>>> event = decode(InferenceEvent, raw)
>>> event.event_id, event.output.probabilities["no"]
('e-1', 0.75)
>>> try:
...     decode(InferenceEvent, raw.replace(b'"1.0"', b'"2.0"'))
... except SchemaError as err:
...     print(err.reason)
unknown_schema_version
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, NotRequired, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from streamsift.errors import SchemaError

__all__ = [
    "MODELS",
    "SUPPORTED_MAJOR",
    "DeadLetter",
    "DriftEvent",
    "FeatureDriftStat",
    "InferenceEvent",
    "LabelEvent",
    "LabelRequest",
    "Limits",
    "ModelSnapshotHeader",
    "PendingItem",
    "ProductionOutput",
    "decode",
    "inference_fields",
]

#: The major schema version this build reads and writes.
SUPPORTED_MAJOR: Final = 1
SCHEMA_VERSION: Final = "1.0"

FeatureValue = float | int | str | bool | None
NonEmptyId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"\S")]
LabelValue = Annotated[str, Field(min_length=1, max_length=256)] | int | bool
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

#: Tolerance on ``sum(probabilities) == 1``.
PROBA_SUM_TOLERANCE: Final = 1e-3


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied while decoding untrusted messages.

    Parameters
    ----------
    max_bytes
        Largest accepted message value, in bytes.
    max_features
        Most feature entries in one event.
    max_embedding
        Longest accepted embedding.
    """

    max_bytes: int = 65_536
    max_features: int = 512
    max_embedding: int = 2_048


DEFAULT_LIMITS: Final = Limits()


def _limits(info: ValidationInfo) -> Limits:
    ctx = info.context
    if isinstance(ctx, dict):
        limits = ctx.get("limits")
        if isinstance(limits, Limits):
            return limits
    return DEFAULT_LIMITS


def _check_version(value: str) -> str:
    if value == SCHEMA_VERSION:  # the common case, decided without parsing
        return value
    major, _, minor = value.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise PydanticCustomError(
            "bad_schema_version", "schema_version must look like MAJOR.MINOR, got {v}", {"v": value}
        )
    if int(major) != SUPPORTED_MAJOR:
        raise PydanticCustomError(
            "unknown_schema_version",
            "schema_version {v} has major {m}; this build reads major {s}",
            {"v": value, "m": int(major), "s": SUPPORTED_MAJOR},
        )
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    schema_version: str = Field(
        default=SCHEMA_VERSION, description="MAJOR.MINOR; an unknown major is rejected."
    )

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _check_version(value)


class ProductionOutput(BaseModel):
    """What the production model said about the event.

    Either ``probabilities`` (class to probability, summing to 1) or
    ``predicted_label`` (optionally with its ``score``) must be present.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    probabilities: dict[str, Probability] | None = None
    predicted_label: LabelValue | None = None
    score: Probability | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProductionOutput:
        if self.probabilities is None:
            if self.predicted_label is None:
                raise PydanticCustomError(
                    "bad_probabilities", "output needs probabilities or predicted_label"
                )
            return self
        if not self.probabilities:
            raise PydanticCustomError("bad_probabilities", "probabilities is empty")
        total = math.fsum(self.probabilities.values())
        if abs(total - 1.0) > PROBA_SUM_TOLERANCE:
            raise PydanticCustomError(
                "bad_probabilities",
                "probabilities sum to {t}, not 1 (tolerance {tol})",
                {"t": total, "tol": PROBA_SUM_TOLERANCE},
            )
        return self


class InferenceEvent(_Message):
    """One prediction made by a production inference service (topic inference-events)."""

    event_id: NonEmptyId
    model_id: NonEmptyId
    model_version: Annotated[str, Field(min_length=1, max_length=128)]
    timestamp: AwareDatetime
    features: dict[str, FeatureValue]
    output: ProductionOutput
    embedding: list[FiniteFloat] | None = None
    region: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    metadata: dict[str, str | int | float | bool | None] | None = None

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @field_validator("features")
    @classmethod
    def _features(cls, value: dict[str, FeatureValue], info: ValidationInfo) -> dict:
        limit = _limits(info).max_features
        if len(value) > limit:
            raise PydanticCustomError(
                "too_many_features", "{n} features, limit {lim}", {"n": len(value), "lim": limit}
            )
        for name, v in value.items():
            # float only (not bool/int/str); x - x is nan exactly for nan and ±inf
            if v.__class__ is float:
                if v - v != 0.0:
                    raise PydanticCustomError(
                        "non_finite", "feature {f} is not finite", {"f": name}
                    )
            elif isinstance(v, float) and not math.isfinite(v):  # float subclasses
                raise PydanticCustomError("non_finite", "feature {f} is not finite", {"f": name})
        return value

    @field_validator("embedding")
    @classmethod
    def _embedding(cls, value: list[float] | None, info: ValidationInfo) -> list[float] | None:
        limit = _limits(info).max_embedding
        if value is not None and len(value) > limit:
            raise PydanticCustomError(
                "embedding_too_long",
                "embedding of {n}, limit {lim}",
                {"n": len(value), "lim": limit},
            )
        return value


class LabelRequest(_Message):
    """A request for humans to label one event (topic label-requests, key event_id).

    Carries only the allow-listed features labellers may see. Gold items look
    exactly like any other request.
    """

    request_id: NonEmptyId
    event_id: NonEmptyId
    model_id: str = ""
    requested_at: AwareDatetime
    features: dict[str, FeatureValue] = Field(default_factory=dict)
    score: FiniteFloat
    strategy: str
    arm: Literal["active", "control", "bootstrap"]
    p: Annotated[float, Field(gt=0.0, le=1.0)]
    region: str
    priority: FiniteFloat = 0.0
    scored_model_version: int = Field(ge=0, description="Online model version that scored it.")
    annotators_needed: int = Field(default=1, ge=1, le=16)


class LabelEvent(_Message):
    """A label given by one annotator (topic labels, key event_id)."""

    event_id: NonEmptyId
    label: LabelValue
    annotator_id: NonEmptyId
    team: str = "default"
    labelled_at: AwareDatetime
    request_id: str | None = None

    @field_validator("labelled_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)


class PendingItem(_Message):
    """Internal record of an outstanding request: what the learner needs when the label arrives.

    Topic ``pending`` (key event_id, co-partitioned with labels). Kept apart from the
    public request because it holds the full feature vector and, for gold items, the
    known answer, neither of which labellers may see.
    """

    event_id: NonEmptyId
    request_id: NonEmptyId
    features: dict[str, FeatureValue]
    production_proba: dict[str, Probability] | None = None
    score: FiniteFloat
    p: Annotated[float, Field(gt=0.0, le=1.0)]
    arm: Literal["active", "control", "bootstrap"]
    region: str
    requested_at: AwareDatetime
    annotators_needed: int = Field(default=1, ge=1, le=16)
    gold_label: LabelValue | None = None
    scored_model_version: int = 0
    at_floor: bool = Field(
        default=False,
        description="An active pick drawn at the probability floor (regardless of its score).",
    )


class FeatureDriftStat(BaseModel):
    """One feature's comparison of a window against the reference."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    feature: str
    kind: Literal["numeric", "categorical", "score", "prediction"]
    ks_statistic: FiniteFloat | None = None
    p_value: FiniteFloat | None = None
    corrected_p: FiniteFloat | None = None
    psi: FiniteFloat
    level: Literal["ok", "warn", "alarm"]


class DriftEvent(_Message):
    """A closed drift window of one region (topic drift-events, key region)."""

    region: str
    window_index: int = Field(ge=0)
    window_end: AwareDatetime
    detected_at: AwareDatetime
    drifted: bool
    new_region: bool = False
    n_reference: int = Field(ge=0)
    n_window: int = Field(ge=0)
    boost: FiniteFloat = 1.0
    features: list[FeatureDriftStat] = Field(default_factory=list)


class DeadLetter(_Message):
    """A message that could not be processed, with its original bytes (topic dead-letters)."""

    source_topic: str
    partition: int
    offset: int
    reason: str
    detail: str = ""
    key_b64: str | None = None
    value_b64: str
    failed_at: AwareDatetime


class ModelSnapshotHeader(_Message):
    """Header of a model snapshot (topic model-snapshots, compacted, key model name).

    The value on the wire is ``header JSON + b"\\n" + payload``; ``signature`` is the
    hex HMAC-SHA256 of the payload under the shared snapshot key.
    """

    model_name: NonEmptyId
    model_version: int = Field(ge=0)
    labels_seen: int = Field(ge=0)
    created_at: AwareDatetime
    payload_format: Literal["pickle"] = "pickle"
    payload_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    signature: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


#: Every topic model, by the file stem of its exported JSON Schema.
MODELS: Final[dict[str, type[BaseModel]]] = {
    "inference_event": InferenceEvent,
    "label_request": LabelRequest,
    "label_event": LabelEvent,
    "pending_item": PendingItem,
    "drift_event": DriftEvent,
    "dead_letter": DeadLetter,
    "model_snapshot_header": ModelSnapshotHeader,
}

# pydantic error types that map to a reason of their own; everything else is a
# plain schema violation.
_REASONS: Final = {
    "json_invalid": "invalid_json",
    "json_type": "invalid_json",
    "finite_number": "non_finite",
    "non_finite": "non_finite",
    "unknown_schema_version": "unknown_schema_version",
    "bad_schema_version": "schema_violation",
    "bad_probabilities": "bad_probabilities",
    "too_many_features": "oversized",
    "embedding_too_long": "oversized",
}

#: Every reason :func:`decode` can give (bounded: used as a metric label).
DECODE_REASONS: Final = (
    "oversized",
    "undecodable",
    "invalid_json",
    "schema_violation",
    "non_finite",
    "bad_probabilities",
    "unknown_schema_version",
)

M = TypeVar("M", bound=BaseModel)


def _reason(err: ValidationError) -> str:
    errors = err.errors(include_url=False)
    # An unknown major version wins: the rest of the message may legitimately differ.
    types = [e["type"] for e in errors]
    if "unknown_schema_version" in types:
        return "unknown_schema_version"
    for t in types:
        if t in _REASONS:
            return _REASONS[t]
    if any(t == "greater_than_equal" or t == "less_than_equal" for t in types) and any(
        "probabilities" in e["loc"] or "score" in e["loc"] for e in errors
    ):
        return "bad_probabilities"
    return "schema_violation"


#: One validation context per Limits (decode is called per event with the same limits).
_CONTEXTS: dict[Limits, dict[str, Limits]] = {}


def decode(
    model: type[M], raw: bytes | bytearray | memoryview | None, limits: Limits | None = None
) -> M:
    """Validate untrusted bytes against a topic model.

    Parameters
    ----------
    model
        The pydantic model of the topic.
    raw
        The message value as received.
    limits
        Size limits; defaults to :class:`Limits` ``()``.

    Raises
    ------
    SchemaError
        With ``reason`` one of :data:`DECODE_REASONS` and a human-readable detail.
    """
    lim = limits or DEFAULT_LIMITS
    if raw is None:
        raise SchemaError("schema_violation", "message has no value (tombstone)")
    data = raw if raw.__class__ is bytes else bytes(raw)
    if len(data) > lim.max_bytes:
        raise SchemaError("oversized", f"{len(data)} bytes, limit {lim.max_bytes}")
    if not data.isascii():  # ASCII is UTF-8: only other bytes need the (copying) check
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SchemaError(
                "undecodable", f"not UTF-8: {exc.reason} at byte {exc.start}"
            ) from None
    context = _CONTEXTS.get(lim)
    if context is None:
        context = {"limits": lim}
        if len(_CONTEXTS) < 64:
            _CONTEXTS[lim] = context
    try:
        return model.model_validate_json(data, context=context)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise SchemaError(_reason(err), f"{loc}: {first['msg']}"[:500]) from None


def _fast_inference(lim: Limits) -> Callable[[bytes], dict[str, Any]]:
    """A validator of inference events with every check on the Rust side.

    It accepts a subset of what :class:`InferenceEvent` accepts and parses it to the
    same values: the same field types and constraints, the model's Python checks as
    pydantic-core constraints (``schema_version`` exactly ``"1.0"``, at most
    ``max_features`` features and ``max_embedding`` embedding values; non-finite
    numbers are refused by ``allow_inf_nan=False`` as in the model), and no model
    objects (typed dicts). What it refuses is decoded again by :func:`decode`, so
    refusals keep their exact reasons; the production probabilities' sum and the
    output's "probabilities or predicted_label" rule are left to the caller
    (:func:`inference_fields`).
    """
    config = ConfigDict(extra="ignore", allow_inf_nan=False)

    class _Output(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        probabilities: NotRequired[dict[str, Probability] | None]
        predicted_label: NotRequired[LabelValue | None]
        score: NotRequired[Probability | None]

    class _Event(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        schema_version: NotRequired[Literal["1.0"]]
        event_id: NonEmptyId
        model_id: NonEmptyId
        model_version: Annotated[str, Field(min_length=1, max_length=128)]
        timestamp: AwareDatetime
        features: Annotated[dict[str, FeatureValue], Field(max_length=lim.max_features)]
        output: _Output
        embedding: NotRequired[
            Annotated[list[FiniteFloat], Field(max_length=lim.max_embedding)] | None
        ]
        region: NotRequired[Annotated[str, Field(min_length=1, max_length=128)] | None]
        metadata: NotRequired[dict[str, str | int | float | bool | None] | None]

    validate: Callable[[bytes], dict[str, Any]] = TypeAdapter(_Event).validator.validate_json
    return validate


_FAST: dict[Limits, Callable[[bytes], dict[str, Any]]] = {}


def inference_fields(raw: bytes | None, limits: Limits | None = None) -> dict[str, Any] | None:
    """The fields of a valid inference event, validated in one pydantic-core call.

    Returns the fields (``timestamp`` a datetime, ``output`` a dict, optional fields
    possibly absent) when ``raw`` is an inference event that ``decode(InferenceEvent,
    raw, limits)`` accepts, with the same values; ``None`` when it is not on this
    path (invalid, or of a rarer form such as another minor version or a
    ``predicted_label`` output): the caller decodes it with :func:`decode`, which
    accepts it or gives the reason.

    Examples
    --------
    >>> raw = (b'{"schema_version": "1.0", "event_id": "e-1", "model_id": "churn",'
    ...        b' "model_version": "3", "timestamp": "2026-01-01T00:00:00Z",'
    ...        b' "features": {"age": 42}, "output": {"probabilities": {"yes": 1.0}}}')
    >>> fields = inference_fields(raw)
    >>> fields["event_id"], fields["features"], fields["timestamp"].timestamp()
    ('e-1', {'age': 42}, 1767225600.0)
    >>> inference_fields(raw.replace(b'1.0}', b'0.9}')) is None  # the sum: decode() says
    True
    """
    lim = limits or DEFAULT_LIMITS
    if raw is None or raw.__class__ is not bytes or len(raw) > lim.max_bytes:
        return None
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    validate = _FAST.get(lim)
    if validate is None:
        validate = _fast_inference(lim)
        if len(_FAST) < 64:
            _FAST[lim] = validate
    try:
        fields = validate(raw)
    except ValidationError:
        return None
    proba = fields["output"].get("probabilities")
    # ProductionOutput's rule, same arithmetic: refused here means "ask decode()"
    if not proba or abs(math.fsum(proba.values()) - 1.0) > PROBA_SUM_TOLERANCE:
        return None
    return fields


def export_json_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of every topic model, keyed by file stem."""
    return {name: m.model_json_schema(mode="validation") for name, m in MODELS.items()}
