"""Tier 1: the synthetic generator is deterministic, drifts only where told, validates."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from streamsift.errors import ConfigurationError
from streamsift.schemas import InferenceEvent, decode
from streamsift.tools import CLASSES, SyntheticStream, true_label
from streamsift.tools.synthetic import BLOCK


def test_same_seed_same_stream() -> None:
    a = SyntheticStream(seed=11).take(3000)
    b = SyntheticStream(seed=11).take(3000)
    assert a == b
    assert a != SyntheticStream(seed=12).take(3000)


def test_chunking_does_not_change_the_stream() -> None:
    whole = SyntheticStream(seed=5).take(BLOCK + 700)
    s = SyntheticStream(seed=5)
    parts = s.take(3) + s.take(BLOCK - 1) + s.take(698)
    assert parts == whole
    assert s.position == BLOCK + 700
    assert SyntheticStream(seed=5).event_at(BLOCK + 10) == whole[BLOCK + 10]


def test_iter_and_seek() -> None:
    s = SyntheticStream(seed=2)
    it = iter(s)
    first = [next(it) for _ in range(5)]
    assert first == SyntheticStream(seed=2).take(5)
    s.seek(100)
    assert s.take(1)[0].index == 100
    with pytest.raises(ValueError):
        s.seek(-1)


def test_clone_restarts() -> None:
    s = SyntheticStream(seed=3, drift_at=10, drift_regions=("sa-east",))
    head = s.take(50)
    assert s.clone().take(50) == head


def test_drift_changes_only_chosen_regions_after_drift_at() -> None:
    k = 3000
    base = SyntheticStream(seed=9).take(8000)
    drifted = SyntheticStream(seed=9, drift_at=k, drift_regions=("eu-west", "sa-east")).take(8000)
    changed = 0
    for b, d in zip(base, drifted, strict=True):
        assert b.region == d.region and b.event_id == d.event_id
        if b.index < k or b.region not in ("eu-west", "sa-east"):
            assert b == d
            assert not d.drifted
        else:
            assert d.drifted
            changed += b != d
    assert changed > 0.9 * sum(d.drifted for d in drifted)


def _num(value: object) -> float:
    assert isinstance(value, float | int)
    return float(value)


def test_drift_raises_amounts_and_lowers_production_confidence() -> None:
    events = SyntheticStream(seed=4, drift_at=5000, drift_regions=("eu-west",)).take(15000)

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    before = [e for e in events if e.region == "eu-west" and e.index < 5000]
    after = [e for e in events if e.region == "eu-west" and e.index >= 5000]
    amount = (
        [_num(e.features["amount"]) for e in before],
        [_num(e.features["amount"]) for e in after],
    )
    assert mean(amount[1]) > 2 * mean(amount[0])
    conf = [max(e.proba.values()) for e in before], [max(e.proba.values()) for e in after]
    assert mean(conf[1]) < mean(conf[0]) - 0.1
    others = [e for e in events if e.region != "eu-west"]
    assert not any(e.drifted for e in others)


def test_true_label_is_deterministic_and_matches_events() -> None:
    events = SyntheticStream(seed=1).take(5000)
    for e in events:
        again = json.loads(json.dumps(e.features))
        assert true_label(again) == e.label
    mix = Counter(e.label for e in events)
    assert set(mix) == set(CLASSES)
    assert mix["legit"] > mix["review"] > mix["fraud"] > 0.03 * len(events)


def test_true_label_needs_every_concept_feature() -> None:
    e = SyntheticStream(seed=1).take(1)[0]
    features = dict(e.features)
    del features["device_trust"]
    with pytest.raises(KeyError):
        true_label(features)
    with pytest.raises(KeyError):
        true_label({**e.features, "plan": 3})


def test_production_model_is_imperfect_and_worse_in_noisy_regions() -> None:
    events = SyntheticStream(seed=8).take(20000)
    acc: dict[str, list[int]] = {}
    for e in events:
        hit = max(e.proba, key=lambda c: e.proba[c]) == e.label
        acc.setdefault(e.region, []).append(hit)
    rate = {r: sum(v) / len(v) for r, v in acc.items()}
    assert 0.6 < rate["sa-east"] < rate["eu-west"] < 0.95


def test_messages_validate_against_the_contract() -> None:
    for e in SyntheticStream(seed=6, drift_at=0, drift_regions=("us-east",)).take(500):
        event = decode(InferenceEvent, e.to_json())
        assert event.event_id == e.event_id
        assert event.region == e.region
        assert event.output.probabilities is not None
        assert abs(sum(event.output.probabilities.values()) - 1) < 1e-3
        assert e.to_inference_event() == event
        core = e.to_core_event()
        assert core.event_id == e.event_id and core.proba == e.proba


def test_live_timestamp_override() -> None:
    e = SyntheticStream(seed=6).take(1)[0]
    event = decode(InferenceEvent, e.to_json(timestamp=1_800_000_000.25))
    assert event.timestamp.timestamp() == 1_800_000_000.25


@pytest.mark.parametrize(
    "kwargs",
    [
        {"regions": {}},
        {"regions": {"a": 0.0}},
        {"drift_regions": ("mars",)},
        {"drift_at": -1},
        {"drift_shift": 5.0},
        {"drift_temperature": 0.5},
        {"rate": 0.0},
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SyntheticStream(**kwargs)  # type: ignore[arg-type]


def test_custom_regions() -> None:
    events = SyntheticStream(seed=1, regions={"north": 1.0, "south": 3.0}).take(4000)
    counts = Counter(e.region for e in events)
    assert set(counts) == {"north", "south"}
    assert 2.5 < counts["south"] / counts["north"] < 3.5
