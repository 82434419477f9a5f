"""RegionAssigner: capped producer regions, seeded online clustering."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest

from streamsift.core.drift import RegionAssigner
from streamsift.errors import ConfigurationError


def blobs(seed: int, n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    which = rng.integers(0, 3, size=n)
    x = centres[which] + rng.normal(size=(n, 2))
    return [{"a": float(p[0]), "b": float(p[1]), "tag": "t"} for p in x]


def test_producer_regions_are_capped() -> None:
    a = RegionAssigner(max_regions=2)
    assert [a.assign({}, r) for r in ["eu", "us", "eu", "asia", "us"]] == [
        "eu",
        "us",
        "eu",
        "other",
        "us",
    ]


def test_warmup_then_clusters_separate_blobs() -> None:
    a = RegionAssigner(n_clusters=3, warmup=100, seed=0)
    rows = blobs(0, 600)
    keys = [a.assign(r, None) for r in rows]
    assert keys[:99] == ["warmup"] * 99 and a.fitted
    assert set(keys[99:]) == {"cluster-0", "cluster-1", "cluster-2"}
    # each true blob maps to one cluster
    rng = np.random.default_rng(0)
    which = rng.integers(0, 3, size=600)
    for blob in range(3):
        assigned = {k for k, w in zip(keys[100:], which[100:], strict=True) if w == blob}
        assert len(assigned) == 1
    assert a.centroids.shape == (3, 2)


def test_same_seed_same_keys_and_pickle() -> None:
    rows = blobs(1, 400)
    a, b = RegionAssigner(seed=3, warmup=50), RegionAssigner(seed=3, warmup=50)
    ka = [a.assign(r, None) for r in rows[:200]]
    kb = [b.assign(r, None) for r in rows[:200]]
    assert ka == kb
    c = pickle.loads(pickle.dumps(a))
    assert [a.assign(r, None) for r in rows[200:]] == [c.assign(r, None) for r in rows[200:]]


def test_missing_and_non_numeric_features() -> None:
    a = RegionAssigner(n_clusters=2, warmup=4)
    rows: list[dict[str, Any]] = [{"x": 1.0}, {"x": None}, {"y": 5, "s": "a"}, {"x": 3.0}]
    keys = [a.assign(r, None) for r in rows]
    assert keys[-1].startswith("cluster-")
    assert a.assign({}, None).startswith("cluster-")
    no_numbers = RegionAssigner(n_clusters=1, warmup=1)
    assert no_numbers.assign({"s": "a"}, None) == "cluster-0"


def test_clone_and_repr() -> None:
    a = RegionAssigner(max_regions=3, seed=2)
    a.assign({}, "eu")
    assert repr(a.clone()) == repr(a) and not a.clone().fitted


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_regions": 0}, "max_regions"),
        ({"n_clusters": 0}, "n_clusters"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"warmup": 2, "n_clusters": 4}, "warmup"),
        ({"memory": 0}, "memory"),
    ],
)
def test_parameter_validation(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        RegionAssigner(**kwargs)


@pytest.mark.parametrize("d", [1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 127, 128, 129, 300])
def test_squared_distance_is_numpys_sum_bit_for_bit(d: int) -> None:
    from streamsift.core.drift.regions import _sq_dist

    rng = np.random.default_rng(d)
    for _ in range(50):
        scale = 10.0 ** rng.integers(-8, 9, size=(5, d))
        c = rng.normal(size=(5, d)) * scale
        z = rng.normal(size=d) * 10.0 ** rng.integers(-8, 9, size=d)
        expected = ((c - z) ** 2).sum(axis=1).tolist()
        assert [_sq_dist(row, z.tolist()) for row in c.tolist()] == expected


@pytest.mark.parametrize("n_features", [3, 12])
def test_assign_matches_the_numpy_reference(n_features: int) -> None:
    """The pure-Python hot path equals the vectorised k-means step, value for value."""
    rng = np.random.default_rng(7)
    rows: list[dict[str, Any]] = []
    for i in range(1500):
        row: dict[str, Any] = {
            f"f{j}": float(rng.normal(4.0 * (i % 3), 1.0 + j)) for j in range(n_features)
        }
        if i % 7 == 0:
            row["f0"] = None
        if i % 11 == 0:
            row["f1"] = float("nan")
        if i % 13 == 0:
            row["f2"] = True  # a bool is not a number: imputed
        if i % 17 == 0:
            row["f1"] = int(i % 5)
        rows.append(row)
    a = RegionAssigner(n_clusters=4, warmup=100, seed=3, memory=50)
    for row in rows[:100]:
        a.assign(row, None)
    names = a._names
    mean, scale = np.array(a._mean), np.array(a._scale)
    cents, counts = np.array(a._centroids), np.array(a._counts)

    def numeric(v: object) -> float:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v == v
        return float(v) if ok else math.nan  # type: ignore[arg-type]

    for row in rows[100:]:
        x = np.array([numeric(row.get(n)) for n in names])
        z = (np.where(np.isnan(x), mean, x) - mean) / scale
        k = int(np.argmin(((cents - z) ** 2).sum(axis=1)))
        counts[k] = min(counts[k] + 1.0, 50.0)
        cents[k] += (z - cents[k]) / counts[k]
        assert a.assign(row, None) == f"cluster-{k}"
    assert a.centroids.tolist() == cents.tolist()
    assert a._counts == counts.tolist()
