"""Which selected items are sent to several labellers (redundant labelling)."""

from __future__ import annotations

import bisect
import math
import random
from collections import deque

from streamsift.core.quality._util import check_int, check_probability
from streamsift.errors import ConfigurationError

__all__ = ["RedundancyPolicy"]


class RedundancyPolicy:
    """Decide how many distinct annotators a selected item needs: 1 or ``k``.

    An item is redundant with probability ``share``; if ``top_quantile`` is set,
    every item whose selection score is at or above that quantile of the last
    ``window`` scores is redundant too (once ``min_history`` scores were seen).

    Parameters
    ----------
    share
        Share of selected items sent to ``k`` labellers at random (default 0.10).
    k
        Distinct annotators a redundant item needs (default 3, at least 2).
    top_quantile
        ``None`` (default) or a quantile in (0, 1), e.g. 0.9 for the top decile.
    window
        How many recent scores the quantile is computed over (default 1000).
    min_history
        Scores needed before the quantile rule applies (default 100).
    seed
        Seed of the policy's own ``random.Random``.

    Examples
    --------
    >>> policy = RedundancyPolicy(share=0.25, k=3, seed=3)
    >>> [policy.decide(0.5) for _ in range(8)]
    [3, 1, 1, 1, 1, 3, 3, 1]
    >>> top = RedundancyPolicy(share=0.0, top_quantile=0.9, min_history=10, seed=0)
    >>> [top.decide(s / 10) for s in range(10)][-1], top.decide(0.95), top.decide(0.1)
    (1, 3, 1)
    >>> top.n_redundant, top.n_decided
    (1, 12)
    """

    def __init__(
        self,
        share: float = 0.10,
        k: int = 3,
        top_quantile: float | None = None,
        window: int = 1000,
        min_history: int = 100,
        seed: int | None = None,
    ) -> None:
        self.share = check_probability("share", share)
        self.k = check_int("k", k, minimum=2)
        if top_quantile is not None and not 0.0 < float(top_quantile) < 1.0:
            raise ConfigurationError(
                f"top_quantile must be in (0, 1) or None, got {top_quantile!r}"
            )
        self.top_quantile = top_quantile
        self.window = check_int("window", window, minimum=1)
        self.min_history = check_int("min_history", min_history, minimum=1)
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        self._rng = random.Random(self.seed)
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
        self._n_decided = 0
        self._n_redundant = 0

    def threshold(self) -> float | None:
        """Current score threshold of the quantile rule, or ``None`` if inactive."""
        if self.top_quantile is None or len(self._sorted) < self.min_history:
            return None
        n = len(self._sorted)
        return self._sorted[min(n - 1, math.floor(self.top_quantile * n))]

    def decide(self, score: float = 0.0) -> int:
        """Return the number of distinct annotators the item needs (1 or ``k``).

        The score is compared with the quantile of the *previous* scores, then added
        to the window.
        """
        self._n_decided += 1
        thr = self.threshold()
        redundant = self._rng.random() < self.share or (thr is not None and score >= thr)
        if self.top_quantile is not None:
            self._recent.append(score)
            bisect.insort(self._sorted, score)
            if len(self._recent) > self.window:
                old = self._recent.popleft()
                del self._sorted[bisect.bisect_left(self._sorted, old)]
        if redundant:
            self._n_redundant += 1
            return self.k
        return 1

    @property
    def n_decided(self) -> int:
        """Items decided."""
        return self._n_decided

    @property
    def n_redundant(self) -> int:
        """Items that were made redundant."""
        return self._n_redundant
