"""DriftMonitor: windows, verdicts, false alarms, power, re-basing, boost, pickling."""

from __future__ import annotations

import itertools
import pickle
import random
from typing import Any

import numpy as np
import pytest

from streamsift.core.drift import DriftMonitor, DriftResult, RegionBoost
from streamsift.errors import ConfigurationError

NAMES = [f"f{i}" for i in range(5)]


def feed(
    monitor: DriftMonitor,
    rng: np.random.Generator,
    n: int,
    region: str = "r",
    shift: float = 0.0,
    t0: float = 0.0,
    n_features: int = 5,
) -> list[DriftResult]:
    x = rng.normal(size=(n, n_features))
    x[:, 0] += shift
    scores = rng.uniform(size=n)
    preds = rng.integers(0, 3, size=n)
    out: list[DriftResult] = []
    for i in range(n):
        row = dict(zip(NAMES[:n_features], x[i].tolist(), strict=True))
        out += monitor.update(region, row, float(scores[i]), int(preds[i]), t0 + i * 1e-3)
    return out


def test_new_region_first_window_is_reference() -> None:
    m = DriftMonitor(window_size=50, window_seconds=None)
    assert m.boost("r") == 1.0
    m.update("r", {"x": 1.0}, 0.1, "a", 0.0)
    assert m.boost("r") == 3.0
    results = feed(m, np.random.default_rng(0), 149)
    assert [r.window_index for r in results] == [0, 1, 2]
    first = results[0]
    assert first.new_region and not first.drifted and first.features == ()
    assert first.n_reference == 0 and first.n_window == 50
    assert [r.new_region for r in results[1:]] == [False, False]
    assert results[1].n_reference == 50
    kinds = [(f.feature, f.kind) for f in results[1].features]
    assert ("f0", "numeric") in kinds and ("score", "score") in kinds
    assert ("predicted", "prediction") in kinds


def test_false_alarm_rate_on_stationary_stream() -> None:
    """5 numeric features + score + prediction mix, 400 windows: at most 1% alarm."""
    m = DriftMonitor(window_size=100, window_seconds=None)
    results = feed(m, np.random.default_rng(0), 100 * 401)
    evaluated = [r for r in results if not r.new_region]
    assert len(evaluated) == 400
    alarms = sum(r.drifted for r in evaluated)
    assert alarms <= 4, alarms


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quarter_sd_shift_in_one_region_detected_within_two_windows(seed: int) -> None:
    m = DriftMonitor()  # defaults: 2000-event windows
    rng = np.random.default_rng(seed)
    w = m.window_size
    by_region: dict[str, list[DriftResult]] = {"a": [], "b": [], "c": []}
    for k in range(4):  # window 0: reference, 1: stationary, 2 and 3: "b" shifted
        for region in by_region:
            shift = 0.25 if (region == "b" and k >= 2) else 0.0
            by_region[region] += feed(m, rng, w, region, shift, t0=k * 10.0)
    assert [r.drifted for r in by_region["b"][2:]].count(True) >= 1
    assert by_region["b"][2].drifted or by_region["b"][3].drifted
    assert not by_region["b"][1].drifted
    assert "f0" in {f for r in by_region["b"][2:] for f in r.alarmed}
    # the other regions are judged on their own references: at most a rare false alarm
    others = [r.drifted for region in "ac" for r in by_region[region][1:]]
    assert sum(others) <= 1
    assert m.boost("b") == 3.0


def test_lasting_shift_rebases_and_stops_firing_and_boost_decays() -> None:
    m = DriftMonitor(window_size=200, window_seconds=None, settle_windows=3, decay_windows=5)
    rng = np.random.default_rng(5)
    feed(m, rng, 400)  # reference + one stationary window
    results = feed(m, rng, 200 * 12, shift=1.0, t0=400.0)
    drifted = [r.drifted for r in results]
    rebased = [r.rebased for r in results]
    assert rebased.count(True) == 1
    at = rebased.index(True)
    assert drifted[: at + 1] == [True] * (at + 1)
    assert at == 3  # first drifted window anchors, then 3 agreeing windows
    assert not any(drifted[at + 1 :])
    boosts = []
    for _ in range(6):
        boosts.append(m.boost("r"))
        feed(m, rng, 200, shift=1.0)
    assert boosts[-1] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(boosts))


