"""Tier 2: the scorer's hot-path shortcuts give the same bytes, counts and verdicts."""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import OrderedDict

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from streamsift.errors import SchemaError
from streamsift.metrics import SCORING_BUCKETS, observe_many
from streamsift.schemas import InferenceEvent, Limits, decode
from streamsift.stream.decisions import (
    FORMAT,
    MAX_RECORD_BYTES,
    LoggedDecision,
    decode_batch,
    encode_batches,
    encode_rows,
)
from streamsift.stream.dedupe import Dedupe
from tests.stream.fakes import event_bytes


def _reference(
    topic: str,
    partition: int,
    worker: str,
    at: float,
    rows: list[LoggedDecision],
    requests: dict[str, tuple[bytes, bytes]],
) -> dict[str, object]:
    """The body of the decision record."""
    body: dict[str, object] = {"v": FORMAT, "topic": topic, "partition": partition}
    body.update(
        worker=worker,
        at=at,
        d=[d.row() for d in rows],
        r={
            d.event_id: [requests[d.event_id][0].decode(), requests[d.event_id][1].decode()]
            for d in rows
            if d.event_id in requests
        },
    )
    return body


def _rows(rng: random.Random, n: int) -> list[LoggedDecision]:
    return [
        LoggedDecision(
            f'e"{i}é\\',
            i,
            i % 3 == 0,
            "active" if i % 3 == 0 else "none",
            rng.random(),
            rng.random(),
            "eu-☃",
            3,
            "selected" if i % 3 == 0 else "not_drawn",
            f"r{i}" if i % 3 == 0 else None,
        )
        for i in range(n)
    ]


def test_decision_record_bytes_equal_one_encoding_of_the_body() -> None:
    rng = random.Random(0)
    for n in (1, 2, 17, 300):
        rows = _rows(rng, n)
        reqs = {
            d.event_id: (json.dumps({"q": d.event_id, "x": "é"}).encode(), b'{"p":1e-07}')
            for d in rows
            if d.selected
        }
        at = rng.choice([1.0, 0.1 + 0.2, 1_700_000_000.123456])
        body = _reference("t", 2, "w", at, rows, reqs)
        raws = encode_batches("t", 2, "w", at, rows, reqs)
        assert raws == [orjson.dumps(body)]
        # the same values as the json.dumps the log was first written with
        assert json.loads(raws[0]) == json.loads(json.dumps(body)) == body
    assert encode_batches("t", 2, "w", 1.0, [], {}) == []


def test_nan_scores_and_numpy_numbers_round_trip() -> None:
    import numpy as np

    rows = [
        LoggedDecision("e1", 1, False, "none", float("nan"), np.float64(0.25), "eu", 1, "x"),
        LoggedDecision("e2", 2, True, "active", np.float32(0.5), 0.75, "eu", np.int64(2), "y"),
    ]
    [raw] = encode_batches("t", 0, "w", 1.0, rows, {"e2": (b"{}", b"{}")})
    got = decode_batch(raw).decisions
    assert math.isnan(got[0].p) and got[0].score == 0.25
    assert (got[1].p, got[1].score, got[1].model_version) == (0.5, 0.75, 2)


def test_split_records_keep_every_row_and_request_once() -> None:
    rows = _rows(random.Random(1), 400)
    reqs = {d.event_id: (b'{"q":1}', b'{"p":"\\u00e9"}') for d in rows if d.selected}
    raws = encode_batches("t", 0, "w", 5.0, rows, reqs, max_bytes=3_000)
    assert len(raws) > 1 and all(len(r) <= 3_500 for r in raws)
    batches = [decode_batch(r) for r in raws]
    assert [d for b in batches for d in b.decisions] == rows
    merged = {k: v for b in batches for k, v in b.requests.items()}
    assert merged == reqs
    for b in batches:  # each record carries the requests of its own rows only
        assert set(b.requests) == {d.event_id for d in b.decisions if d.selected}


def test_observe_many_matches_observe_one_by_one() -> None:
    rng = random.Random(2)
    xs = [rng.choice(SCORING_BUCKETS) for _ in range(300)]
    xs += [rng.random() * 10 ** rng.randint(-7, 1) for _ in range(3_000)] + [0.0]
    one = Histogram("h", "d", buckets=SCORING_BUCKETS, registry=CollectorRegistry())
    many = Histogram("h", "d", buckets=SCORING_BUCKETS, registry=CollectorRegistry())
    for x in xs:
        one.observe(x)
    observe_many(many, xs)
    observe_many(many, [])

    def samples(h: Histogram) -> list[tuple[str, dict[str, str], float]]:
        return [
            (s.name, s.labels, s.value)
            for s in h.collect()[0].samples
            if not s.name.endswith("_created")
        ]

    for a, b in zip(samples(one), samples(many), strict=True):
        assert a[:2] == b[:2] and a[2] == pytest.approx(b[2])


