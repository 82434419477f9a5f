"""Every Prometheus metric of streamsift, in one place.

Names follow ``streamsift_<subsystem>_<name>_<unit>`` in base units: counters end
in ``_total``, durations are histograms in seconds, ratios end in ``_ratio``.
Every metric is registered on the :class:`~prometheus_client.CollectorRegistry`
given to :class:`Metrics`, so tests build a fresh registry and read values with
``registry.get_sample_value``. Label values are bounded: reasons and arms come
from fixed sets (initialised up front so that a zero is exported before the
first event), regions and features pass through :class:`LabelCap`, which keeps
the first ``limit`` distinct values and maps the rest to ``"other"``. An event id
is never a label value.

Examples
--------
>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> m = Metrics(reg, max_regions=2)
>>> m.events_invalid.labels(reason="invalid_json").inc()
>>> reg.get_sample_value("streamsift_scorer_events_invalid_total", {"reason": "invalid_json"})
1.0
>>> reg.get_sample_value("streamsift_scorer_events_invalid_total", {"reason": "oversized"})
0.0
>>> [m.regions(r) for r in ("eu", "us", "apac", "eu")]
['eu', 'us', 'other', 'eu']
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streamsift.schemas import DECODE_REASONS

__all__ = [
    "ARMS",
    "DEAD_LETTER_SOURCES",
    "EXTRA_LABEL_KINDS",
    "HOLD_REASONS",
    "JOIN_REJECT_REASONS",
    "SNAPSHOT_REFUSE_REASONS",
    "LabelCap",
    "Metrics",
    "observe_many",
]

NAMESPACE: Final = "streamsift"
OTHER: Final = "other"

#: Arms of a decision (``none``: not selected).
ARMS: Final = ("active", "control", "bootstrap", "none")
#: Why a label was not joined.
JOIN_REJECT_REASONS: Final = (
    "invalid",
    "duplicate",
    "unknown",
    "expired",
    "unlearnable_class",
)
#: Labels requested beyond one per selected item, by why.
EXTRA_LABEL_KINDS: Final = ("gold", "redundancy", "second_opinion", "extra_opinion")
#: Why the label collector held an item out of training.
HOLD_REASONS: Final = ("tie", "low_confidence", "contradicts_model", "timeout")
#: How an aggregate was formed.
AGGREGATION_METHODS: Final = ("single", "majority", "dawid_skene")
#: Why a snapshot was refused.
SNAPSHOT_REFUSE_REASONS: Final = (
    "malformed",
    "wrong_model",
    "hash_mismatch",
    "bad_signature",
    "unpickle_error",
)
#: Inputs whose bad messages are dead-lettered, with the extra join reasons.
DEAD_LETTER_SOURCES: Final = ("inference-events", "labels", "pending", "training")
DEAD_LETTER_REASONS: Final = (
    *dict.fromkeys(DECODE_REASONS + JOIN_REJECT_REASONS[1:]),
    "processing_error",
)

#: Scoring takes microseconds to milliseconds per event.
SCORING_BUCKETS: Final = (
    1e-5,
    2.5e-5,
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    5e-3,
    1e-2,
    5e-2,
    0.25,
)
#: Batches take milliseconds to seconds.
BATCH_BUCKETS: Final = (1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Humans answer in seconds to days.
LABEL_LATENCY_BUCKETS: Final = (
    1.0,
    5.0,
    15.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    12 * 3600.0,
    86400.0,
    3 * 86400.0,
)


class LabelCap:
    """Bound the distinct values of one metric label.

    Parameters
    ----------
    limit
        How many distinct values are kept; later ones become ``"other"``.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        """Return ``value`` if it is (or can become) one of the kept values, else ``other``."""
        if value in self._seen:
            return value
        if len(self._seen) < self.limit and value != OTHER:
            self._seen.add(value)
            return value
        return OTHER


def observe_many(histogram: Histogram, amounts: Sequence[float]) -> None:
    """``histogram.observe(a)`` for every ``a`` of ``amounts``, in one pass.

    Same buckets, sum and count as observing one at a time, but each touched bucket
    and the sum are incremented once per call instead of once per amount (a batch's
    per-event timings cost one lock round per bucket, not per event). Falls back to
    ``observe`` when the histogram does not expose prometheus_client's buckets.

    >>> from prometheus_client import CollectorRegistry
    >>> h = Histogram("h", "doc", buckets=(0.1, 1.0), registry=CollectorRegistry())
    >>> observe_many(h, [0.05, 0.1, 0.5, 3.0])
    >>> [(s.labels.get("le"), s.value) for s in h.collect()[0].samples][:4]
    [('0.1', 2.0), ('1.0', 3.0), ('+Inf', 4.0), (None, 4.0)]
    """
    if not amounts:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for a in amounts:
            histogram.observe(a)
        return
    counts = [0] * len(bounds)
    for a in amounts:
        counts[bisect_left(bounds, a)] += 1  # first bound >= a, as observe() picks
    total.inc(sum(amounts))
    for i, n in enumerate(counts):
        if n:
            buckets[i].inc(n)


