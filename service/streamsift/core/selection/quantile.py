"""Running distribution of (boosted) scores: a fixed-bin histogram with forgetting."""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from operator import sub

from streamsift.core.selection._validate import check_float, check_int

__all__ = ["DecayingHistogram"]

_RESCALE_AT = 1e12


class DecayingHistogram:
    """Histogram of values in ``[0, upper]`` that forgets old values exponentially.

    Each update adds a weight that grows by ``1 / (1 - 1/window)`` per update
    instead of shrinking every bin, so an update is O(1); the bins are rescaled
    when the weight gets large (O(bins), about every ``28 * window`` updates).
    Values outside the range are clamped into the first or last bin. Queries read
    a normalised cumulative snapshot that :meth:`refresh` rebuilds (O(bins)); the
    owner refreshes every few events, so queries are O(1) (rank) or O(log bins)
    (quantile).

    Parameters
    ----------
    bins
        Number of equal-width bins (>= 2). Default 256.
    upper
        Upper end of the range (> 0). Default 4.0 (scores in [0, 1] times a boost up to 4).
    window
        Effective memory in updates (>= 1): an update's weight halves after about
        ``0.69 * window`` later updates. Default 10,000.

    Examples
    --------
    >>> hist = DecayingHistogram(bins=100, upper=1.0, window=1000)
    >>> for i in range(1000):
    ...     hist.update((i % 100) / 100 + 0.005)
    >>> hist.refresh()
    >>> round(hist.quantile(0.9), 3)
    0.904
    >>> round(hist.rank(0.905, 0.5), 3)
    0.901
    """

    def __init__(self, bins: int = 256, upper: float = 4.0, window: int = 10_000) -> None:
        self.bins = check_int("bins", bins, minimum=2)
        self.upper = check_float("upper", upper, low=0.0, low_open=True)
        self.window = check_int("window", window, minimum=1)
        self._reset()

    def _reset(self) -> None:
        self._scale = self.bins / self.upper
        self._growth = 1.0 / (1.0 - 1.0 / self.window) if self.window > 1 else _RESCALE_AT
        self._hist = [0.0] * self.bins
        self._inc = 1.0
        self._total = 0.0
        self._count = 0
        self._below: list[float] = []
        self._mass: list[float] = []
        self._cum: list[float] = []
        self._inv = 0.0

    def bin_of(self, x: float) -> int:
        """Index of the bin holding ``x`` (clamped)."""
        b = int(x * self._scale) if x > 0.0 else 0
        return b if b < self.bins else self.bins - 1

    def update(self, x: float) -> None:
        """Add one value."""
        b = int(x * self._scale) if x > 0.0 else 0
        if b >= self.bins:
            b = self.bins - 1
        inc = self._inc
        self._hist[b] += inc
        self._total += inc
        self._count += 1
        inc *= self._growth
        if inc > _RESCALE_AT:
            self._hist = [h / inc for h in self._hist]
            self._total /= inc
            inc = 1.0
        self._inc = inc

    def refresh(self) -> None:
        """Rebuild the snapshot that :meth:`rank` and :meth:`quantile` read (O(bins))."""
        total = self._total
        if total <= 0.0:
            return
        mass = self._hist[:]
        cum = list(accumulate(mass))
        self._mass = mass
        self._cum = cum
        self._below = list(map(sub, cum, mass))
        self._inv = 1.0 / total

    @property
    def ready(self) -> bool:
        """Whether a snapshot exists (at least one value and one refresh)."""
        return bool(self._cum)

    @property
    def count(self) -> int:
        """Values added since construction."""
        return self._count

    def rank(self, x: float, v: float) -> float:
        """Randomised CDF of ``x`` in the snapshot: share below its bin plus ``v`` times its bin.

        With ``v`` uniform on [0, 1) and ``x`` drawn from the snapshot's distribution
        the result is exactly uniform on [0, 1), ties included. Returns ``v`` before
        the first refresh.
        """
        if not self._cum:
            return v
        b = int(x * self._scale) if x > 0.0 else 0
        if b >= self.bins:
            b = self.bins - 1
        return (self._below[b] + v * self._mass[b]) * self._inv

    def quantile(self, q: float) -> float:
        """Value below which a share ``q`` of the snapshot lies (linear inside a bin)."""
        cum = self._cum
        if not cum:
            return 0.0
        target = q / self._inv
        b = min(bisect_left(cum, target), self.bins - 1)
        m = self._mass[b]
        within = (target - self._below[b]) / m if m > 0.0 else 0.0
        within = min(max(within, 0.0), 1.0)
        return (b + within) / self._scale

    def __repr__(self) -> str:
        return (
            f"DecayingHistogram(bins={self.bins!r}, upper={self.upper!r}, window={self.window!r})"
        )
