"""Tools around the service: a synthetic event generator and a simulated labelling team."""

from streamsift.tools.concept import CLASSES, CONCEPT_FEATURES, latent_risk, true_label
from streamsift.tools.labelsim import LabellingTeam, SimLabel, SubmitResult
from streamsift.tools.synthetic import DEFAULT_REGIONS, SyntheticEvent, SyntheticStream

__all__ = [
    "CLASSES",
    "CONCEPT_FEATURES",
    "DEFAULT_REGIONS",
    "LabellingTeam",
    "SimLabel",
    "SubmitResult",
    "SyntheticEvent",
    "SyntheticStream",
    "latent_risk",
    "true_label",
]
