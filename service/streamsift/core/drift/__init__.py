"""Drift detection per region: univariate tests, correction, windows, boost, regions.

A :class:`DriftMonitor` compares tumbling windows of each region with that region's
reference and boosts the sampling of drifted or new regions; a :class:`RegionAssigner`
turns an event into a region key (the producer's, or a cluster of the feature space).
"""

from __future__ import annotations

from streamsift.core.drift.boost import RegionBoost
from streamsift.core.drift.chisquare import chi_square_homogeneity
from streamsift.core.drift.correction import (
    Correction,
    benjamini_hochberg,
    bonferroni,
    correct,
)
from streamsift.core.drift.ks import KSResult, ks_two_sample
from streamsift.core.drift.monitor import DriftMonitor
from streamsift.core.drift.psi import UNSEEN, categorical_psi, numeric_psi, quantile_edges
from streamsift.core.drift.regions import RegionAssigner
from streamsift.core.drift.results import DriftResult, FeatureDrift, FeatureKind, Level

__all__ = [
    "UNSEEN",
    "Correction",
    "DriftMonitor",
    "DriftResult",
    "FeatureDrift",
    "FeatureKind",
    "KSResult",
    "Level",
    "RegionAssigner",
    "RegionBoost",
    "benjamini_hochberg",
    "bonferroni",
    "categorical_psi",
    "chi_square_homogeneity",
    "correct",
    "ks_two_sample",
    "numeric_psi",
    "quantile_edges",
]