class Metrics:
    """The project's metrics, registered on one registry.

    Parameters
    ----------
    registry
        Where the metrics are registered (a fresh one per test).
    max_regions
        Distinct ``region`` label values before ``other``.
    max_features
        Distinct ``feature`` label values before ``other``.
    max_annotators
        Distinct ``annotator`` label values before ``other``.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        max_regions: int = 16,
        max_features: int = 32,
        max_annotators: int = 50,
    ) -> None:
        self.registry = registry
        self.regions = LabelCap(max_regions)
        self.features = LabelCap(max_features)
        self.annotators = LabelCap(max_annotators)
        r = registry
        ns = NAMESPACE

        # --- scorer -------------------------------------------------------------
        self.events_consumed = Counter(
            "scorer_events_consumed", "Inference events read.", namespace=ns, registry=r
        )
        self.events_valid = Counter(
            "scorer_events_valid",
            "Inference events that decoded and validated.",
            namespace=ns,
            registry=r,
        )
        self.events_invalid = Counter(
            "scorer_events_invalid",
            "Inference events rejected, by reason.",
            ["reason"],
            namespace=ns,
            registry=r,
        )
        self.duplicates = Counter(
            "scorer_duplicates",
            "Events not decided again: kind=duplicate (a producer retry) or redelivered"
            " (re-read after a restart; already in the decision log).",
            ["kind"],
            namespace=ns,
            registry=r,
        )
        self.scoring_duration = Histogram(
            "scorer_scoring_duration_seconds",
            "Time of one Sampler.decide call.",
            namespace=ns,
            registry=r,
            buckets=SCORING_BUCKETS,
        )
        self.batch_duration = Histogram(
            "scorer_batch_duration_seconds",
            "Time to process one batch, sends included.",
            namespace=ns,
            registry=r,
            buckets=BATCH_BUCKETS,
        )
        self.decisions = Counter(
            "scorer_decisions",
            "Decisions, by arm (none: not selected) and region.",
            ["arm", "region"],
            namespace=ns,
            registry=r,
        )
        self.label_requests = Counter(
            "scorer_label_requests",
            "Label requests sent (acked), by arm.",
            ["arm"],
            namespace=ns,
            registry=r,
        )
        self.recovered_requests = Counter(
            "scorer_recovered_requests",
            "Requests re-sent after a restart because the decision was logged but the request"
            " never reached label-requests.",
            namespace=ns,
            registry=r,
        )
        self.drift_events = Counter(
            "drift_events",
            "Drift windows closed, by region and outcome.",
            ["region", "drifted"],
            namespace=ns,
            registry=r,
        )

        # --- sampler state (gauges refreshed from Sampler.state) ------------------
        self.selection_ratio = Gauge(
            "sampler_selection_ratio",
            "Measured share of decided events that were selected.",
            namespace=ns,
            registry=r,
        )
        self.target_ratio = Gauge(
            "sampler_target_selection_ratio",
            "Target share of events to select.",
            namespace=ns,
            registry=r,
        )
        self.target_label_rate = Gauge(
            "sampler_target_label_rate_per_second",
            "Target label-request rate of this worker.",
            namespace=ns,
            registry=r,
        )
        self.event_rate = Gauge(
            "sampler_event_rate_per_second",
            "Measured event rate of this worker.",
            namespace=ns,
            registry=r,
        )
        self.threshold = Gauge(
            "sampler_threshold", "Current score threshold.", namespace=ns, registry=r
        )
        self.sampler_pending = Gauge(
            "sampler_pending_items",
            "Outstanding requests as the sampler counts them.",
            namespace=ns,
            registry=r,
        )
        self.boost = Gauge(
            "sampler_region_boost_ratio",
            "Sampling boost of a region (1: none).",
            ["region"],
            namespace=ns,
            registry=r,
        )
        self.spent_today = Gauge(
            "sampler_spent_today",
            "Money spent on labels today (configured currency).",
            namespace=ns,
            registry=r,
        )
        self.capacity_share = Gauge(
            "worker_capacity_share_ratio",
            "This worker's share of the global capacity.",
            namespace=ns,
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "worker_assigned_partitions",
            "Input partitions assigned to this worker, by input topic.",
            ["topic"],
            namespace=ns,
            registry=r,
        )
        self.live_workers = Gauge(
            "worker_live_workers",
            "Workers that published an event rate recently.",
            namespace=ns,
            registry=r,
        )
        self.ready = Gauge(
            "worker_ready", "1 when /readyz answers ready.", namespace=ns, registry=r
        )

        # --- control arm and model ------------------------------------------------
        self.control_accuracy = Gauge(
            "control_accuracy_ratio",
            "Accuracy estimated on control-arm labels, by model (production, online) and"
            " bound (estimate, lower, upper).",
            ["model", "bound"],
            namespace=ns,
            registry=r,
        )
        self.control_lift = Gauge(
            "control_lift_ratio",
            "Online minus production accuracy on control labels.",
            ["bound"],
            namespace=ns,
            registry=r,
        )
        self.model_version = Gauge(
            "model_version", "Version of the online model in use.", namespace=ns, registry=r
        )
        self.labels_seen = Gauge(
            "model_labels_seen",
            "Labels the online model has learned from.",
            namespace=ns,
            registry=r,
        )
        self.model_relearning = Gauge(
            "model_relearning",
            "1 while the model in use is relearning after a concept change (the worker"
            " samples uniformly, as in the cold start), else 0.",
            namespace=ns,
            registry=r,
        )

        # --- drift ----------------------------------------------------------------
        self.drift_ks = Gauge(
            "drift_ks_statistic",
            "Last two-sample KS statistic, by region and feature.",
            ["region", "feature"],
            namespace=ns,
            registry=r,
        )
        self.drift_psi = Gauge(
            "drift_psi",
            "Last population stability index, by region and feature.",
            ["region", "feature"],
            namespace=ns,
            registry=r,
        )

        # --- join -----------------------------------------------------------------
        self.pending_items = Gauge(
            "join_pending_items",
            "Items in this worker's pending store awaiting a label.",
            namespace=ns,
            registry=r,
        )
        self.oldest_pending_age = Gauge(
            "join_oldest_pending_age_seconds",
            "Age of the oldest item awaiting a label.",
            namespace=ns,
            registry=r,
        )
        self.label_arrivals = Counter(
            "join_label_arrivals", "Label messages read.", namespace=ns, registry=r
        )
        self.label_latency = Histogram(
            "join_label_latency_seconds",
            "Time from label request to joined label.",
            namespace=ns,
            registry=r,
            buckets=LABEL_LATENCY_BUCKETS,
        )
        self.labels_joined = Counter(
            "join_labels_joined",
            "Labels joined and passed to the learner, by arm.",
            ["arm"],
            namespace=ns,
            registry=r,
        )
        self.labels_rejected = Counter(
            "join_labels_rejected",
            "Labels not trained on, by reason.",
            ["reason"],
            namespace=ns,
            registry=r,
        )
        self.expired = Counter(
            "join_expired", "Pending items expired unlabelled.", namespace=ns, registry=r
        )
        self.redelivered = Counter(
            "join_records_redelivered",
            "Pending and label records read again after a restart (same partition and "
            "offset as one already handled, e.g. after a SIGKILL before the commit): "
            "skipped, not dead-lettered nor counted as second requests.",
            ["source"],
            namespace=ns,
            registry=r,
        )
        self.duplicate_pending = Counter(
            "join_duplicate_requests",
            "A second request for an event_id reached the pending store (should stay 0).",
            namespace=ns,
            registry=r,
        )

        # --- label quality control ------------------------------------------------
        self.annotator_accuracy = Gauge(
            "quality_annotator_accuracy_ratio",
            "Estimated accuracy of an annotator, by source (gold: share of gold items"
            " answered right; dawid_skene: from the confusion-matrix fit).",
            ["annotator", "source"],
            namespace=ns,
            registry=r,
        )
        self.annotator_flagged = Gauge(
            "quality_annotator_flagged",
            "1 when the annotator is flagged (accuracy below the threshold), else 0.",
            ["annotator"],
            namespace=ns,
            registry=r,
        )
        self.gold_answers = Counter(
            "quality_gold_answers",
            "Answers to injected gold items, by annotator and result (correct, wrong).",
            ["annotator", "result"],
            namespace=ns,
            registry=r,
        )
        self.extra_labels = Counter(
            "quality_extra_labels",
            "Labels requested beyond one per selected item, by kind (gold, redundancy,"
            " second_opinion, extra_opinion); they count against the same capacity.",
            ["kind"],
            namespace=ns,
            registry=r,
        )
        self.extra_labels_refused = Counter(
            "quality_extra_labels_refused",
            "Extra labels not requested because the capacity (token bucket, money budget)"
            " had no room: second_opinion / extra_opinion (the item is held out),"
            " redundancy (fewer annotators asked), gold (the gold item is skipped).",
            ["kind"],
            namespace=ns,
            registry=r,
        )
        self.contradictions = Counter(
            "quality_contradictions",
            "Single labels that contradicted a confident online model (sent for a second opinion).",
            namespace=ns,
            registry=r,
        )
        self.aggregated = Counter(
            "quality_aggregated",
            "Items resolved into one training label, by method (single, majority, dawid_skene).",
            ["method"],
            namespace=ns,
            registry=r,
        )
        self.held_out = Counter(
            "quality_held_out",
            "Items held out of training (labels unresolved), by reason.",
            ["reason"],
            namespace=ns,
            registry=r,
        )
        self.agreement = Gauge(
            "quality_agreement_ratio",
            "Agreement over the collector's multi-label window, by statistic (fleiss_kappa,"
            " krippendorff_alpha).",
            ["statistic"],
            namespace=ns,
            registry=r,
        )

        # --- learner and snapshots ------------------------------------------------
        self.labels_learned = Counter(
            "learner_labels_learned", "Labels given to Sampler.learn.", namespace=ns, registry=r
        )
        self.concept_changes = Counter(
            "learner_concept_changes",
            "Concept changes seen on the labels (their errors rising beyond what the"
            " model's confidence forecast: confident predictions turning out wrong); the"
            " model's tree then forgets what its leaves learnt and the workers sample"
            " uniformly while it relearns.",
            namespace=ns,
            registry=r,
        )
        self.snapshots_published = Counter(
            "learner_snapshots_published",
            "Signed snapshots published.",
            namespace=ns,
            registry=r,
        )
        self.snapshots_withheld = Counter(
            "learner_snapshots_withheld",
            "Snapshots not published: the learner's model was far less accurate than the"
            " published one on the latest labels (promotion gate).",
            namespace=ns,
            registry=r,
        )
        self.promotion_accuracy = Gauge(
            "learner_promotion_accuracy_ratio",
            "Accuracy on the latest labels at the last promotion check, by model"
            " (candidate: the learner's; published: the last snapshot).",
            ["model"],
            namespace=ns,
            registry=r,
        )
        self.snapshots_loaded = Counter(
            "snapshot_loaded", "Verified snapshots swapped in.", namespace=ns, registry=r
        )
        self.snapshots_refused = Counter(
            "snapshot_refused",
            "Snapshots refused, by reason.",
            ["reason"],
            namespace=ns,
            registry=r,
        )

        # --- transport ------------------------------------------------------------
        self.consumer_lag = Gauge(
            "consumer_lag_messages",
            "Messages behind the high-water mark, by input topic.",
            ["topic"],
            namespace=ns,
            registry=r,
        )
        self.dead_letters = Counter(
            "deadletters",
            "Messages sent to dead-letters, by source and reason.",
            ["source", "reason"],
            namespace=ns,
            registry=r,
        )

        self._initialise()

    def _initialise(self) -> None:
        """Create the known label combinations so that zeros are exported."""
        for reason in DECODE_REASONS:
            self.events_invalid.labels(reason=reason)
        for source in ("pending", "labels"):
            self.redelivered.labels(source=source)
        for kind in ("duplicate", "redelivered"):
            self.duplicates.labels(kind=kind)
        for arm in ARMS:
            if arm != "none":
                self.label_requests.labels(arm=arm)
                self.labels_joined.labels(arm=arm)
        for reason in JOIN_REJECT_REASONS:
            self.labels_rejected.labels(reason=reason)
        for reason in SNAPSHOT_REFUSE_REASONS:
            self.snapshots_refused.labels(reason=reason)
        for source in DEAD_LETTER_SOURCES:
            for reason in DEAD_LETTER_REASONS:
                self.dead_letters.labels(source=source, reason=reason)
        for model in ("production", "online"):
            for bound in ("estimate", "lower", "upper"):
                self.control_accuracy.labels(model=model, bound=bound)
        for bound in ("estimate", "lower", "upper"):
            self.control_lift.labels(bound=bound)
        for kind in EXTRA_LABEL_KINDS:
            self.extra_labels.labels(kind=kind)
        for kind in ("second_opinion", "extra_opinion", "redundancy", "gold"):
            self.extra_labels_refused.labels(kind=kind)
        for method in AGGREGATION_METHODS:
            self.aggregated.labels(method=method)
        for reason in HOLD_REASONS:
            self.held_out.labels(reason=reason)
        self.capacity_share.set(1.0)
        self.live_workers.set(1)
