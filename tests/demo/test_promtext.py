"""Tier 1: parsing the worker's /metrics exposition into samples."""

from __future__ import annotations

import math

from streamsift.demo.promtext import Sample, parse_metrics

EXPOSITION = """\
# HELP streamsift_scorer_events_consumed_total Inference events read.
# TYPE streamsift_scorer_events_consumed_total counter
streamsift_scorer_events_consumed_total 1234.0
# HELP streamsift_scorer_decisions_total Decisions, by arm and region.
# TYPE streamsift_scorer_decisions_total counter
streamsift_scorer_decisions_total{arm="active",region="eu-west"} 10.0
streamsift_scorer_decisions_total{arm="none",region="eu-west"} 300.0
streamsift_scorer_decisions_total{arm="active",region="ap-south"} 5.0
# HELP streamsift_control_accuracy_ratio Accuracy on control labels.
# TYPE streamsift_control_accuracy_ratio gauge
streamsift_control_accuracy_ratio{bound="estimate",model="online"} NaN
streamsift_control_accuracy_ratio{bound="estimate",model="production"} 0.75
# HELP streamsift_join_label_latency_seconds Time from request to label.
# TYPE streamsift_join_label_latency_seconds histogram
streamsift_join_label_latency_seconds_bucket{le="1.0"} 3.0
streamsift_join_label_latency_seconds_bucket{le="+Inf"} 7.0
streamsift_join_label_latency_seconds_count 7.0
streamsift_join_label_latency_seconds_sum 12.5
# HELP process_cpu_seconds_total CPU.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 3.2
"""


def test_parse_keeps_streamsift_samples_with_sorted_labels() -> None:
    values = parse_metrics(EXPOSITION)
    assert values[("streamsift_scorer_events_consumed_total", ())] == 1234.0
    key = ("streamsift_scorer_decisions_total", (("arm", "active"), ("region", "eu-west")))
    assert values[key] == 10.0
    assert ("process_cpu_seconds_total", ()) not in values


def test_histogram_buckets_are_dropped_but_sum_and_count_kept() -> None:
    names = {name for name, _ in parse_metrics(EXPOSITION)}
    assert "streamsift_join_label_latency_seconds_bucket" not in names
    assert "streamsift_join_label_latency_seconds_count" in names
    assert "streamsift_join_label_latency_seconds_sum" in names


def test_sample_lookups() -> None:
    s = Sample(1.0, parse_metrics(EXPOSITION))
    assert s.total("streamsift_scorer_decisions_total") == 315.0
    assert s.total("streamsift_scorer_decisions_total", arm="active") == 15.0
    assert s.by("streamsift_scorer_decisions_total", "region") == {
        "eu-west": 310.0,
        "ap-south": 5.0,
    }
    assert s.by("streamsift_scorer_decisions_total", "region", arm="none") == {"eu-west": 300.0}
    assert s.value("streamsift_scorer_decisions_total", region="eu-west", arm="active") == 10.0
    assert s.value("streamsift_scorer_decisions_total", region="eu-west") is None
    assert s.value("streamsift_missing_total") is None


def test_nan_counts_as_missing() -> None:
    s = Sample(1.0, parse_metrics(EXPOSITION))
    assert math.isnan(
        s.values[
            ("streamsift_control_accuracy_ratio", (("bound", "estimate"), ("model", "online")))
        ]
    )
    assert s.value("streamsift_control_accuracy_ratio", model="online", bound="estimate") is None
    assert s.total("streamsift_control_accuracy_ratio") == 0.75


def test_empty_exposition() -> None:
    assert parse_metrics("") == {}
