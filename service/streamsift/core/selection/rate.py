"""Exponentially weighted rate of events over (explicit) time."""

from __future__ import annotations

import math

from streamsift.core.selection._validate import check_float

__all__ = ["EwmaRate"]


class EwmaRate:
    """Rate of arrivals per second, exponentially weighted over time.

    Two decayed sums are kept: the number of arrivals and the exposure (seconds
    observed). Both decay with the same half-life, so their ratio is a rate whose
    memory is ``halflife_seconds``. Time is always passed in explicitly; a
    timestamp older than the last one counts as no elapsed time.

    Parameters
    ----------
    halflife_seconds
        Half-life of the exponential forgetting, in seconds. Default 60.
    min_exposure_seconds
        The exposure used in the ratio is at least this many seconds, so that the
        first few arrivals do not give an absurd rate. Default 1.

    Examples
    --------
    >>> rate = EwmaRate(halflife_seconds=10.0)
    >>> for i in range(1000):
    ...     rate.update(now=i * 0.1)
    >>> round(rate.rate, 3)
    10.035
    >>> round(rate.rate_at(now=110.0), 3)
    4.98
    """

    def __init__(self, halflife_seconds: float = 60.0, min_exposure_seconds: float = 1.0) -> None:
        self.halflife_seconds = check_float(
            "halflife_seconds", halflife_seconds, low=0.0, low_open=True
        )
        self.min_exposure_seconds = check_float(
            "min_exposure_seconds", min_exposure_seconds, low=0.0, low_open=True
        )
        self._reset()

    def _reset(self) -> None:
        self._k = math.log(2.0) / self.halflife_seconds
        self._count = 0.0
        self._exposure = 0.0
        self._last: float | None = None
        self._total = 0.0

    def update(self, now: float, n: float = 1.0, *, spread: bool = False) -> None:
        """Record ``n`` arrivals at time ``now`` (seconds).

        With ``spread=True`` the ``n`` arrivals are taken as evenly spread over the time
        since the previous update (a batch counted at the end of its interval), and
        weighted accordingly; without it they all count as arriving at ``now``.
        """
        last = self._last
        weight = 1.0
        if last is None:
            self._last = now
        elif now > last:
            x = (now - last) * self._k
            d = math.exp(-x)
            self._count *= d
            self._exposure = self._exposure * d + (1.0 - d) / self._k
            self._last = now
            if spread:
                weight = (1.0 - d) / x
        self._count += n * weight
        self._total += n

    def rate_at(self, now: float) -> float:
        """Rate in arrivals per second as of ``now`` (read-only: nothing is recorded)."""
        count, exposure, last = self._count, self._exposure, self._last
        if last is not None and now > last:
            d = math.exp(-(now - last) * self._k)
            count *= d
            exposure = exposure * d + (1.0 - d) / self._k
        return count / max(exposure, self.min_exposure_seconds)

    @property
    def rate(self) -> float:
        """Rate in arrivals per second as of the last update."""
        return self._count / max(self._exposure, self.min_exposure_seconds)

    @property
    def total(self) -> float:
        """Arrivals recorded since construction (not decayed)."""
        return self._total

    def __repr__(self) -> str:
        return f"EwmaRate(halflife_seconds={self.halflife_seconds!r})"
