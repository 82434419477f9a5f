"""Typed drift results: one :class:`FeatureDrift` per compared feature, one
:class:`DriftResult` per closed window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = ["DriftResult", "FeatureDrift", "FeatureKind", "Level"]

#: What was compared: a numeric or categorical input feature, the uncertainty score,
#: or the predicted-class mix.
FeatureKind: TypeAlias = Literal["numeric", "categorical", "score", "prediction"]
#: ``alarm``: the change is statistically significant after correction; ``warn``: not
#: significant but PSI above the warn threshold; ``ok``: neither.
Level: TypeAlias = Literal["ok", "warn", "alarm"]


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """Comparison of one feature between a window and its region's reference.

    Parameters
    ----------
    feature
        Feature name (``"score"`` for the uncertainty score, ``"predicted"`` for the
        predicted-class mix; ``kind`` tells them apart from input features).
    kind
        ``numeric``, ``categorical``, ``score`` or ``prediction``.
    ks_statistic
        KS statistic (numeric and score kinds), else ``None``.
    p_value
        KS p-value (numeric, score) or chi-square p-value (categorical, prediction);
        ``None`` when the feature could not be tested.
    corrected_p
        ``p_value`` after the multiple-testing correction across the window's tests.
    psi
        Population stability index of the window against the reference.
    level
        ``ok``, ``warn`` or ``alarm`` (see :class:`~streamsift.core.drift.DriftMonitor`).
    """

    feature: str
    kind: FeatureKind
    ks_statistic: float | None
    p_value: float | None
    corrected_p: float | None
    psi: float
    level: Level


@dataclass(frozen=True, slots=True)
class DriftResult:
    """The verdict on one closed window of one region.

    Parameters
    ----------
    region
        Region key.
    window_index
        Index of the window within its region (0 is the region's first window).
    window_end_timestamp
        Timestamp of the last event in the window.
    n_reference, n_window
        Events in the reference and in the window (0 reference events for a new
        region, whose first window becomes the reference).
    features
        Per-feature comparisons, in a stable order (input features by name, then the
        score, then the prediction mix).
    drifted
        Whether any feature is at level ``alarm``.
    new_region
        Whether this is the first window of a region never seen before.
    rebased
        Whether the region's reference was replaced by this window (it had settled
        after a drift).
    severe
        Whether an alarmed feature also has PSI above the monitor's ``psi_alarm``.
    """

    region: str
    window_index: int
    window_end_timestamp: float
    n_reference: int
    n_window: int
    features: tuple[FeatureDrift, ...]
    drifted: bool
    new_region: bool
    rebased: bool = False
    severe: bool = False

    @property
    def alarmed(self) -> tuple[str, ...]:
        """Names of the features at level ``alarm``."""
        return tuple(f.feature for f in self.features if f.level == "alarm")
