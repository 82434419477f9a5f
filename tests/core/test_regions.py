"""RegionAssigner: capped producer regions, seeded online clustering."""

from __future__ import annotations

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