def test_dedupe_verdicts_unchanged_across_partitions_and_horizon() -> None:
    d = Dedupe(horizon=6, partitions=2)
    assert d.per_partition == 3
    d.add(0, "a", 1)
    assert d.check(0, "a", 1) == "redelivered"
    assert d.check(0, "a", 2) == "duplicate"
    assert d.check(1, "a", 1) == "duplicate"  # only partition 0 known yet
    d.add(1, "b", 1)
    assert d.check(0, "b", 9) == "duplicate" and d.check(0, "c", 9) == "new"
    d.add(0, "a", 5)  # re-added: moves to the end with its new offset
    d.add(0, "x", 6)
    d.add(0, "y", 7)
    assert d.check(0, "a", 5) == "redelivered"
    d.add(0, "z", 8)  # "a" was the oldest of partition 0: evicted
    assert d.check(0, "a", 5) == "new" and len(d) == 4


def test_decode_reasons_for_non_ascii_and_memoryview_input() -> None:
    good = event_bytes("é-1", region="zürich").replace(b"z\\u00fcrich", "zürich".encode())
    assert not good.isascii()
    assert decode(InferenceEvent, good).region == "zürich"
    assert decode(InferenceEvent, memoryview(good)).event_id == "é-1"
    assert decode(InferenceEvent, bytearray(good), Limits(max_features=8)).event_id == "é-1"
    with pytest.raises(SchemaError) as err:
        decode(InferenceEvent, good.replace("zürich".encode(), b"z\xfcrich"))
    assert err.value.reason == "undecodable"
    with pytest.raises(SchemaError) as err:
        decode(InferenceEvent, event_bytes("e"), Limits(max_features=2))
    assert err.value.reason == "oversized"
    for bad in (b'"age": Infinity', b'"age": -Infinity', b'"age": NaN'):
        with pytest.raises(SchemaError) as err:
            decode(InferenceEvent, event_bytes("e").replace(b'"age": 42', bad))
        assert err.value.reason == "non_finite"
    with pytest.raises(SchemaError) as err:
        decode(InferenceEvent, event_bytes("e", schema_version="1"))
    assert err.value.reason == "schema_violation"
    assert decode(InferenceEvent, event_bytes("e", schema_version="1.7")).schema_version == "1.7"


def test_selected_requests_carry_annotators_needed() -> None:
    from tests.stream.test_scorer import make, rec

    scorer, sampler, sink, _ = make(redundancy_share=1.0, redundancy_k=3)
    asyncio.run(scorer.process([rec(event_bytes("s1", select=True), 0)]))
    [req] = sink.on("streamsift.label-requests")
    [pend] = sink.on("streamsift.pending")
    assert json.loads(req.value or b"")["annotators_needed"] == 3
    assert json.loads(pend.value or b"")["annotators_needed"] == 3
    assert sampler.confirmed == ["s1"] * 3


def test_encode_rows_equals_encode_batches_of_the_same_decisions() -> None:
    rows = _rows(random.Random(3), 50)
    reqs = {d.event_id: (b'{"q":1}', b'{"p":2}') for d in rows if d.selected}
    for max_bytes in (MAX_RECORD_BYTES, 1_500):
        assert encode_rows("t", 1, "w", 2.5, [d.row() for d in rows], reqs, max_bytes) == (
            encode_batches("t", 1, "w", 2.5, rows, reqs, max_bytes)
        )


def _slow_core(raw: object, limits: Limits) -> object:
    from streamsift.stream.convert import to_core_event

    try:
        return to_core_event(decode(InferenceEvent, raw, limits))  # type: ignore[arg-type]
    except SchemaError as err:
        return ("error", err.reason, err.detail)


def _fast_core(raw: object, limits: Limits) -> object:
    from streamsift.stream.convert import decode_core_event

    try:
        return decode_core_event(raw, limits)  # type: ignore[arg-type]
    except SchemaError as err:
        return ("error", err.reason, err.detail)


