"""Tier 1: figures, plots and report.md from a canned recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import compute_figures
from streamsift.demo.offline import OfflineResult
from streamsift.demo.plots import PLOTS, write_plots
from streamsift.demo.report import RunInfo, render_report, write_report
from streamsift.demo.series import Recording
from tests.demo import canned

CFG = DemoConfig(minutes=1.0, rate=250.0, drift_fraction=0.4, cost_per_label=0.5)


def _offline() -> OfflineResult:
    return OfflineResult(
        config={
            "events": 2000, "seeds": 2, "seed": 1, "budget": 0.04, "drift_region": "ap-south",
            "drift_fraction": 0.4, "drift_shift": 1.5, "label_delay": 375,
            "annotator_noise": 0.05, "control_share": 0.1, "min_labels": 150,
            "drift_window": 500, "strategy": "online-margin", "base_model": "hoeffding",
            "budgets": [0.01, 0.1],
        },
        strategy_accuracy=[0.78, 0.80],
        strategy_fraction=[0.04, 0.04],
        random_curve={0.01: [0.70, 0.72], 0.04: [0.74, 0.76], 0.1: [0.80, 0.82]},
        full_accuracy=0.85,
        production_accuracy=0.77,
        seconds=12.0,
        curves={"streamsift": [0.5, 0.7, 0.8], "random": [0.5, 0.65, 0.75]},
    )  # fmt: skip


def test_figures_from_the_canned_run() -> None:
    f = compute_figures(canned.recording(), CFG)
    assert f.events == 15_000
    assert f.events_per_s == pytest.approx(250.0)
    assert f.requests == {"active": 486, "bootstrap": 0, "control": 54}
    assert f.requests_total == 540
    assert f.request_rate == pytest.approx(9.0)
    assert f.joined_total == 522
    assert (f.model_version_first, f.model_version_last) == (0, 6)
    assert f.drift_started_at == pytest.approx(24.0)
    assert f.first_alarm == {"ap-south": 30.0}
    assert f.detection_delay_s == pytest.approx(6.0)
    assert f.drift_share_before == pytest.approx(0.2)
    assert f.drift_share_after == pytest.approx(0.5)
    assert f.online_accuracy is not None and f.online_accuracy.value == pytest.approx(0.8)
    assert f.labels_asked == 540 + 108  # requests (gold included) + redundant annotators
    assert f.labels_rate == pytest.approx(10.8)
    assert f.spend == pytest.approx(648 * 0.5)
    assert f.extra_labels == {"gold": 27, "redundancy": 108}
    assert f.gold_answers == {
        "annotator-0": {"correct": 10, "wrong": 0},
        "annotator-4": {"correct": 7, "wrong": 3},
    }
    assert f.annotator_accuracy["annotator-4"] == pytest.approx(0.7)
    assert f.flagged == ["annotator-4"]
    assert f.aggregated == {"majority": 104, "single": 418}


def test_figures_of_an_empty_recording_are_zeros() -> None:
    f = compute_figures(Recording(), CFG)
    assert (f.events, f.requests_total, f.joined_total, f.model_version_last) == (0, 0, 0, 0)
    assert f.online_accuracy is None and f.drift_started_at is None


def test_offline_result_savings_and_json_round_trip() -> None:
    off = _offline()
    assert off.accuracy == pytest.approx(0.79)
    assert off.fraction == pytest.approx(0.04)
    # random reaches 0.79 between 4 % (0.75) and 10 % (0.81): interpolated in log budget
    need = off.random_fraction_needed
    assert need is not None and 0.04 < need < 0.1
    assert off.savings == pytest.approx(need / 0.04)
    again = OfflineResult.from_json(json.loads(json.dumps(off.to_json())))
    assert again.savings == pytest.approx(off.savings)
    assert again.random_curve == off.random_curve


def test_report_states_measured_and_simulated_figures() -> None:
    rec = canned.recording()
    info = RunInfo(run_id="demo-test", started="2026-01-01T00:00:00", broker="test broker")
    text = render_report(CFG, compute_figures(rec, CFG), info, _offline(), list(PLOTS))
    assert "| label requests emitted | 540 (active 486, control 54) |" in text
    assert "| model version | 0 → 6 |" in text
    assert "6 s after the drift reached the worker" in text
    assert "20.0% before the drift, 50.0% after" in text
    assert "| labels asked of the team | 648 (one per request, +108 redundancy) |" in text
    assert "| annotator-4 | 0 | 0 (0.0%) | 7/3 | 70% | **yes** |" in text
    assert "**Simulated, not measured live.**" in text
    assert "savings factor" in text
    for name in PLOTS:
        assert f"![{name}]({name})" in text


def test_report_without_offline_result_says_why() -> None:
    rec = canned.recording()
    info = RunInfo(run_id="demo-test", interrupted=True, offline_status="was stopped")
    info.label_sim = {"given": {"annotator-4": 40}, "wrong": {"annotator-4": 10}}
    text = render_report(CFG, compute_figures(rec, CFG), info, None, [])
    assert "**Interrupted (Ctrl-C)**" in text
    assert "No savings figure: the offline simulation was stopped." in text
    assert "| annotator-4 | 40 | 10 (25.0%) | 7/3 | 70% | **yes** |" in text


def test_savings_below_one_is_reported_as_such() -> None:
    off = _offline()
    off.strategy_accuracy = [0.71, 0.71]  # random at 1 % already does better
    text = render_report(CFG, compute_figures(canned.recording(), CFG), RunInfo(), off, [])
    assert "did **not** beat random sampling" in text
    assert "extra**" in text


def test_write_report_and_every_plot(tmp_path: Path) -> None:
    rec = canned.recording()
    figs = compute_figures(rec, CFG)
    plots = write_plots(rec, CFG, figs, _offline(), tmp_path)
    assert sorted(plots) == sorted(PLOTS)
    for path in plots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = write_report(tmp_path, CFG, rec, figs, RunInfo(run_id="x"), _offline(), list(plots))
    assert report.read_text(encoding="utf-8").startswith("# streamsift demo x")
    doc = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert doc["live"]["requests_total"] == 540
    assert doc["live"]["flagged"] == ["annotator-4"]
    series = json.loads((tmp_path / "timeseries.json").read_text(encoding="utf-8"))
    assert len(series["samples"]) == len(rec)


def test_plots_of_an_empty_run_still_exist(tmp_path: Path) -> None:
    rec = Recording()
    plots = write_plots(rec, CFG, compute_figures(rec, CFG), None, tmp_path)
    assert all(p.is_file() for p in plots.values())
