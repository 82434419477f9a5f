"""Selection under capacity: rates, budget, running quantile, token bucket, control arm.

The :class:`Selector` composes the pieces; the Sampler calls ``decide`` for every
event and ``record`` once the label request was sent.
"""

from __future__ import annotations

from streamsift.core.selection.bucket import TokenBucket
from streamsift.core.selection.budget import SECONDS_PER_DAY, LabelBudget, target_fraction
from streamsift.core.selection.quantile import DecayingHistogram
from streamsift.core.selection.ramp import calibrate_ramp, ramp_probability
from streamsift.core.selection.rate import EwmaRate
from streamsift.core.selection.selector import Selection, SelectionError, Selector

__all__ = [
    "SECONDS_PER_DAY",
    "DecayingHistogram",
    "EwmaRate",
    "LabelBudget",
    "Selection",
    "SelectionError",
    "Selector",
    "TokenBucket",
    "calibrate_ramp",
    "ramp_probability",
    "target_fraction",
]
