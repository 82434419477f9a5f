"""Signed model snapshots: encode, verify, load.

On the wire (topic model-snapshots, key the model name) a snapshot is
``ModelSnapshotHeader JSON + b"\\n" + pickle payload``. The header carries the
SHA-256 of the payload and its HMAC-SHA256 under the shared snapshot key. A
reader checks, in this order, that the header parses, that it is for its model,
that the hash matches, and that the signature matches (``hmac.compare_digest``)
-- and only then unpickles. A snapshot failing any check is refused with a
bounded reason (:class:`SnapshotRefusedError`).

The learner also records the training-topic offset the snapshot covers in the
Kafka record header ``streamsift-training-offset`` (see
:mod:`streamsift.stream.learner`).

Examples
--------
>>> raw = encode_snapshot({"w": [1, 2]}, model_name="m", version=3, labels_seen=10,
...                       key=b"k", now=0.0)
>>> header, model = load_snapshot(raw, key=b"k", model_name="m")
>>> header.model_version, model
(3, {'w': [1, 2]})
>>> try:
...     load_snapshot(raw, key=b"wrong", model_name="m")
... except SnapshotRefusedError as err:
...     print(err.reason)
bad_signature
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from streamsift.errors import SnapshotError
from streamsift.schemas import ModelSnapshotHeader

if TYPE_CHECKING:
    from streamsift.config import Settings

__all__ = [
    "OFFSET_HEADER",
    "SnapshotRefusedError",
    "encode_model_snapshot",
    "encode_snapshot",
    "load_snapshot",
    "sign",
    "verify_snapshot",
]

#: Kafka record header holding the last training offset a snapshot includes.
OFFSET_HEADER: Final = "streamsift-training-offset"
#: Largest header line accepted before the payload.
MAX_HEADER_BYTES: Final = 8_192


class SnapshotRefusedError(SnapshotError):
    """A snapshot failed verification.

    Parameters
    ----------
    reason
        One of :data:`streamsift.metrics.SNAPSHOT_REFUSE_REASONS`.
    detail
        Human-readable detail.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"snapshot refused ({reason}): {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def sign(payload: bytes, key: bytes) -> str:
    """Hex HMAC-SHA256 of the payload."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def copy_model(model: Any) -> Any:
    """An independent copy of a model: the pickle round trip a snapshot makes."""
    return pickle.loads(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def encode_snapshot(
    model: Any, *, model_name: str, version: int, labels_seen: int, key: bytes, now: float
) -> bytes:
    """Pickle and sign a model; return the message value."""
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    header = ModelSnapshotHeader(
        model_name=model_name,
        model_version=version,
        labels_seen=labels_seen,
        created_at=datetime.fromtimestamp(now, UTC),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        signature=sign(payload, key),
    )
    return header.model_dump_json().encode("utf-8") + b"\n" + payload


def encode_model_snapshot(model: Any, settings: Settings, now: float) -> bytes:
    """:func:`encode_snapshot` of an online model (its own version and labels seen),
    named and signed as ``settings`` say: what the learner publishes."""
    return encode_snapshot(
        model,
        model_name=settings.model_name,
        version=int(model.version),
        labels_seen=int(model.labels_seen),
        key=settings.snapshot_hmac_key.get_secret_value().encode(),
        now=now,
    )


def verify_snapshot(
    raw: bytes | None, *, key: bytes, model_name: str | None = None
) -> tuple[ModelSnapshotHeader, bytes]:
    """Check a snapshot without unpickling it; return its header and payload.

    Raises
    ------
    SnapshotRefusedError
        ``malformed``, ``wrong_model``, ``hash_mismatch`` or ``bad_signature``.
    """
    if not raw:
        raise SnapshotRefusedError("malformed", "empty value")
    head, sep, payload = raw.partition(b"\n")
    if not sep or len(head) > MAX_HEADER_BYTES:
        raise SnapshotRefusedError("malformed", "no header line")
    try:
        header = ModelSnapshotHeader.model_validate_json(head)
    except ValidationError as exc:
        raise SnapshotRefusedError("malformed", str(exc)[:200]) from None
    if model_name is not None and header.model_name != model_name:
        raise SnapshotRefusedError("wrong_model", f"{header.model_name!r}, expected {model_name!r}")
    if not hmac.compare_digest(hashlib.sha256(payload).hexdigest(), header.payload_sha256):
        raise SnapshotRefusedError("hash_mismatch", f"version {header.model_version}")
    if not hmac.compare_digest(sign(payload, key), header.signature):
        raise SnapshotRefusedError("bad_signature", f"version {header.model_version}")
    return header, payload


def load_snapshot(
    raw: bytes | None, *, key: bytes, model_name: str | None = None
) -> tuple[ModelSnapshotHeader, Any]:
    """Verify, then unpickle, a snapshot.

    Raises
    ------
    SnapshotRefusedError
        As :func:`verify_snapshot`, or ``unpickle_error``.
    """
    header, payload = verify_snapshot(raw, key=key, model_name=model_name)
    try:
        model = pickle.loads(payload)
    except Exception as exc:
        raise SnapshotRefusedError("unpickle_error", repr(exc)[:200]) from None
    return header, model