def test_boost_decay_is_geometric_to_one() -> None:
    b = RegionBoost(factor=3.0, decay_windows=4)
    b.trigger("x")
    seen = [b.boost("x")]
    for _ in range(5):
        b.step("x")
        seen.append(b.boost("x"))
    assert seen == pytest.approx([3.0, 3**0.75, 3**0.5, 3**0.25, 1.0, 1.0])
    b.step("never")
    assert b.boost("never") == 1.0 and b.boosted == {}


def test_categorical_and_prediction_mix_drift() -> None:
    m = DriftMonitor(window_size=300, window_seconds=None)
    rng = np.random.default_rng(2)
    results = []
    for k in range(3):
        p_b = 0.7 if k == 2 else 0.3
        for i in range(300):
            cat = "b" if rng.uniform() < p_b else "a"
            pred = cat
            results += m.update("r", {"c": cat, "flag": True}, 0.5, pred, k * 300.0 + i)
    last = results[-1]
    assert last.drifted
    levels = {f.feature: (f.kind, f.level) for f in last.features}
    assert levels["c"] == ("categorical", "alarm")
    assert levels["predicted"] == ("prediction", "alarm")
    assert levels["flag"][0] == "categorical" and levels["flag"][1] == "ok"
    assert last.severe
    assert not results[1].drifted


def test_time_closed_windows_and_flush() -> None:
    m = DriftMonitor(window_size=1000, window_seconds=10.0, min_events=5)
    out = []
    for t in range(25):
        out += m.update("r", {"x": float(t % 3)}, 0.5, None, float(t))
    assert [r.n_window for r in out] == [10, 10]
    assert out[0].window_end_timestamp == 9.0
    assert m.buffered("r") == 5
    assert m.flush(29.0) == []
    flushed = m.flush(30.0)
    assert [r.n_window for r in flushed] == [5] and m.buffered("r") == 0
    # too few events: the window keeps filling past window_seconds
    for t in range(3):
        assert m.update("r", {"x": 1.0}, 0.5, None, 100.0 + 20 * t) == []
    assert DriftMonitor(window_seconds=None).flush(1e9) == []


def test_buffers_are_bounded() -> None:
    m = DriftMonitor(window_size=64, window_seconds=None)
    rng = np.random.default_rng(1)
    for i in range(1000):
        m.update("r", {"x": float(rng.normal())}, 0.5, None, float(i))
        assert m.buffered("r") < 64
        assert m.reference_size("r") <= 64
    assert m.buffered("nowhere") == 0 and m.reference_size("nowhere") == 0
    assert m.regions == ("r",) and m.windows_closed == 1000 // 64


def test_pickle_round_trip_mid_stream() -> None:
    m = DriftMonitor(window_size=100, window_seconds=None)
    feed(m, np.random.default_rng(0), 350)
    copy = pickle.loads(pickle.dumps(m))
    a = feed(m, np.random.default_rng(1), 500, shift=0.8)
    b = feed(copy, np.random.default_rng(1), 500, shift=0.8)
    assert a == b and len(a) == 5
    assert copy.boost("r") == m.boost("r")


def test_missing_and_mixed_values_are_skipped() -> None:
    m = DriftMonitor(window_size=20, window_seconds=None)
    out = []
    for i in range(60):
        row: dict[str, Any] = {"x": float(i % 5), "gone": None, "nan": float("nan")}
        if i < 20:
            row["only_ref"] = 1.0
        row["mixed"] = "a" if i % 2 else 1
        out += m.update("r", row, float("nan") if i % 7 == 0 else 0.5, None, float(i))
    names = {f.feature for f in out[-1].features}
    assert names == {"x", "mixed", "score"}


