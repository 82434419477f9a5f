"""Issue 6: quality control keeps noisy annotators from degrading the online model.

Five annotators, two of whom are wrong on 30% of their labels, label the items the
Sampler selects at a 10% budget (every label, gold and redundant ones included,
counted against it), on the stationary part of ``synth:regional`` (17,000 training
events, the final model's held-out accuracy on 3,000 more, averaged over the last
quarter of the stream), ten seeds.

The setting, and why (measured with this module's runs; the same settings exist
offline as ``streamsift simulate --annotators 0,0,0,0.3,0.3 --noise-kind confusion
--base-model logreg --gold-warmup 100``, which splits its stream 85/15 instead):

* **Class-confusion noise.** The two noisy annotators' errors all go one way (they
  answer the first class, ``False``, on 60% of the ``True`` items: 30% of their labels
  are wrong on this balanced stream). With symmetric-uniform noise the no-QC model
  was as good as the clean one (3 seeds, Hoeffding tree: clean 0.828, no QC 0.831,
  QC 0.862): symmetric flips average out, systematic ones shift the boundary.
* **Logistic regression.** With the adaptive Hoeffding tree the per-seed spread of
  the final accuracy (sd of QC - no QC: 5.5 points over 10 seeds) buries any effect;
  logistic regression's is 2.2.
* **A gold warm-up.** The first 100 requests carry gold with probability 0.5, so that
  each annotator has its 10 gold answers early and the noisy ones are flagged (and
  excluded, and routed no more work) before their labels trained the model much.
  Without it: QC - no QC +3.05 points on the mean; with 200 warm-up requests +2.64
  (the gold spend costs more than it saves).

Measured (this configuration, seeds 0-9): clean 0.8399, no QC 0.8072, QC 0.8418
(mean); QC - no QC per seed +6.4 -0.3 +3.2 +1.8 +6.5 +3.3 +1.6 +2.4 +4.0 +5.8
(mean +3.46, sd 2.24); label accuracy no QC 0.852, QC 0.971. The 3-point margin holds
on the mean over ten seeds, not on every seed (one seed is -0.3), and its 95%
interval is about +2.1 to +4.9: the test asserts the mean and that QC wins on at
least 8 of the 10 seeds.
"""

from __future__ import annotations

import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest

from streamsift.sim.crowd import CrowdConfig, CrowdResult, Team, run_crowd
from streamsift.sim.streams import load_stream

SEEDS = tuple(range(10))
MODES = ("clean", "noisy", "qc")


def _config(seed: int) -> CrowdConfig:
    return CrowdConfig(
        budget=0.1, seed=seed, noise_kind="confusion", base_model="logreg", gold_warmup=100
    )


def _one_seed(seed: int) -> dict[str, CrowdResult]:
    stream = load_stream("synth:regional", n=40_000, seed=seed)
    assert stream.drift_at is not None
    events = stream.events[: stream.drift_at]
    train, test = events[:-3000], events[-3000:]
    return {m: run_crowd(train, test, [False, True], _config(seed), m) for m in MODES}


@pytest.fixture(scope="module")
def results() -> dict[str, list[CrowdResult]]:
    with ProcessPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(_one_seed, SEEDS))
    return {m: [r[m] for r in runs] for m in MODES}


def _mean(rs: list[CrowdResult]) -> float:
    return statistics.fmean(r.test_accuracy for r in rs)


@pytest.mark.slow
def test_quality_control_cleans_the_training_labels(results: dict[str, list]) -> None:
    # 2 of 5 annotators wrong on 30% of their labels: about 12% of raw labels are
    # wrong (15% here: the stream's own 5% label noise counts against them too).
    # Measured per seed: no QC 0.828-0.870, QC 0.949-0.995 (mean 0.971): the labels
    # the noisy annotators gave before they were flagged still train.
    for noisy, qc in zip(results["noisy"], results["qc"], strict=True):
        assert noisy.label_accuracy < 0.90
        assert qc.label_accuracy > 0.94
    assert statistics.fmean(r.label_accuracy for r in results["qc"]) > 0.96


