"""The sampling core: pure Python (numpy, scipy, river), no Kafka, Faust or Prometheus.

The stream service and the offline simulator both drive :class:`Sampler`.
"""

from __future__ import annotations

from streamsift.core.sampler import DEFAULT_STRATEGY, Sampler, SamplerState
from streamsift.core.types import CoreEvent, Decision, LabelledItem, ScoringInputs

__all__ = [
    "DEFAULT_STRATEGY",
    "CoreEvent",
    "Decision",
    "LabelledItem",
    "Sampler",
    "SamplerState",
    "ScoringInputs",
]
