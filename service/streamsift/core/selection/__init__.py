"""Selection under capacity: rates, budget, running quantile, token bucket, control arm.

The :class:`Selector` composes the pieces; the Sampler calls ``decide`` for every
event and ``record`` once the label request was sent.
"""

from __future__ import annotations

from streamsift.core.selection.bucket import TokenBucket
from streamsift.core.selection.budget import SECONDS_PER_DAY, LabelBudget, target_fraction
from streamsift.core.selection.control import ControlArmEstimator, Estimate, wilson_interval
from streamsift.core.selection.diversity import DiversityReservoir, select_batch
from streamsift.core.selection.quantile import DecayingHistogram
from streamsift.core.selection.ramp import calibrate_ramp, ramp_probability
from streamsift.core.selection.rate import EwmaRate
from streamsift.core.selection.result import Selection, SelectionError
from streamsift.core.selection.selector import Selector
from streamsift.core.selection.variable import (
    VariableUncertaintySelector,
    variable_uncertainty_probability,
)
from streamsift.core.selection.window import BatchWindow

__all__ = [
    "SECONDS_PER_DAY",
    "BatchWindow",
    "ControlArmEstimator",
    "DecayingHistogram",
    "DiversityReservoir",
    "Estimate",
    "EwmaRate",
    "LabelBudget",
    "Selection",
    "SelectionError",
    "Selector",
    "TokenBucket",
    "VariableUncertaintySelector",
    "calibrate_ramp",
    "ramp_probability",
    "select_batch",
    "target_fraction",
    "variable_uncertainty_probability",
    "wilson_interval",
]
