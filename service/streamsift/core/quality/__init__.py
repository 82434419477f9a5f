"""Label quality control: gold items, redundant labelling, agreement and aggregation.

Pure core: the stream service wires these objects to the label-request and label
topics; nothing here does I/O beyond :meth:`GoldSet.from_jsonl`.
"""

from streamsift.core.quality.aggregate import MajorityResult, majority_vote
from streamsift.core.quality.agreement import (
    Agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)
from streamsift.core.quality.annotators import AnnotatorStats, annotator_stats
from streamsift.core.quality.collector import LabelCollector
from streamsift.core.quality.dawid_skene import DawidSkene, DawidSkeneResult
from streamsift.core.quality.gold import (
    GoldAccuracyTracker,
    GoldItem,
    GoldMixer,
    GoldRequest,
    GoldSet,
    Policy,
)
from streamsift.core.quality.judge import model_judges
from streamsift.core.quality.outcomes import (
    Aggregated,
    AggregationMethod,
    GoldScored,
    HeldOut,
    HoldReason,
    NeedsMoreOpinions,
    OpinionReason,
    Outcome,
)
from streamsift.core.quality.persist import QualityState, QualityStateError, merge_states
from streamsift.core.quality.redundancy import RedundancyPolicy

__all__ = [
    "Aggregated",
    "AggregationMethod",
    "Agreement",
    "AnnotatorStats",
    "DawidSkene",
    "DawidSkeneResult",
    "GoldAccuracyTracker",
    "GoldItem",
    "GoldMixer",
    "GoldRequest",
    "GoldScored",
    "GoldSet",
    "HeldOut",
    "HoldReason",
    "LabelCollector",
    "MajorityResult",
    "NeedsMoreOpinions",
    "OpinionReason",
    "Outcome",
    "Policy",
    "QualityState",
    "QualityStateError",
    "RedundancyPolicy",
    "annotator_stats",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha_nominal",
    "majority_vote",
    "merge_states",
    "model_judges",
]
