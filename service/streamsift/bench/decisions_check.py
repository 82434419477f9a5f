"""Dump everything the scorer does on a seeded stream, to compare two versions.

Performance changes to the hot path must not change a single decision. This tool
drives :class:`~streamsift.stream.scorer.Scorer` (the default Sampler, trained as it
goes with the true labels of what it selects plus a share of the other events, so
that the tree grows, splits and its leaves switch between naive Bayes and majority
class) over a seeded :class:`~streamsift.tools.synthetic.SyntheticStream` in which
invalid records (every dead-letter reason, and payloads that are valid JSON only
when concatenated) and redeliveries are mixed in, and writes one JSON line per
message sent (topic, key, partition, value) and per decision (event id, selected,
arm, p, score, region, reason, priority, model version, drift windows closed),
plus the sampler's final state. Request ids are deterministic and the clock is
simulated, so two versions of the code produce the same file exactly when they
behave the same.

Run it with each version on the path and compare the files::

    PYTHONPATH=/tmp/old/service python -m streamsift.bench.decisions_check --out old.jsonl
    python -m streamsift.bench.decisions_check --out new.jsonl
    cmp old.jsonl new.jsonl

The run re-executes itself with ``PYTHONHASHSEED=0`` when no hash seed is set:
river keeps the classes in a set of strings, whose order (and so the order in
which the probabilities are summed, down to the last bit) follows the hash seed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, cast

from streamsift.bench.scorer_bench import memory_scorer
from streamsift.config import Settings
from streamsift.core.types import Decision, LabelledItem, Proba
from streamsift.factory import build_sampler
from streamsift.stream.records import SourceRecord
from streamsift.tools.synthetic import SyntheticEvent, SyntheticStream

__all__ = ["bad_payloads", "run_check"]

TOPIC = "streamsift.inference-events"


def bad_payloads(good: bytes, other: bytes) -> list[bytes | None]:
    """Invalid variants of a valid payload ``good`` (``other`` is another valid one)."""
    body = json.loads(good)

    def enc(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), allow_nan=True).encode()

    def with_(**kw: Any) -> bytes:
        return enc({**body, **kw})

    def without(key: str) -> bytes:
        return enc({k: v for k, v in body.items() if k != key})

    feats = body["features"]
    proba = body["output"]["probabilities"]
    first = next(iter(proba))
    return [
        None,
        b"",
        b"   ",
        b"not json",
        good[:-1],
        good[: len(good) // 2],
        good + b"x",
        good + b"," + other,
        b"[" + good + b"]",
        b'"' + good.replace(b'"', b"'") + b'"',
        b"123",
        b"null",
        b"\xff\xfe" + good,
        good.replace(b"fraud-risk", "fräud".encode("latin-1")),
        good.replace(b"fraud-risk", "frä\u00fcd".encode()),
        with_(schema_version="2.0"),
        with_(schema_version="1"),
        with_(schema_version="1.7"),
        with_(schema_version=1.0),
        with_(event_id=""),
        with_(event_id="   "),
        with_(event_id=7),
        with_(event_id="x" * 300),
        without("event_id"),
        without("model_id"),
        without("timestamp"),
        without("features"),
        without("output"),
        with_(timestamp="2026-01-01T00:00:00"),
        with_(timestamp="yesterday"),
        with_(timestamp=1767225600),
        with_(timestamp="2026-01-01T02:00:00+02:00"),
        with_(features={**feats, "amount": float("nan")}),
        with_(features={**feats, "amount": float("inf")}),
        with_(features={**feats, "nested": {"a": 1}}),
        with_(features={**feats, "lst": [1, 2]}),
        with_(features={f"f{i}": i for i in range(600)}),
        with_(features=[1, 2]),
        with_(features={}),
        with_(output={}),
        with_(output={"probabilities": {}}),
        with_(output={"probabilities": {**proba, first: proba[first] + 0.5}}),
        with_(output={"probabilities": {**proba, first: -0.1}}),
        with_(output={"probabilities": {**proba, first: 1.5}}),
        with_(output={"probabilities": {**proba, first: float("nan")}}),
        with_(output={"probabilities": {**proba, first: "0.3"}}),
        with_(output={"predicted_label": "fraud"}),
        with_(output={"predicted_label": "fraud", "score": 1.2}),
        with_(output={"predicted_label": 3, "score": 0.2}),
        with_(output={"predicted_label": ""}),
        with_(output=[1]),
        with_(embedding=[0.1, 0.2, 0.3]),
        with_(embedding=[0.1] * 3000),
        with_(embedding=[0.1, float("inf")]),
        with_(embedding="abc"),
        with_(region=""),
        with_(region=None),
        with_(region="r" * 200),
        with_(region=5),
        with_(metadata={"a": 1, "b": "x"}),
        with_(metadata={"a": [1]}),
        with_(extra_field={"anything": [1, 2]}),
        with_(model_version=""),
        with_(model_version=3),
        b" " + good + b"\n",
        good[:-1] + b',"region":"x"' + b"}",
        good.replace(b'"region":', b'"region":"a","region":'),
        b"x" * 70_000,
        good[:-1] + b',"pad":"' + b"p" * 66_000 + b'"}',
    ]


def _records(seed: int, n: int) -> list[tuple[bytes | None, SyntheticEvent | None]]:
    """Valid payloads with invalid ones and redeliveries mixed in (seeded)."""
    rng = random.Random(seed)
    events = SyntheticStream(seed=seed).take(n)
    out: list[tuple[bytes | None, SyntheticEvent | None]] = []
    for i, ev in enumerate(events):
        raw = ev.to_json()
        out.append((raw, ev))
        if i % 37 == 5:
            bads = bad_payloads(raw, events[(i + 1) % n].to_json())
            out.append((bads[rng.randrange(len(bads))], None))
        if i % 101 == 17 and i > 50:  # a redelivery of an earlier event
            j = rng.randrange(max(0, i - 50), i)
            out.append((events[j].to_json(), events[j]))
    # a few bursts in which one batch holds records that are valid only when joined
    k = rng.randrange(100, max(101, n - 100))
    a = events[k].to_json()
    out.insert(k, (a[:-1] + b',"x":[1', None))
    out.insert(k + 1, (b"2]}", None))
    out.insert(k + 2, (events[k + 1].to_json() + b"," + events[k + 2].to_json(), None))
    out.insert(k + 3, (a[: len(a) // 2], None))
    out.insert(k + 4, (a[len(a) // 2 :], None))
    return out


class _Ids:
    """Deterministic stand-in for ``uuid.uuid4`` (request ids, gold ids)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed * 7919 + 1)

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def _decision_line(d: Decision) -> dict[str, Any]:
    return {
        "id": d.event_id,
        "sel": d.selected,
        "arm": d.arm,
        "p": repr(d.p),
        "score": repr(d.score),
        "region": d.region,
        "reason": d.reason,
        "prio": repr(d.priority),
        "mv": d.model_version,
        "drift": [repr(r) for r in d.drift],
    }


