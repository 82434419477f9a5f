"""Region keys: the producer's region when set, else a cluster of the feature space."""

from __future__ import annotations

import math
from operator import sub

import numpy as np
from numpy.typing import NDArray

from streamsift.core.drift._checks import check_int
from streamsift.core.types import Features

__all__ = ["RegionAssigner"]

#: Lloyd iterations run once on the warm-up buffer to place the initial centroids.
_INIT_ITERATIONS = 10


def _numeric(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    return None


def _pairwise_sum(values: list[float]) -> float:
    """``numpy``'s pairwise summation of ``values``, in its exact order.

    Runs of fewer than 8 are summed left to right, runs of up to 128 with eight
    interleaved partial sums, longer runs split in two at a multiple of 8 (numpy's
    ``pairwise_sum`` for contiguous float64), so that distances and hence the nearest
    centroid are bit-for-bit those of ``((c - z) ** 2).sum(axis=1)``.
    """
    n = len(values)
    if n < 8:
        res = -0.0
        for v in values:
            res += v
        return res
    if n <= 128:
        stop = n - n % 8
        r0, r1, r2, r3, r4, r5, r6, r7 = values[:8]
        it = iter(values[8:stop])
        for a0, a1, a2, a3, a4, a5, a6, a7 in zip(it, it, it, it, it, it, it, it):  # noqa: B905
            r0 += a0
            r1 += a1
            r2 += a2
            r3 += a3
            r4 += a4
            r5 += a5
            r6 += a6
            r7 += a7
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for v in values[stop:]:
            res += v
        return res
    half = n // 2
    half -= half % 8
    return _pairwise_sum(values[:half]) + _pairwise_sum(values[half:])


def _sq_dist(centroid: list[float], z: list[float]) -> float:
    """Squared Euclidean distance, summed in numpy's order (see :func:`_pairwise_sum`).

    The common case of 8 to 128 features is :func:`_pairwise_sum` inlined (one call
    less per centroid, no empty loop below 16 features).
    """
    d = 0.0
    if len(z) < 8:
        for t in map(sub, centroid, z):
            d += t * t
        return d
    sq = [t * t for t in map(sub, centroid, z)]
    n = len(sq)
    if n > 128:
        return d + _pairwise_sum(sq)
    r0, r1, r2, r3, r4, r5, r6, r7 = sq[:8]
    stop = n - n % 8
    if stop > 8:
        it = iter(sq[8:stop])
        for a0, a1, a2, a3, a4, a5, a6, a7 in zip(it, it, it, it, it, it, it, it):  # noqa: B905
            r0 += a0
            r1 += a1
            r2 += a2
            r3 += a3
            r4 += a4
            r5 += a5
            r6 += a6
            r7 += a7
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for v in sq[stop:]:
        res += v
    return d + res


class RegionAssigner:
    """Turn an event into a bounded set of region keys.

    An event carrying a producer region keeps it, except that only the first
    ``max_regions`` distinct producer regions are kept: later ones map to ``"other"``.
    An event without a region is clustered: the first ``warmup`` such events are
    buffered (and assigned ``"warmup"``), then standardised with the buffer's mean and
    standard deviation (missing numeric features imputed with the mean), clustered by
    k-means++ (seeded) plus a few Lloyd iterations, and from then on each event goes to
    its nearest centroid (``"cluster-<k>"``), which moves towards it with step
    ``1 / min(count, memory)`` (sequential k-means that keeps tracking slow movement).

    At most ``max_regions + n_clusters + 2`` keys are ever returned.

    Parameters
    ----------
    max_regions
        Distinct producer regions kept (default 8).
    n_clusters
        Clusters of the feature space (default 4).
    seed
        Seed of the k-means++ initialisation.
    warmup
        Region-less events buffered before clustering starts (default 200, at least
        ``n_clusters``).
    memory
        Cap on a centroid's count in its step size (default 1000).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> a = RegionAssigner(n_clusters=2, warmup=50, seed=0)
    >>> for i in range(50):
    ...     _ = a.assign({"x": rng.gauss(10.0 * (i % 2), 1.0)}, None)
    >>> a.assign({"x": 0.3}, None), a.assign({"x": 9.7}, None), a.assign({"x": 1.0}, "eu")
    ('cluster-0', 'cluster-1', 'eu')
    """

    OTHER = "other"
    WARMUP = "warmup"

    def __init__(
        self,
        max_regions: int = 8,
        n_clusters: int = 4,
        seed: int = 0,
        warmup: int = 200,
        memory: int = 1000,
    ) -> None:
        self.max_regions = check_int("max_regions", max_regions, 1)
        self.n_clusters = check_int("n_clusters", n_clusters, 1)
        self.seed = check_int("seed", seed, 0)
        self.warmup = check_int("warmup", warmup, n_clusters)
        self.memory = check_int("memory", memory, 1)
        self._reset()

    def _reset(self) -> None:
        self._known: set[str] = set()
        self._buffer: list[Features] = []
        self._names: tuple[str, ...] = ()
        # Per-event state is plain Python (lists of floats): on a handful of features,
        # numpy's per-call overhead costs more than the arithmetic (see _sq_dist).
        self._mean: list[float] = []
        self._scale: list[float] = []
        self._centroids: list[list[float]] = []
        self._counts: list[float] = []
        self._keys: tuple[str, ...] = ()

    def clone(self) -> RegionAssigner:
        """A fresh assigner with the same parameters."""
        return RegionAssigner(
            self.max_regions, self.n_clusters, self.seed, self.warmup, self.memory
        )

    def __repr__(self) -> str:
        return (
            f"RegionAssigner(max_regions={self.max_regions!r}, n_clusters={self.n_clusters!r}, "
            f"seed={self.seed!r}, warmup={self.warmup!r}, memory={self.memory!r})"
        )

    @property
    def fitted(self) -> bool:
        """Whether the warm-up is over and events are clustered."""
        return bool(self._keys)

    @property
    def centroids(self) -> NDArray[np.float64]:
        """A copy of the centroids in standardised feature space (empty before warm-up)."""
        if len(self._centroids) == 0:
            return np.zeros((0, 0))
        return np.array(self._centroids, dtype=float)

    def assign(self, features: Features, region_key: str | None) -> str:
        """The region of one event (learns from region-less events)."""
        if region_key is not None:
            if region_key in self._known:
                return region_key
            if len(self._known) < self.max_regions:
                self._known.add(region_key)
                return region_key
            return self.OTHER
        if not self._keys:
            self._buffer.append(features)
            if len(self._buffer) < self.warmup:
                return self.WARMUP
            self._fit()
            return self._keys[self._nearest(self._vector(features))]
        z = self._vector(features)
        k = self._nearest(z)
        counts = self._counts
        n = counts[k] + 1.0
        memory = float(self.memory)
        counts[k] = n = memory if memory < n else n
        # Equal lengths by construction; zip(strict=True) costs 0.2 us a call on 3.11.
        centroid = self._centroids[k]
        self._centroids[k] = [c + (v - c) / n for c, v in zip(centroid, z)]  # noqa: B905
        return self._keys[k]

    def _vector(self, features: Features) -> list[float]:
        """The standardised vector of one event (missing or non-numeric: the mean)."""
        get = features.get
        z: list[float] = []
        append = z.append
        for name, m, s in zip(self._names, self._mean, self._scale):  # noqa: B905
            v = get(name)
            if type(v) is not float:
                number = _numeric(v)
                v = m if number is None else number
            elif v != v:
                v = m
            append((v - m) / s)
        return z

    def _nearest(self, z: list[float]) -> int:
        """Index of the centroid nearest to ``z``, with ``np.argmin``'s ties and NaN rule."""
        small = len(z) < 8
        best = 0
        best_d = math.inf
        for k, centroid in enumerate(self._centroids):
            if small:  # _sq_dist inlined: the common case of a few features
                d = 0.0
                for t in map(sub, centroid, z):
                    d += t * t
            else:
                d = _sq_dist(centroid, z)
            if d < best_d:
                best = k
                best_d = d
            elif d != d:  # np.argmin returns the first NaN
                return k
        return best

    def _fit(self) -> None:
        names = sorted(
            {n for row in self._buffer for n, v in row.items() if _numeric(v) is not None}
        )
        self._names = tuple(names)
        raw = np.array(
            [[_numeric(row.get(n)) for n in names] for row in self._buffer], dtype=float
        ).reshape(len(self._buffer), len(names))
        mean = np.nanmean(raw, axis=0) if names else np.zeros(0)
        raw = np.where(np.isnan(raw), mean, raw)
        scale = raw.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (raw - mean) / scale
        self._mean, self._scale = [float(v) for v in mean], [float(v) for v in scale]
        rng = np.random.default_rng(self.seed)
        centroids = [z[rng.integers(len(z))]]
        for _ in range(1, self.n_clusters):  # k-means++ seeding
            d2 = np.min([((z - c) ** 2).sum(axis=1) for c in centroids], axis=0)
            total = d2.sum()
            idx = rng.choice(len(z), p=d2 / total) if total > 0 else rng.integers(len(z))
            centroids.append(z[idx])
        c = np.array(centroids, dtype=float)
        for _ in range(_INIT_ITERATIONS):
            labels = np.argmin(((z[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1)
            for k in range(self.n_clusters):
                if np.any(labels == k):
                    c[k] = z[labels == k].mean(axis=0)
        self._centroids = c.tolist()
        counts = np.bincount(labels, minlength=self.n_clusters).astype(float)
        self._counts = np.minimum(np.maximum(counts, 1.0), float(self.memory)).tolist()
        self._keys = tuple(f"cluster-{k}" for k in range(self.n_clusters))
        self._buffer = []
