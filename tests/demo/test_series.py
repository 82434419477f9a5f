"""Tier 1: time series derived from scrapes (rates, shares, alarms, crossings)."""

from __future__ import annotations

import pytest

from streamsift.demo.promtext import Sample
from streamsift.demo.series import Recording
from tests.demo import canned

C = "streamsift_scorer_events_consumed_total"


def _counter(values: list[tuple[float, float]]) -> Recording:
    return Recording([Sample(t, {(C, ()): v}) for t, v in values])


def test_rate_over_a_trailing_window() -> None:
    rec = _counter([(0, 0), (1, 100), (2, 200), (3, 300), (4, 600)])
    assert rec.rate(C, window=2.0) == [(2, 100.0), (3, 100.0), (4, 200.0)]


def test_rate_never_negative_after_a_counter_reset() -> None:
    rec = _counter([(0, 0), (1, 500), (2, 10)])
    assert rec.rate(C, window=1.0) == [(1, 500.0), (2, 0.0)]


def test_rate_with_irregular_scrapes_uses_the_real_interval() -> None:
    rec = _counter([(0, 0), (0.5, 50), (2.5, 250)])
    assert rec.rate(C, window=2.0) == [(2.5, 100.0)]


def test_samples_must_come_in_time_order() -> None:
    rec = _counter([(1, 0)])
    with pytest.raises(ValueError, match="time order"):
        rec.add(Sample(0.5, {}))


def test_crossing_interpolates_and_none_when_never_reached() -> None:
    rec = _counter([(0, 0), (10, 1000)])
    assert rec.crossing(C, 250.0) == 2.5
    assert rec.crossing(C, 0.0) == 0
    assert rec.crossing(C, 2000.0) is None


def test_shares_of_requests_by_region_follow_the_drift() -> None:
    rec = canned.recording()
    shares = rec.shares(
        "streamsift_scorer_decisions_total", "region", window=10.0, exclude_arm="none"
    )
    early = dict(shares)[10.0]
    late = dict(shares)[60.0]
    assert early["ap-south"] == pytest.approx(0.2)
    assert late["ap-south"] == pytest.approx(0.5)
    assert sum(late.values()) == pytest.approx(1.0)


def test_traffic_shares_include_unselected_decisions() -> None:
    rec = canned.recording()
    traffic = dict(rec.shares("streamsift_scorer_decisions_total", "region", window=10.0))
    assert traffic[60.0]["ap-south"] == pytest.approx(0.2, abs=0.01)


def test_increases_mark_each_alarm_once() -> None:
    rec = canned.recording()
    alarms = rec.increases("streamsift_drift_events_total", "region", drifted="true")
    assert alarms == [(30.0, "ap-south")]


def test_gauge_skips_scrapes_without_the_sample() -> None:
    rec = canned.recording()
    ks = rec.gauge("streamsift_drift_ks_statistic", region="ap-south", feature="amount")
    assert ks[0] == (10.0, 0.05)
    assert ks[-1] == (60.0, 0.45)
    assert len(ks) == 51


def test_min_window_gives_rates_from_the_start() -> None:
    rec = _counter([(0, 0), (1, 300), (2, 400), (6, 800)])
    assert rec.rate(C, window=5.0) == [(6, 100.0)]
    assert rec.rate(C, window=5.0, min_window=1.0) == [(1, 300.0), (2, 200.0), (6, 100.0)]
