"""Issue 6: quality control keeps noisy annotators from degrading the online model.

Five annotators, two of whom give a wrong label 30% of the time, label the items the
Sampler selects at a 10% budget (every label, gold and redundant ones included,
counted against it). Measured over three seeds of the stationary part of
``synth:regional`` (the final model's held-out accuracy, averaged over the last
quarter of the stream).
"""

from __future__ import annotations

import statistics

import pytest

from streamsift.sim.crowd import CrowdConfig, Team, run_crowd
from streamsift.sim.streams import load_stream

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def results() -> dict[str, list]:
    out: dict[str, list] = {"clean": [], "noisy": [], "qc": []}
    for seed in SEEDS:
        stream = load_stream("synth:regional", n=40_000, seed=seed)
        assert stream.drift_at is not None
        events = stream.events[: stream.drift_at]
        train, test = events[:-3000], events[-3000:]
        for mode in out:
            out[mode].append(
                run_crowd(train, test, [False, True], CrowdConfig(budget=0.1, seed=seed), mode)
            )
    return out


@pytest.mark.slow
def test_quality_control_cleans_the_training_labels(results: dict[str, list]) -> None:
    # 2 of 5 annotators wrong 30% of the time: about 12% of raw labels are wrong.
    for noisy, qc in zip(results["noisy"], results["qc"], strict=True):
        assert noisy.label_accuracy < 0.92
        assert qc.label_accuracy > 0.95


@pytest.mark.slow
def test_quality_control_keeps_the_model_within_two_points_of_clean(
    results: dict[str, list],
) -> None:
    mean = {m: statistics.fmean(r.test_accuracy for r in rs) for m, rs in results.items()}
    assert mean["qc"] >= mean["clean"] - 0.02, mean


@pytest.mark.slow
def test_noisy_annotators_are_flagged(results: dict[str, list]) -> None:
    for r in results["qc"]:
        assert r.flagged == {"ann-3", "ann-4"}


@pytest.mark.slow
def test_quality_control_spends_the_same_budget(results: dict[str, list]) -> None:
    for clean, qc in zip(results["clean"], results["qc"], strict=True):
        assert qc.labels_used <= clean.labels_used + 5  # the last item may need k + gold
        assert qc.extra_labels["gold"] > 0 and qc.extra_labels["redundancy"] > 0
        assert qc.items_trained < qc.labels_used


def test_team_noise_rate() -> None:
    team = Team((0.0, 0.3), seed=4)
    wrong = sum(team.label("ann-1", 1, [0, 1]) != 1 for _ in range(10_000))
    assert 2800 < wrong < 3200
    assert all(team.label("ann-0", 1, [0, 1]) == 1 for _ in range(1000))


def test_team_routes_around_flagged_annotators() -> None:
    team = Team((0.0,) * 5, seed=0)
    for _ in range(50):
        picked = team.pick(3, avoid=frozenset({"ann-3", "ann-4"}))
        assert set(picked) == {"ann-0", "ann-1", "ann-2"}
    assert len(set(team.pick(5, avoid=frozenset({"ann-0"})))) == 5


def test_simulate_command_compares_quality_control(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from streamsift.cli import main

    out = tmp_path / "crowd.json"
    assert (
        main(
            [
                "simulate",
                "--stream",
                "synth:regional",
                "--events",
                "6000",
                "--budget",
                "0.1",
                "--annotators",
                "0,0,0,0.3,0.3",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    assert [r["mode"] for r in rows] == ["clean", "noisy", "qc"]
    clean, noisy, qc = rows
    assert clean["label_accuracy"] == 1.0 and noisy["label_accuracy"] < 1.0
    assert qc["labels_used"] <= clean["labels_used"] + 5
