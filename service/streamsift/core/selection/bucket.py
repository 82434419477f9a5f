"""Token bucket: a hard cap on the label request rate, with explicit time."""

from __future__ import annotations

from streamsift.core.selection._validate import check_float

__all__ = ["TokenBucket"]


class TokenBucket:
    """Token bucket refilled at ``rate`` tokens per second up to ``burst`` tokens.

    Checking is separate from consuming: :meth:`allows` only looks, :meth:`consume`
    takes tokens after the request was really sent. ``consume`` may drive the level
    below zero (a request sent although another one took the last token in the
    meantime); the debt is repaid by the refill, so the long-run rate stays capped.

    Parameters
    ----------
    rate
        Refill rate, tokens per second (> 0).
    burst
        Capacity of the bucket (>= 1).
    initial
        Tokens at the start (clipped to ``burst``); ``None`` starts full. A bucket that
        starts full lets a fresh worker spend a whole burst at once, before anything
        about the event rate is known; the Selector starts it with one second's refill.

    Examples
    --------
    >>> bucket = TokenBucket(rate=1.0, burst=2.0)
    >>> bucket.consume(now=0.0); bucket.consume(now=0.0)
    >>> bucket.allows(now=0.5), bucket.available(now=0.5)
    (False, 0.5)
    >>> bucket.allows(now=1.0)
    True
    >>> slow_start = TokenBucket(rate=2.0, burst=100.0, initial=2.0)
    >>> slow_start.consume(now=0.0)   # the refill clock starts at the first request
    >>> slow_start.available(now=0.0), slow_start.available(now=10.0)
    (1.0, 21.0)
    """

    #: Class default: buckets pickled before ``initial`` existed restore without it.
    initial: float | None = None

    def __init__(self, rate: float, burst: float, initial: float | None = None) -> None:
        self.rate = check_float("rate", rate, low=0.0, low_open=True)
        self.burst = check_float("burst", burst, low=1.0)
        self.initial = None if initial is None else check_float("initial", initial, low=0.0)
        self._reset()

    def _reset(self) -> None:
        self._tokens = self.burst if self.initial is None else min(self.initial, self.burst)
        self._last: float | None = None

    def available(self, now: float) -> float:
        """Tokens available at ``now`` (read-only)."""
        last = self._last
        if last is None or now <= last:
            return self._tokens
        return min(self.burst, self._tokens + (now - last) * self.rate)

    def allows(self, now: float, n: float = 1.0) -> bool:
        """Whether ``n`` tokens are available at ``now`` (read-only)."""
        return self.available(now) >= n

    def consume(self, now: float, n: float = 1.0) -> None:
        """Take ``n`` tokens at ``now`` (the level may go negative)."""
        self._tokens = self.available(now) - n
        if self._last is None or now > self._last:
            self._last = now

    def rescale(self, now: float, rate: float, burst: float) -> None:
        """Change the refill ``rate`` and ``burst`` at ``now``, keeping the level within it.

        The refill clock starts at the first :meth:`consume`, not here: a rescale
        before any request (a worker learning its capacity share before its first
        event, with ``now`` still 0) must not backdate the clock and fill the bucket.
        """
        self._tokens = min(self.available(now), burst)
        if self._last is not None and now > self._last:
            self._last = now
        self.rate = check_float("rate", rate, low=0.0, low_open=True)
        self.burst = check_float("burst", burst, low=1.0)

    def __repr__(self) -> str:
        extra = "" if self.initial is None else f", initial={self.initial!r}"
        return f"TokenBucket(rate={self.rate!r}, burst={self.burst!r}{extra})"
