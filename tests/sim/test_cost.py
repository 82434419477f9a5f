"""cost-model: the estimate's arithmetic and the command's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsift.cli import main
from streamsift.sim.cost import budget_range, estimate

RANDOM = {0.01: 0.70, 0.05: 0.80, 0.20: 0.88}


def test_estimate_arithmetic() -> None:
    ours = {0.01: 0.80, 0.05: 0.86, 0.20: 0.90}
    e = estimate(0.80, RANDOM, ours, events_per_month=2_000_000, cost_per_label=0.25)
    assert e.random_budget == pytest.approx(0.05)
    assert e.streamsift_budget == pytest.approx(0.01)
    assert e.random_labels == pytest.approx(100_000)
    assert e.streamsift_cost == pytest.approx(5_000)
    assert e.saved_cost == pytest.approx(25_000 - 5_000)


def test_unreached_target_is_none() -> None:
    e = estimate(0.95, RANDOM, RANDOM, events_per_month=1e6, cost_per_label=1.0)
    assert e.random_budget is None and e.random_cost is None and e.saved_cost is None
    assert budget_range(0.95, [RANDOM]) == (None, None)
    assert budget_range(0.85, [RANDOM, {0.01: 0.5, 0.2: 0.6}])[1] is None


def test_cost_model_command(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    png = tmp_path / "cost.png"
    code = main(
        [
            "cost-model",
            "--stream",
            "synth:sea",
            "--events",
            "800",
            "--seeds",
            "1",
            "--events-per-month",
            "1000000",
            "--cost-per-label",
            "0.5",
            "--target-accuracy",
            "0.75",
            "--quiet",
            "--json",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["random_curve"]) == {"0.01", "0.02", "0.05", "0.1", "0.2", "0.4"}
    assert len(data["streamsift_curve"]) == 5
    assert png.stat().st_size > 10_000
