"""Sampling boost for drifted and newly appeared regions, decaying over windows."""

from __future__ import annotations

from streamsift.core.drift._checks import check_float, check_int

__all__ = ["RegionBoost"]


class RegionBoost:
    """Per-region multiplier on the uncertainty score.

    :meth:`trigger` sets a region's multiplier to ``factor``; each later :meth:`step`
    (one per closed window of that region) decays it geometrically,
    ``factor ** (1 - k / decay_windows)`` after ``k`` steps, so it is back to exactly 1
    after ``decay_windows`` windows. The multiplier is precomputed, so :meth:`boost` is
    one dictionary lookup on the hot path. The boost redistributes selection: the
    selection layer still enforces the global capacity.

    Parameters
    ----------
    factor
        Multiplier right after a trigger (default 3.0, at least 1).
    decay_windows
        Windows of the region over which the multiplier decays back to 1 (default 5).

    Examples
    --------
    >>> b = RegionBoost(factor=3.0, decay_windows=2)
    >>> b.trigger("eu")
    >>> values = [b.boost("eu")]
    >>> for _ in range(3):
    ...     b.step("eu")
    ...     values.append(round(b.boost("eu"), 4))
    >>> values, b.boost("us")
    ([3.0, 1.7321, 1.0, 1.0], 1.0)
    """

    def __init__(self, factor: float = 3.0, decay_windows: int = 5) -> None:
        self.factor = check_float("factor", factor, 1.0, low_open=False)
        self.decay_windows = check_int("decay_windows", decay_windows, 1)
        self._reset()

    def _reset(self) -> None:
        self._steps: dict[str, int] = {}
        self._multiplier: dict[str, float] = {}

    def clone(self) -> RegionBoost:
        """A fresh instance with the same parameters."""
        return RegionBoost(factor=self.factor, decay_windows=self.decay_windows)

    def __repr__(self) -> str:
        return f"RegionBoost(factor={self.factor!r}, decay_windows={self.decay_windows!r})"

    def trigger(self, region: str) -> None:
        """Give ``region`` the full boost (a drift, or a new region)."""
        self._steps[region] = 0
        self._multiplier[region] = self.factor

    def step(self, region: str) -> None:
        """Decay ``region``'s multiplier by one window."""
        k = self._steps.get(region)
        if k is None:
            return
        k += 1
        if k >= self.decay_windows:
            del self._steps[region]
            del self._multiplier[region]
            return
        self._steps[region] = k
        self._multiplier[region] = self.factor ** (1.0 - k / self.decay_windows)

    def boost(self, region: str) -> float:
        """The current multiplier of ``region`` (1.0 unless boosted)."""
        return self._multiplier.get(region, 1.0)

    @property
    def boosted(self) -> dict[str, float]:
        """A copy of the multipliers of the regions currently boosted."""
        return dict(self._multiplier)