@pytest.mark.slow
def test_quality_control_keeps_the_model_within_two_points_of_clean(
    results: dict[str, list],
) -> None:
    mean = {m: _mean(rs) for m, rs in results.items()}
    assert mean["qc"] >= mean["clean"] - 0.02, mean


@pytest.mark.slow
def test_quality_control_is_three_points_better_than_no_quality_control(
    results: dict[str, list],
) -> None:
    mean = {m: _mean(rs) for m, rs in results.items()}
    assert mean["noisy"] <= mean["clean"] - 0.02, mean  # the noise does hurt
    assert mean["qc"] >= mean["noisy"] + 0.03, mean
    pairs = zip(results["qc"], results["noisy"], strict=True)
    gains = [q.test_accuracy - n.test_accuracy for q, n in pairs]
    assert sum(g > 0 for g in gains) >= 8, gains


@pytest.mark.slow
def test_noisy_annotators_are_flagged(results: dict[str, list]) -> None:
    # Never a clean annotator; both noisy ones on at least 9 of the 10 seeds. Flagging
    # is a binomial outcome: a 30%-wrong annotator scores >= 0.8 on 10 gold answers
    # with probability ~0.38 and on 26 with ~0.15, so which seeds leave one noisy
    # annotator unflagged moves with the items the Sampler picks. Measured: all 10
    # seeds with p_floor 0.01; with the default 0.25, seed 5 leaves ann-4 unflagged
    # (its trained labels still 97.5% correct, test_quality_control_cleans_...).
    for r in results["qc"]:
        assert r.flagged <= {"ann-3", "ann-4"}, r.flagged
    assert sum(r.flagged == {"ann-3", "ann-4"} for r in results["qc"]) >= 9


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


def test_confusion_noise_goes_one_way_at_the_same_overall_rate() -> None:
    team = Team((0.0, 0.3), seed=4, kind="confusion", default=0, default_share=0.5)
    truths = [i % 2 for i in range(20_000)]  # balanced, like synth:regional
    answers = [team.label("ann-1", y, [0, 1]) for y in truths]
    wrong = [(y, a) for y, a in zip(truths, answers, strict=True) if a != y]
    assert 5700 < len(wrong) < 6300  # 30% of the labels
    assert {y for y, _ in wrong} == {1}  # every error is a True item called False
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


def test_extra_opinions_within_the_budget_are_declined_beyond_it() -> None:
    """``extra_within_budget``: an extra opinion (here: tie-breaks of two-annotator
    items) is asked only while the labels spent stay within the budget pro rata;
    declined, the item is held out, so fewer items train on the same spend."""
    stream = load_stream("synth:sea", n=6_000, seed=4)
    train, test = stream.events[:5_000], stream.events[5_000:]
    base = CrowdConfig(
        budget=0.05, noise=(0.0, 0.3, 0.3), gold_items=100, redundancy_share=0.5, k=2, seed=4
    )
    free = run_crowd(train, test, [False, True], base, "qc")
    held = run_crowd(train, test, [False, True], replace(base, extra_within_budget=True), "qc")
    assert free.extra_labels["extra_opinion"] > 0
    assert held.items_trained < free.items_trained
    assert held.labels_used <= int(0.05 * 4_900) + base.k  # the last item may finish past the cap


def test_simulate_command_runs_quality_control_through_a_drift(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``--through-drift`` keeps the events after a drifting stream's drift (by default
    cut off), ``--extra-within-budget`` reaches the configuration."""
    import json

    from streamsift.cli import main

    def run(*extra: str) -> list[dict]:  # type: ignore[type-arg]
        out = tmp_path / f"crowd{len(extra)}.json"
        args = ["simulate", "--stream", "synth:sea", "--events", "4000", "--budget", "0.1"]
        args += ["--annotators", "0,0,0.3", "--json", str(out), *extra]
        assert main(args) == 0
        return json.loads(out.read_text())  # type: ignore[no-any-return]

    before = run()
    through = run("--through-drift", "--extra-within-budget")
    assert through[0]["labels_used"] > 1.5 * before[0]["labels_used"]  # twice the events
    assert all(0.5 < r["prequential_accuracy"] <= 1.0 for r in through)
