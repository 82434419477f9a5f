"""A canned demo recording: 60 one-second scrapes of a worker that behaves as expected.

Not a test module. 250 events/s; label requests at 9/s (10 % control); labels joined
two seconds later; 10 % of requests go to three annotators and 5 % are gold items,
annotator-4 is flagged from t = 30 s; the model version goes up every 10 s; ap-south
drifts at t = 24 s
(its KS statistic jumps, a drifted window is counted at t = 30 s and its share of
requests rises from 20 % to 50 %); the online model's control-arm accuracy climbs
from 0.6 to 0.8.
"""

from __future__ import annotations

from streamsift.demo.promtext import Key, Sample
from streamsift.demo.series import Recording

REGIONS = {"eu-west": 0.35, "us-east": 0.35, "ap-south": 0.2, "sa-east": 0.1}
DRIFT_AT = 24.0
SECONDS = 60


def _k(name: str, **labels: str) -> Key:
    return (name, tuple(sorted(labels.items())))


def sample(t: int) -> Sample:
    v: dict[Key, float] = {}
    v[_k("streamsift_scorer_events_consumed_total")] = 250.0 * t
    requests = 9.0 * t
    v[_k("streamsift_scorer_label_requests_total", arm="active")] = 0.9 * requests
    v[_k("streamsift_scorer_label_requests_total", arm="control")] = 0.1 * requests
    v[_k("streamsift_scorer_label_requests_total", arm="bootstrap")] = 0.0
    joined = 9.0 * max(0, t - 2)
    v[_k("streamsift_join_labels_joined_total", arm="active")] = 0.9 * joined
    v[_k("streamsift_join_labels_joined_total", arm="control")] = 0.1 * joined
    v[_k("streamsift_learner_labels_learned_total")] = joined
    v[_k("streamsift_model_version")] = float(t // 10)
    v[_k("streamsift_join_pending_items")] = 18.0
    v[_k("streamsift_join_oldest_pending_age_seconds")] = 2.5
    v[_k("streamsift_sampler_target_label_rate_per_second")] = 10.0
    v[_k("streamsift_sampler_selection_ratio")] = 0.036
    v[_k("streamsift_sampler_target_selection_ratio")] = 0.04
    before, after = min(t, DRIFT_AT), max(0.0, t - DRIFT_AT)
    for region, share in REGIONS.items():
        drifted_share = 0.5 if region == "ap-south" else share * 0.5 / 0.8
        selected = 9.0 * (before * share + after * drifted_share)
        v[_k("streamsift_scorer_decisions_total", arm="active", region=region)] = selected
        v[_k("streamsift_scorer_decisions_total", arm="none", region=region)] = (
            250.0 * t * share - selected
        )
        windows = float(t // 10)
        alarm = 1.0 if region == "ap-south" and t >= 30 else 0.0
        v[_k("streamsift_drift_events_total", region=region, drifted="true")] = alarm
        v[_k("streamsift_drift_events_total", region=region, drifted="false")] = windows - alarm
        if t >= 10:
            ks = 0.45 if (region == "ap-south" and t >= 30) else 0.05
            v[_k("streamsift_drift_ks_statistic", region=region, feature="amount")] = ks
            v[_k("streamsift_drift_psi", region=region, feature="amount")] = 4 * ks
    acc = 0.6 + 0.2 * t / SECONDS
    for bound, d in (("estimate", 0.0), ("lower", -0.08), ("upper", 0.08)):
        v[_k("streamsift_control_accuracy_ratio", model="online", bound=bound)] = acc + d
        v[_k("streamsift_control_accuracy_ratio", model="production", bound=bound)] = 0.7 + d
    v[_k("streamsift_control_lift_ratio", bound="estimate")] = acc - 0.7
    # quality control: 10 % of requests go to 3 annotators (2 extra labels each), 5 % of
    # requests are gold; annotator-4 gets a third of its gold items wrong and is flagged
    v[_k("streamsift_quality_extra_labels_total", kind="redundancy")] = 0.2 * requests
    v[_k("streamsift_quality_extra_labels_total", kind="gold")] = 0.05 * requests
    v[_k("streamsift_quality_extra_labels_total", kind="second_opinion")] = 0.0
    v[_k("streamsift_join_label_arrivals_total")] = 1.2 * joined
    gold_each = float(t // 6)
    for a in ("annotator-0", "annotator-4"):
        wrong = gold_each // 3 if a == "annotator-4" else 0.0
        v[_k("streamsift_quality_gold_answers_total", annotator=a, result="correct")] = (
            gold_each - wrong
        )
        v[_k("streamsift_quality_gold_answers_total", annotator=a, result="wrong")] = wrong
        if gold_each:
            v[_k("streamsift_quality_annotator_accuracy_ratio", annotator=a, source="gold")] = (
                1 - wrong / gold_each
            )
        v[_k("streamsift_quality_annotator_flagged", annotator=a)] = float(
            a == "annotator-4" and t >= 30
        )
    v[_k("streamsift_quality_aggregated_total", method="single")] = 0.8 * joined
    v[_k("streamsift_quality_aggregated_total", method="majority")] = 0.2 * joined
    v[_k("streamsift_quality_agreement_ratio", statistic="fleiss_kappa")] = 0.85
    return Sample(float(t), v)


def recording() -> Recording:
    rec = Recording([sample(t) for t in range(SECONDS + 1)])
    rec.marks["traffic_end"] = float(SECONDS)
    return rec
