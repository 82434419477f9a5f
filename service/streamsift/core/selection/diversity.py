"""Diversity: a penalty for candidates similar to recent picks, and greedy batch selection.

Vectors (embeddings or numeric feature vectors) are standardised with running
per-dimension means and variances; similarity is the Gaussian kernel
``exp(-mean((a - b)^2) / (2 * bandwidth^2))`` on standardised vectors, so it is 1 for
identical vectors and falls towards 0 with distance. The penalty of a candidate is
its largest similarity to the reservoir (the last ``capacity`` selected or labelled
items, oldest replaced first); the score factor is ``1 - strength * penalty``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from streamsift.core.selection._validate import check_float, check_int

__all__ = ["DiversityReservoir", "select_batch"]


class DiversityReservoir:
    """Bounded memory of recently selected or labelled vectors, scoring similarity to them.

    Parameters
    ----------
    capacity
        Vectors kept (>= 1); the oldest is replaced first. Default 256.
    bandwidth
        Kernel bandwidth in standard deviations (> 0). Default 1.0.
    strength
        Weight of the penalty in :meth:`factor`, in [0, 1]. Default 0.5.

    Examples
    --------
    >>> res = DiversityReservoir(capacity=2)
    >>> for v in ([0.0, 0.0], [1.0, 1.0], [2.0, 0.0]):
    ...     res.add(v)
    >>> len(res), res.penalty([2.0, 0.0]), round(res.penalty([0.0, 0.0]), 4)
    (2, 1.0, 0.3679)
    >>> round(res.factor([2.0, 0.0]), 2)
    0.5
    """

    def __init__(self, capacity: int = 256, bandwidth: float = 1.0, strength: float = 0.5) -> None:
        self.capacity = check_int("capacity", capacity, minimum=1)
        self.bandwidth = check_float("bandwidth", bandwidth, low=0.0, low_open=True)
        self.strength = check_float("strength", strength, low=0.0, high=1.0)
        self._reset()

    def _reset(self) -> None:
        self._store: NDArray[np.float64] | None = None
        self._size = 0
        self._next = 0
        self._n = 0
        self._mean: NDArray[np.float64] | None = None
        self._m2: NDArray[np.float64] | None = None

    def _as_vector(self, vector: ArrayLike) -> NDArray[np.float64]:
        v = np.asarray(vector, dtype=np.float64).ravel()
        if self._mean is not None and v.shape != self._mean.shape:
            raise ValueError(f"vector has {v.size} dimensions, expected {self._mean.size}")
        return v

    def observe(self, vector: ArrayLike) -> None:
        """Update the standardisation statistics without storing ``vector``."""
        v = self._as_vector(vector)
        if self._mean is None or self._m2 is None:
            self._mean, self._m2 = np.zeros_like(v), np.zeros_like(v)
        self._n += 1
        delta = v - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (v - self._mean)

    def add(self, vector: ArrayLike) -> None:
        """Store a selected or labelled item's vector (and update the statistics)."""
        v = self._as_vector(vector)
        self.observe(v)
        if self._store is None:
            self._store = np.zeros((self.capacity, v.size))
        self._store[self._next] = v
        self._next = (self._next + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def scale(self) -> NDArray[np.float64] | None:
        """Per-dimension standard deviations (1 where unknown or zero), or ``None`` if empty."""
        if self._m2 is None or self._n < 2:
            return None if self._mean is None else np.ones_like(self._mean)
        std = np.sqrt(self._m2 / (self._n - 1))
        return np.where(std > 0.0, std, 1.0)

    def stored(self) -> NDArray[np.float64]:
        """The stored vectors, shape ``(len(self), dims)`` (a copy)."""
        if self._store is None:
            return np.zeros((0, 0))
        return self._store[: self._size].copy()

    def penalty(self, vector: ArrayLike) -> float:
        """Largest similarity of ``vector`` to a stored vector, in [0, 1] (0 when empty)."""
        if self._store is None or self._size == 0:
            return 0.0
        v = self._as_vector(vector)
        sims = _similarity(self._store[: self._size], v[None, :], self.scale(), self.bandwidth)
        return float(sims.max())

    def factor(self, vector: ArrayLike) -> float:
        """Score multiplier ``1 - strength * penalty`` in [1 - strength, 1]."""
        return 1.0 - self.strength * self.penalty(vector)

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return (
            f"DiversityReservoir(capacity={self.capacity!r}, bandwidth={self.bandwidth!r}, "
            f"strength={self.strength!r})"
        )


def _similarity(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    scale: NDArray[np.float64] | None,
    bandwidth: float,
) -> NDArray[np.float64]:
    """Kernel similarity of every row of ``a`` to every row of ``b``, shape (len(a), len(b))."""
    if scale is not None:
        a, b = a / scale, b / scale
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).mean(axis=2)
    return np.asarray(np.exp(-d2 / (2.0 * bandwidth * bandwidth)), dtype=np.float64)


def select_batch(
    priorities: Sequence[float],
    vectors: ArrayLike,
    n: int,
    *,
    reservoir: DiversityReservoir | None = None,
    strength: float = 0.5,
    bandwidth: float = 1.0,
) -> list[int]:
    """Greedily pick ``n`` distinct candidates by priority times a diversity factor.

    Each step picks the candidate with the largest ``priority * (1 - strength *
    max_similarity)``, where the similarity is to the items already picked in this
    batch and to the reservoir (if given); ties go to the lower index, so the result
    is deterministic. Vectors are standardised with the reservoir's statistics, or
    with the candidates' own when there is no reservoir.

    Returns
    -------
    list of int
        Indices of the picked candidates, in pick order (at most ``len(priorities)``).

    Examples
    --------
    >>> vectors = [[0.0], [0.01], [5.0], [5.02]]
    >>> select_batch([1.0, 0.99, 0.8, 0.7], vectors, 2, strength=0.9)
    [0, 2]
    """
    check_int("n", n, minimum=0)
    check_float("strength", strength, low=0.0, high=1.0)
    check_float("bandwidth", bandwidth, low=0.0, low_open=True)
    prio = np.asarray(priorities, dtype=np.float64)
    x = np.asarray(vectors, dtype=np.float64).reshape(prio.size, -1)
    if reservoir is not None and len(reservoir):
        scale = reservoir.scale()
        bandwidth = reservoir.bandwidth
        closest = _similarity(x, reservoir.stored(), scale, bandwidth).max(axis=1)
    else:
        std = x.std(axis=0) if prio.size > 1 else np.ones(x.shape[1])
        scale = np.where(std > 0.0, std, 1.0)
        closest = np.zeros(prio.size)
    available = np.ones(prio.size, dtype=bool)
    picked: list[int] = []
    for _ in range(min(n, prio.size)):
        value = np.where(available, prio * (1.0 - strength * closest), -np.inf)
        i = int(np.argmax(value))
        picked.append(i)
        available[i] = False
        closest = np.maximum(closest, _similarity(x, x[i : i + 1], scale, bandwidth)[:, 0])
    return picked
