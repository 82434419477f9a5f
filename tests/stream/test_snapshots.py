"""Tier 2: snapshot signing, verification before unpickling, tampering, the follower."""

from __future__ import annotations

import asyncio
import hashlib
import json
import pickle

import pytest
from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.metrics import Metrics
from streamsift.stream.follower import SnapshotFollower, training_offset
from streamsift.stream.learner import Learner
from streamsift.stream.ports import MemorySink
from streamsift.stream.snapshots import (
    OFFSET_HEADER,
    SnapshotRefusedError,
    encode_snapshot,
    load_snapshot,
    sign,
    verify_snapshot,
)
from tests.stream.fakes import FakeModel, FakeSampler, value

KEY = b"test-key"


class Bomb:
    """Unpickling this would run code: it must never be unpickled unverified."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (pytest.fail, ("an unverified payload was unpickled",))


def snap(model: object = None, version: int = 1, name: str = "m") -> bytes:
    return encode_snapshot(
        model if model is not None else FakeModel(version=version),
        model_name=name, version=version, labels_seen=5, key=KEY, now=0.0,
    )  # fmt: skip


def refused(raw: bytes, key: bytes = KEY, name: str | None = "m") -> str:
    with pytest.raises(SnapshotRefusedError) as info:
        load_snapshot(raw, key=key, model_name=name)
    return info.value.reason


def test_round_trip() -> None:
    header, model = load_snapshot(snap(version=7), key=KEY, model_name="m")
    assert header.model_version == 7 and model == FakeModel(version=7)


def test_tampered_payload_is_refused_before_unpickling() -> None:
    raw = snap()
    head = raw.partition(b"\n")[0]
    evil = pickle.dumps(Bomb())
    assert refused(head + b"\n" + evil) == "hash_mismatch"
    body = json.loads(head)
    body["payload_sha256"] = hashlib.sha256(evil).hexdigest()  # consistent hash, stale signature
    assert refused(json.dumps(body).encode() + b"\n" + evil) == "bad_signature"
    body["signature"] = sign(evil, b"attacker-key")
    assert refused(json.dumps(body).encode() + b"\n" + evil) == "bad_signature"


def test_wrong_key_malformed_and_wrong_model_are_refused() -> None:
    assert refused(snap(), key=b"other") == "bad_signature"
    assert refused(b"") == "malformed"
    assert refused(b"no header line") == "malformed"
    assert refused(b'{"model_name": "m"}\npayload') == "malformed"
    assert refused(snap(name="other")) == "wrong_model"


def test_unpicklable_but_signed_payload_is_refused() -> None:
    payload = b"not a pickle"
    body = json.loads(snap().partition(b"\n")[0])
    body["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    body["signature"] = sign(payload, KEY)
    assert refused(json.dumps(body).encode() + b"\n" + payload) == "unpickle_error"


def test_verify_does_not_unpickle() -> None:
    header, payload = verify_snapshot(snap(model=[1, 2]), key=KEY)
    assert pickle.loads(payload) == [1, 2] and header.labels_seen == 5


def make_follower() -> tuple[SnapshotFollower, FakeSampler, CollectorRegistry]:
    s = Settings(model_name="m", snapshot_hmac_key=KEY.decode())
    sampler, reg = FakeSampler(), CollectorRegistry()
    return SnapshotFollower(s, sampler, Metrics(reg)), sampler, reg


def test_follower_swaps_only_newer_verified_snapshots_and_counts_refusals() -> None:
    follower, sampler, reg = make_follower()
    headers = [(OFFSET_HEADER, b"41")]
    assert follower.offer(snap(version=2), headers)
    assert sampler.model.version == 2 and follower.training_offset == 41
    assert not follower.offer(snap(version=1), None)  # older: ignored
    tampered = snap(version=3).replace(b'"model_version":3', b'"model_version":9')
    assert not follower.offer(tampered[:-3] + b"xyz", None)
    assert sampler.model.version == 2 and len(sampler.swapped) == 1
    assert value(reg, "snapshot_refused_total", reason="hash_mismatch") == 1
    assert reg.get_sample_value("streamsift_snapshot_loaded_total") == 1
    assert training_offset([("other", b"x")]) is None


def test_learner_publishes_a_signed_snapshot_every_n_labels() -> None:
    from streamsift.core.types import LabelledItem
    from streamsift.stream.convert import encode_labelled

    s = Settings(model_name="m", snapshot_hmac_key=KEY.decode(), snapshot_every_labels=3)
    sampler, sink, reg = FakeSampler(), MemorySink(), CollectorRegistry()
    follower = SnapshotFollower(s, sampler, Metrics(reg))
    learner = Learner(s, sampler, sink, Metrics(CollectorRegistry()), follower, clock=lambda: 0.0)

    class Rec:
        def __init__(self, offset: int, event_id: str) -> None:
            self.offset, self.key, self.topic, self.partition = offset, event_id.encode(), "t", 0
            self.value = encode_labelled(LabelledItem(event_id, {"x": 1.0}, "yes", p=0.5))
            self.timestamp = 0

    async def go() -> None:
        learner.owner = True
        await learner.learn_records([Rec(0, "a"), Rec(1, "b"), Rec(2, "a")])  # "a" twice
        assert not learner.snapshot_due()
        await learner.learn_records([Rec(3, "c")])
        assert learner.snapshot_due()
        await learner.snapshot()

    asyncio.run(go())
    assert [i.event_id for i in sampler.learned] == ["a", "b", "c"]
    [msg] = sink.on(s.topic_model_snapshots)
    assert msg.key == b"m" and dict(msg.headers or [])[OFFSET_HEADER] == b"3"
    header, model = load_snapshot(msg.value, key=KEY, model_name="m")
    assert header.model_version == 1 == model.version and header.labels_seen == 3