def run_check(seed: int = 0, n_events: int = 6_000, batch: int = 250) -> Iterator[str]:
    """Run the scorer over the seeded stream; yield the JSON lines of the dump."""
    settings = Settings(
        seed=seed,
        capacity_per_hour=36_000,
        max_pending=1_000_000,
        max_features=512,
        drift_window_events=500,
    )
    sampler = build_sampler(settings)
    decisions: list[Decision] = []
    real_decide = sampler.decide

    def decide(event: Any, now: float | None = None, **kw: Any) -> Decision:
        d = real_decide(event, now, **kw)
        decisions.append(d)
        return d

    sampler.decide = decide  # type: ignore[method-assign]
    real_decisions = getattr(sampler, "decisions", None)

    def decisions_of(events: Any, now: Any = None) -> Iterator[Any]:
        assert real_decisions is not None
        for d in real_decisions(events, now):
            if isinstance(d, Decision):
                decisions.append(d)
            yield d

    if real_decisions is not None:  # the scorer decides batches through it
        sampler.decisions = decisions_of  # type: ignore[method-assign]
    clock_now = [1_767_225_600.0]
    scorer, sink = memory_scorer(sampler, settings, worker_id="check", clock=lambda: clock_now[0])
    items = _records(seed, n_events)
    truth = {ev.event_id: ev for _, ev in items if ev is not None}
    records = [
        SourceRecord(TOPIC, i % 4, i // 4, None, raw, 1_767_225_600.0 + i * 0.01)
        for i, (raw, _ev) in enumerate(items)
    ]
    rng = random.Random(seed + 11)
    real_uuid4 = uuid.uuid4
    uuid.uuid4 = _Ids(seed)
    try:

        async def go() -> None:
            for start in range(0, len(records), batch):
                clock_now[0] += 2.5
                await scorer.process(records[start : start + batch])
                # labels come back: the selected ones, and a share of the rest (warms
                # the model fast and grows the tree)
                for d in decisions[-batch:]:
                    ev = truth.get(d.event_id)
                    if ev is None:
                        continue
                    if d.selected or rng.random() < 0.15:
                        if d.selected:
                            sampler.label_arrived(clock_now[0])
                        sampler.learn(
                            LabelledItem(
                                ev.event_id,
                                ev.features,
                                ev.label,
                                p=d.p if d.selected else 1.0,
                                arm=d.arm if d.selected else "bootstrap",
                                production_proba=cast("Proba", dict(ev.proba)),
                            )
                        )
                if start // batch % 8 == 7:
                    clock_now[0] += 700.0  # quiet regions' windows close on the timer
                    await scorer.flush_drift()

        asyncio.run(go())
    finally:
        uuid.uuid4 = real_uuid4
    for d in decisions:
        yield json.dumps(_decision_line(d), sort_keys=True)
    for m in sink.sent:
        yield json.dumps(
            {
                "topic": m.topic,
                "key": None if m.key is None else m.key.decode("latin-1"),
                "partition": m.partition,
                "value": None if m.value is None else m.value.decode("latin-1"),
            },
            sort_keys=True,
        )
    yield json.dumps({"state": repr(sampler.state), "events": len(records)})


def main(argv: Sequence[str] | None = None) -> None:
    if os.environ.get("PYTHONHASHSEED") is None:  # string hashing orders river's class sets
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        rest = sys.argv[1:] if argv is None else list(argv)
        os.execve(sys.executable, [sys.executable, "-m", __spec__.name, *rest], env)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--events", type=int, default=6_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    digest = hashlib.sha256()
    lines = 0
    with open(args.out, "w", encoding="utf-8") as fh:
        for seed in args.seeds:
            for line in run_check(seed, args.events, args.batch):
                fh.write(line + "\n")
                digest.update(line.encode() + b"\n")
                lines += 1
    print(f"{lines} lines, sha256 {digest.hexdigest()}")


if __name__ == "__main__":
    main()