def test_clone_and_repr() -> None:
    m = DriftMonitor(window_size=10, correction="bonferroni", ks_alpha=0.05)
    m.update("r", {"x": 1.0}, 0.5, None, 0.0)
    c = m.clone()
    assert repr(c) == repr(m) and c.regions == ()
    assert "correction='bonferroni'" in repr(m)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"window_size": 1}, "window_size"),
        ({"window_size": 10.5}, "window_size"),
        ({"window_seconds": 0.0}, "window_seconds"),
        ({"min_events": 1}, "min_events"),
        ({"correction": "holm"}, "correction"),
        ({"ks_alpha": 0.0}, "ks_alpha"),
        ({"ks_alpha": 1.0}, "ks_alpha"),
        ({"psi_warn": -0.1}, "psi_warn"),
        ({"psi_alarm": 0.05}, "psi_alarm"),
        ({"n_bins": 1}, "n_bins"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"min_category_count": 0}, "min_category_count"),
        ({"settle_windows": 0}, "settle_windows"),
        ({"boost_factor": 0.5}, "boost_factor"),
        ({"boost_factor": True}, "boost_factor"),
        ({"decay_windows": 0}, "decay_windows"),
    ],
)
def test_monitor_parameter_validation(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        DriftMonitor(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"factor": 0.9}, "factor"),
        ({"factor": "3"}, "factor"),
        ({"decay_windows": 0}, "decay_windows"),
    ],
)
def test_boost_parameter_validation(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        RegionBoost(**kwargs)
    assert repr(RegionBoost().clone()) == "RegionBoost(factor=3.0, decay_windows=5)"


def _columns_oracle(
    rows: list[dict[str, Any]], predictions: list[Any]
) -> tuple[dict[str, list[float]], dict[str, list[tuple[str, int]]], list[tuple[str, int]]]:
    """Columns value by value, row by row (the rule as first written)."""
    from collections import Counter

    numbers: dict[str, list[float]] = {}
    labels: dict[str, Counter[str]] = {}
    for row in rows:
        for name, value in row.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                if value == value:
                    numbers.setdefault(name, []).append(value)
            elif value is not None:
                labels.setdefault(name, Counter())[str(value)] += 1
    for name in set(numbers) & set(labels):
        labels[name].update(str(v) for v in numbers.pop(name))
    preds = Counter(str(p) for p in predictions if p is not None)
    return (
        numbers,
        {k: list(c.items()) for k, c in labels.items()},
        list(preds.items()),
    )


@pytest.mark.parametrize("seed", range(12))
def test_columns_equal_the_row_by_row_rule(seed: int) -> None:
    """Column-wise extraction keeps types, missing values and category order exactly."""
    from streamsift.core.drift.window import Columns, WindowBuffer

    rng = random.Random(seed)
    pools: list[list[Any]] = [
        [1.5, -0.0, 0.0, 2, float("nan"), None],  # numeric with missing values
        ["a", "b", None, "c"],  # text
        ["a", 1, 2.5, None, float("nan"), True],  # mixed: categorical
        [True, False, None],  # booleans are categories
        [np.float64(1.25), 3, None],  # numpy scalars are numbers
        [None],  # always missing
    ]
    prediction_pools: list[list[Any]] = [[True, False, None], [1, "1", None, 2], [0.0, -0.0, 1.5]]
    window = WindowBuffer()
    preds = prediction_pools[seed % len(prediction_pools)]
    for i in range(rng.randint(1, 300)):
        row = {f"f{j}": rng.choice(pool) for j, pool in enumerate(pools) if rng.random() < 0.9}
        window.append(row, rng.random(), rng.choice(preds), float(i))
    columns = Columns(window)
    numbers, labels, predictions = _columns_oracle(window.features, window.predictions)
    assert {k: v.tolist() for k, v in columns.numeric.items()} == {
        k: np.asarray(v, dtype=float).tolist() for k, v in numbers.items()
    }
    assert {k: list(c.items()) for k, c in columns.categorical.items()} == labels
    assert list(columns.predictions.items()) == predictions


def test_update_many_equals_update_then_boost() -> None:
    rng = random.Random(4)
    one = DriftMonitor(window_size=60, window_seconds=30.0, min_events=10)
    many = DriftMonitor(window_size=60, window_seconds=30.0, min_events=10)
    t = 0.0
    regions, xs, scores, preds, ts = [], [], [], [], []
    for i in range(3_000):
        t += rng.expovariate(2.0 if i < 1_500 else 0.2)  # later events far apart
        regions.append(rng.choice(("a", "b", "c", None)))
        shift = 2.0 if i > 2_000 else 0.0
        xs.append({"x": rng.gauss(shift, 1.0), "k": rng.choice("pq")})
        scores.append(rng.random())
        preds.append(rng.choice(("y", "n")))
        ts.append(t)
    want = [
        ([], 1.0) if r is None else (one.update(r, x, s, p, tt), one.boost(r))
        for r, x, s, p, tt in zip(regions, xs, scores, preds, ts, strict=True)
    ]
    got = []
    for k in range(0, 3_000, 250):
        got.extend(
            many.update_many(
                regions[k : k + 250],
                xs[k : k + 250],
                scores[k : k + 250],
                preds[k : k + 250],
                ts[k : k + 250],
            )
        )
    assert repr(got) == repr(want)
    assert sum(len(d) for d, _ in want) > 20  # windows closed by size and by time
    assert one.windows_closed == many.windows_closed