def test_core_events_built_without_the_model_equal_the_models_view() -> None:
    """decode_core_event == to_core_event(decode(...)) on valid events of every form
    and on invalid variants of every dead-letter reason (same reason and detail); the
    fast path accepts only what the model accepts."""
    from streamsift.bench.decisions_check import bad_payloads
    from streamsift.schemas import inference_fields
    from streamsift.tools.synthetic import SyntheticStream

    events = SyntheticStream(seed=5).take(300)
    good = [e.to_json() for e in events]
    base = json.loads(good[0])

    def enc(**kw: object) -> bytes:
        return json.dumps({**base, **kw}, separators=(",", ":")).encode()

    valid_forms = [
        enc(schema_version="1.3"),
        enc(timestamp="2026-01-01T05:30:00+05:30"),
        enc(timestamp="2026-03-01T00:00:00.123456Z"),
        enc(embedding=[0.5, -1.0, 2]),
        enc(metadata={"a": 1, "b": None}),
        enc(region=None),
        enc(output={"predicted_label": "fraud", "score": 0.9}),
        enc(output={"probabilities": {"a": 0.5, "b": 0.5}, "predicted_label": 1}),
        enc(output={"probabilities": {"a": 0.9995}}),
        enc(features={"ünï": "cödé", "x": True, "y": None, "z": 1e300}),
        enc(features={"a": 1, "a ": 2}),
        json.dumps({k: v for k, v in base.items() if k != "schema_version"}).encode(),
        good[1].replace(b'"region":', b'"region":"a","region":'),
        good[2][:-1] + b',"extra":{"nested":[1,{"x":2}]}}',
    ]
    limits = [Limits(), Limits(max_bytes=600, max_features=5, max_embedding=2)]
    n_fast = 0
    for lim in limits:
        raws: list[object] = [*good, *valid_forms]
        for i in range(0, len(good), 7):
            raws.extend(bad_payloads(good[i], good[(i + 1) % len(good)]))
        raws.extend([bytearray(good[0]), memoryview(good[1])])
        for raw in raws:
            slow, fast = _slow_core(raw, lim), _fast_core(raw, lim)
            assert fast == slow, raw
            if isinstance(raw, bytes) and inference_fields(raw, lim) is not None:
                n_fast += 1
                assert not isinstance(slow, tuple), raw  # the fast path never accepts more
    assert n_fast >= len(good)


def test_decisions_check_is_deterministic_and_covers_dead_letters() -> None:
    """The tool that compares two versions' decisions gives the same dump twice in one
    process, with decisions, dead letters and label requests in it."""
    from streamsift.bench.decisions_check import run_check

    first = list(run_check(seed=1, n_events=400, batch=100))
    assert first == list(run_check(seed=1, n_events=400, batch=100))
    topics = [json.loads(line).get("topic", "") for line in first]
    assert any(t.endswith("dead-letters") for t in topics)
    assert any(t.endswith("label-requests") for t in topics)
    assert sum('"sel"' in line for line in first) == 400


class _ReferenceDedupe:
    """The dedupe as first written (one OrderedDict per partition, every partition
    searched for an id): the verdicts the faster one must keep."""

    def __init__(self, horizon: int, partitions: int) -> None:
        self.limit = -(-horizon // partitions) if horizon else 0
        self.ids: dict[int, OrderedDict[str, int]] = {}

    def check(self, partition: int, event_id: str, offset: int) -> str:
        own = self.ids.get(partition)
        if own is not None and event_id in own:
            return "redelivered" if own[event_id] == offset else "duplicate"
        if any(p != partition and event_id in ids for p, ids in self.ids.items()):
            return "duplicate"
        return "new"

    def add(self, partition: int, event_id: str, offset: int) -> None:
        if self.limit == 0:
            return
        ids = self.ids.setdefault(partition, OrderedDict())
        if event_id in ids:
            ids.move_to_end(event_id)
        ids[event_id] = offset
        while len(ids) > self.limit:
            ids.popitem(last=False)

    def forget(self, partition: int) -> None:
        self.ids.pop(partition, None)


@settings(max_examples=300, deadline=None)
@given(
    horizon=st.integers(0, 12),
    partitions=st.integers(1, 3),
    ops=st.lists(
        st.tuples(
            st.sampled_from(["check", "add", "add", "forget"]),
            st.integers(0, 2),
            st.sampled_from("abcdefg"),
            st.integers(0, 3),
        ),
        max_size=80,
    ),
)
def test_dedupe_gives_the_reference_verdicts(
    horizon: int, partitions: int, ops: list[tuple[str, int, str, int]]
) -> None:
    fast, ref = Dedupe(horizon, partitions), _ReferenceDedupe(horizon, partitions)
    for op, partition, event_id, offset in ops:
        if op == "check":
            assert fast.check(partition, event_id, offset) == ref.check(partition, event_id, offset)
        elif op == "add":
            fast.add(partition, event_id, offset)
            ref.add(partition, event_id, offset)
        else:
            fast.forget(partition)
            ref.forget(partition)
        assert len(fast) == sum(len(ids) for ids in ref.ids.values())
    for partition in range(3):
        for event_id in "abcdefg":
            for offset in range(4):
                assert fast.check(partition, event_id, offset) == ref.check(
                    partition, event_id, offset
                )


def test_dedupe_memory_stays_bounded_when_ids_come_back() -> None:
    d = Dedupe(horizon=8, partitions=1)
    for i in range(10_000):
        d.add(0, "abc"[i % 3], i)
    assert len(d) == 3 and len(d._order[0]) <= 2 * 8 + 64
    assert d.check(0, "a", 9_999) == "redelivered"
