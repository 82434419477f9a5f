"""The concept-change watch: a CUSUM of the labels' errors against the model's confidence."""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import random
import statistics
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsift.core.concept import ConceptWatch
from streamsift.core.online import OnlineModel
from streamsift.core.sampler import Sampler
from streamsift.core.types import CoreEvent, LabelledItem
from streamsift.errors import ConfigurationError


def calibrated(rng: random.Random, n: int, skill: float = 0.0) -> list[tuple[float, bool]]:
    """Labels of a model whose confidence is earned (``skill`` shifts the hit rate)."""
    out = []
    for _ in range(n):
        conf = rng.uniform(0.5, 1.0)
        out.append((conf, rng.random() < min(1.0, max(0.0, conf + skill))))
    return out


def feed(watch: ConceptWatch, labels: list[tuple[float, bool]]) -> list[int]:
    return [i for i, (c, h) in enumerate(labels) if watch.update(c, h)]


def test_no_alarm_while_the_confidence_is_earned() -> None:
    watch = ConceptWatch()
    assert feed(watch, calibrated(random.Random(1), 5_000)) == []
    assert (watch.changes, watch.relearning) == (0, False)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_stationary_labels_rarely_alarm(seed: int) -> None:
    # Two thousand labels of a calibrated model: at the default delta an alarm is rare; one
    # per run at most (a run with more is a detector that fires on noise).
    watch = ConceptWatch()
    assert len(feed(watch, calibrated(random.Random(seed), 2_000))) <= 1


def test_a_concept_change_alarms_soon_and_starts_relearning() -> None:
    rng = random.Random(2)
    watch = ConceptWatch(relearn_labels=120)
    assert feed(watch, calibrated(rng, 1_000)) == []
    # The concept flips: the model is as sure as before and right half as often.
    after = calibrated(rng, 500, skill=-0.4)
    at = next((i for i, (c, h) in enumerate(after) if watch.update(c, h)), None)
    assert at is not None, "no alarm after the change"
    assert at < 100
    assert (watch.changes, watch.relearning) == (1, True)


def test_relearning_lasts_exactly_relearn_labels() -> None:
    rng = random.Random(3)
    watch = ConceptWatch(relearn_labels=40)
    feed(watch, calibrated(rng, 800))
    labels = calibrated(rng, 400, skill=-0.5)
    next(i for i, (c, h) in enumerate(labels) if watch.update(c, h))
    assert watch._score == 0.0  # an alarm starts the sum afresh
    # Right after the alarm, 40 more labels must pass, none raising an alarm even when
    # they are confident misses that cross the threshold again.
    crossed = 0
    for k in range(40):
        assert watch.relearning, k
        before = watch._score
        assert not watch.update(0.98, False)
        crossed += watch._score < before  # the sum crossed and restarted
    assert crossed >= 1
    assert (watch.changes, watch.relearning) == (1, False)
    # Relearning over, the next crossing is an alarm again.
    assert any(watch.update(0.98, False) for _ in range(50))
    assert watch.changes == 2


def test_a_model_better_than_its_confidence_is_no_concept_change() -> None:
    # Errors falling below the forecast (hits rise) are no alarm.
    rng = random.Random(4)
    watch = ConceptWatch()
    assert feed(watch, calibrated(rng, 1_000)) == []
    assert feed(watch, [(0.6, True)] * 1_000) == []
    assert watch.changes == 0


def test_zero_relearn_labels_counts_alarms_only() -> None:
    rng = random.Random(5)
    watch = ConceptWatch(relearn_labels=0)
    feed(watch, calibrated(rng, 800))
    assert feed(watch, calibrated(rng, 400, skill=-0.5))
    assert not watch.relearning


def mixed(
    rng: random.Random, n: int, uniform_hits: float, every: int = 10
) -> list[tuple[float, bool]]:
    """One label in ``every`` drawn uniformly (confident, right ``uniform_hits`` of the
    time), the rest picked by their score (unsure, and right as often as they are unsure)."""
    out = []
    for i in range(n):
        if i % every == 0:
            out.append((0.95, rng.random() < uniform_hits))
        else:
            conf = rng.uniform(0.5, 0.7)
            out.append((conf, rng.random() < conf))
    return out


def _first_after(watch: ConceptWatch, before: list, after: list) -> float:
    feed(watch, before)
    found = feed(watch, after)
    return found[0] if found else math.inf


def test_confident_misses_weigh_more_than_unsure_ones() -> None:
    # One label in three is drawn uniformly (as at a 5 % budget); after the change
    # only those confident ones go wrong, the picked unsure ones are right as often as
    # before. The same labels with every confidence read as 0.6 alarm later.
    found, flat = [], []
    for seed in range(10):
        before = mixed(random.Random(2 * seed), 2_000, 0.95, every=3)
        after = mixed(random.Random(2 * seed + 1), 2_000, 0.5, every=3)
        found.append(_first_after(ConceptWatch(), before, after))
        unsure = [(0.6, h) for _, h in before], [(0.6, h) for _, h in after]
        flat.append(_first_after(ConceptWatch(), *unsure))
    # measured: a median of 84 labels, against 169 (three seeds never) at 0.6
    assert statistics.median(found) < 150, found
    assert statistics.median(found) < statistics.median(flat), (found, flat)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_stationary_mixed_labels_rarely_alarm(seed: int) -> None:
    # The confident labels are overconfident (95 % sure, 90 % right): the
    # recalibration absorbs a constant gap, so this is no change either.
    # (2,000 seeds measured: 4.9 % give two alarms in 4,000 labels, 0.3 % more.)
    watch = ConceptWatch()
    assert len(feed(watch, mixed(random.Random(seed), 4_000, 0.9))) <= 2


@pytest.mark.parametrize("seed", range(5))
def test_an_overconfident_model_rarely_alarms_once_recalibrated(seed: int) -> None:
    # Right 5 points less often than it says, everywhere: the recalibration learns
    # the gap, after which alarms are rare (measured: 0-2 per 3,000 labels; a gap of
    # 10 points gives about one per 1,000, of 20 points one per 250).
    rng = random.Random(seed)
    watch = ConceptWatch()
    feed(watch, calibrated(rng, 1_500, skill=-0.05))
    assert len(feed(watch, calibrated(rng, 3_000, skill=-0.05))) <= 2


def test_no_second_alarm_while_relearning() -> None:
    watch = ConceptWatch(relearn_labels=200)
    feed(watch, mixed(random.Random(9), 2_000, 0.95))
    # After the change every label is a confident miss 70 % of the time: the sum
    # crosses the threshold every few labels, but only one crossing per 200 labels
    # is an alarm.
    found = feed(watch, mixed(random.Random(10), 3_000, 0.3, every=1))
    assert len(found) >= 2, found
    assert all(b - a > 200 for a, b in itertools.pairwise(found)), found


def test_a_watch_pickled_with_the_former_adwin_detectors_loads_and_watches() -> None:
    from river import drift

    old = ConceptWatch.__new__(ConceptWatch)
    old.__dict__.update(  # what a snapshot's watch held before the CUSUM
        {
            "delta": 0.0025,
            "relearn_labels": 30,
            "_detector": drift.ADWIN(delta=0.0025),
            "_errors": drift.ADWIN(delta=0.0025),
            "_left": 0,
            "_changes": 2,
        }
    )
    loaded = pickle.loads(pickle.dumps(old))
    assert not hasattr(loaded, "_detector") and not hasattr(loaded, "_errors")
    assert repr(loaded) == "ConceptWatch(delta=0.0025, relearn_labels=30)"
    assert feed(loaded, mixed(random.Random(7), 2_000, 0.95)) == []
    assert feed(loaded, mixed(random.Random(8), 2_000, 0.3))
    assert loaded.changes >= 3


def test_the_threshold_is_log_one_over_delta() -> None:
    assert ConceptWatch(delta=0.0025).threshold == pytest.approx(5.9915, abs=1e-4)
    assert ConceptWatch(delta=math.exp(-4)).threshold == pytest.approx(4.0)


def test_exact_recalibration() -> None:
    # Two misses at 80 %: the first is judged against the raw forecast (odds 0.25),
    # the second against odds 0.25 * (1 + 1) / (0.2 + 1): one error observed, 0.2
    # forecast (the raw forecast, not the recalibrated one, is what is summed).
    watch = ConceptWatch()
    watch.update(0.8, False)
    first = watch._score
    watch.update(0.8, False)
    odds = 0.25 * 2.0 / 1.2
    error = odds / (1 + odds)
    risen = 2 * error / (1 - error + 2 * error)
    assert watch._score == pytest.approx(first + math.log(risen / error))
    # calibration_labels is the memory: with 2, each sum keeps half of its past.
    short = ConceptWatch(calibration_labels=2)
    short.update(0.8, False)
    short.update(0.8, False)
    assert (short._observed, short._expected) == pytest.approx((1.5, 0.3))
    # A recalibration far above one is clipped at an error of 98 %.
    hot = ConceptWatch()
    hot._observed, hot._expected = 1_000.0, 0.0
    hot.update(0.5, True)
    assert hot._score == 0.0  # a hit at a forecast error of 0.98 lowers it (floor 0)
    hot.update(0.5, False)
    risen = 2 * 0.98 / (0.02 + 2 * 0.98)
    assert hot._score == pytest.approx(math.log(risen / 0.98))


def test_exact_cusum_steps() -> None:
    # A fresh watch, 80 % sure: forecast error 0.2, recalibrated by (0 + 1) / (0 + 1).
    # Odds ratio 2: the risen error is 0.4 / 1.2 = 1/3; a miss adds log(5/3), a hit
    # adds log((2/3) / 0.8) < 0, and the score never goes below zero.
    watch = ConceptWatch(delta=0.0025)
    watch.update(0.8, False)
    assert watch._score == pytest.approx(math.log(5 / 3))
    watch = ConceptWatch(delta=0.0025)
    watch.update(0.8, True)
    assert watch._score == 0.0
    # A confidence of 1 is clipped at an error of 2 %: one miss cannot alarm.
    watch = ConceptWatch(delta=0.0025)
    assert not watch.update(1.0, False)
    assert watch._score == pytest.approx(math.log(2 / (0.98 + 0.04)))


def test_non_finite_confidence_is_ignored() -> None:
    watch = ConceptWatch()
    assert watch.update(float("nan"), False) is False
    assert watch.update(float("inf"), False) is False
    assert watch.changes == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"delta": 0}, "concept_delta"),
        ({"delta": 1}, "concept_delta"),
        ({"delta": -0.1}, "concept_delta"),
        ({"delta": True}, "concept_delta"),
        ({"delta": "0.01"}, "concept_delta"),
        ({"relearn_labels": -1}, "relearn_labels"),
        ({"relearn_labels": 2.5}, "relearn_labels"),
        ({"relearn_labels": True}, "relearn_labels"),
        ({"odds_ratio": 1.0}, "odds_ratio"),
        ({"odds_ratio": float("inf")}, "odds_ratio"),
        ({"odds_ratio": True}, "odds_ratio"),
        ({"calibration_labels": 0}, "calibration_labels"),
        ({"calibration_labels": 1.5}, "calibration_labels"),
    ],
)
def test_parameters_are_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        ConceptWatch(**kwargs)


def test_repr_clone_and_pickle_round_trip() -> None:
    watch = ConceptWatch(delta=0.02, relearn_labels=30)
    assert repr(watch) == "ConceptWatch(delta=0.02, relearn_labels=30)"
    rng = random.Random(6)
    feed(watch, calibrated(rng, 700))
    rest = calibrated(rng, 300, skill=-0.4)
    twin = pickle.loads(pickle.dumps(watch))
    assert feed(watch, rest) == feed(twin, rest)
    assert (watch.changes, watch.relearning) == (twin.changes, twin.relearning)
    fresh = watch.clone()
    assert repr(fresh) == repr(watch)
    assert fresh.changes == 0
    tuned = ConceptWatch(delta=0.01, odds_ratio=3.0, calibration_labels=200)
    assert repr(tuned) == (
        "ConceptWatch(delta=0.01, relearn_labels=100, odds_ratio=3.0, calibration_labels=200)"
    )
    assert repr(tuned.clone()) == repr(tuned)


# -- in the online model and the sampler ------------------------------------------


def flipped_labels(n: int, seed: int, flip_at: int) -> list[tuple[dict, bool]]:
    """The class is ``x0 > 0.5``, from ``flip_at`` on ``x1 > 0.5`` (no feature moves)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x = {"x0": rng.random(), "x1": rng.random()}
        out.append((x, x["x0"] > 0.5 if i < flip_at else x["x1"] > 0.5))
    return out


def test_online_model_watches_the_labels_once_warm() -> None:
    model = OnlineModel(
        "hoeffding", min_labels=30, stability_window=15, concept_delta=0.01, relearn_labels=50
    )
    labels = flipped_labels(1_600, seed=7, flip_at=800)
    for x, y in labels[:800]:
        model.learn_one(x, y)
    assert model.is_warm
    assert (model.concept_changes, model.relearning) == (0, False)
    for x, y in labels[800:900]:
        model.learn_one(x, y)
    assert model.concept_changes >= 1
    assert model.is_warm  # the warm-up latch holds; relearning is separate
    assert model._params()["concept_delta"] == 0.01
    assert model.clone().concept_changes == 0


def _leaves(model: OnlineModel) -> list[Any]:
    return list(model.model["AdaptiveTree"].all_leaves())


def _tree_weight(model: OnlineModel) -> float:
    return sum(leaf.total_weight for leaf in _leaves(model))


def _watched(relearn_labels: int) -> OnlineModel:
    return OnlineModel(
        "hoeffding",
        min_labels=30,
        stability_window=15,
        concept_delta=0.01,
        relearn_labels=relearn_labels,
    )


@pytest.mark.parametrize("relearn_labels", [50, 0])
def test_an_alarm_makes_the_tree_s_leaves_forget_unless_alarms_only(relearn_labels: int) -> None:
    model = _watched(relearn_labels)
    labels = flipped_labels(1_600, seed=7, flip_at=800)
    weights = []
    for x, y in labels:
        before = model.concept_changes
        model.learn_one(x, y)
        if model.concept_changes > before:
            weights.append((_tree_weight(model), len(_leaves(model))))
    assert weights, "the flip raises an alarm"
    weight, leaves = weights[0]
    if relearn_labels:  # each leaf kept <= 1 per class (2 classes), then the label learnt
        assert weight <= 2 * leaves + 2  # (by its leaf and at most one alternate's)
    else:
        assert weight > 700  # alarms only: nothing forgotten
    leaves_now = len(_leaves(model))
    assert model.forget() == leaves_now and _tree_weight(model) <= 2 * leaves_now


def test_forgetting_recovers_the_new_concept_sooner() -> None:
    labels = flipped_labels(1_050, seed=7, flip_at=800)
    accuracy = {}
    for relearn_labels in (0, 50):  # alarms only, then alarms with forgetting
        model = _watched(relearn_labels)
        hits = 0
        for i, (x, y) in enumerate(labels):
            hits += i >= 800 and model.predict_one(x) == y
            model.learn_one(x, y)
        assert model.concept_changes >= 1  # without forgetting the alarms repeat
        accuracy[relearn_labels] = hits / 250
    # measured: 0.776 without forgetting, 0.904 with it
    assert accuracy[50] > accuracy[0] + 0.05, accuracy


def test_online_model_without_a_watch_never_relearns() -> None:
    model = OnlineModel("hoeffding", min_labels=30, stability_window=15)
    for x, y in flipped_labels(1_600, seed=7, flip_at=800):
        model.learn_one(x, y)
    assert (model.concept_changes, model.relearning) == (0, False)


def test_a_snapshot_from_before_the_watch_loads_without_one() -> None:
    model = OnlineModel("hoeffding", concept_delta=0.01)
    state = model.__getstate__()
    for name in ("concept_delta", "relearn_labels", "_concept"):
        state.pop(name)
    old = OnlineModel.__new__(OnlineModel)
    old.__dict__.update(copy.deepcopy(state))
    assert (old.relearning, old.concept_changes, old.concept_delta) == (False, 0, None)
    old.learn_one({"x0": 1.0}, True)


def test_configure_watch_keeps_a_matching_watch_and_replaces_another() -> None:
    model = OnlineModel("hoeffding", min_labels=30, stability_window=15, concept_delta=0.01)
    for x, y in flipped_labels(1_000, seed=9, flip_at=800):
        model.learn_one(x, y)
    kept = model._concept
    assert kept is not None and kept.changes >= 1
    model.configure_watch(0.01, 100)
    assert model._concept is kept  # same parameters: state kept
    model.configure_watch(0.02, 100)
    assert repr(model._concept) == "ConceptWatch(delta=0.02, relearn_labels=100)"
    assert model.concept_changes == 0
    assert model._params()["concept_delta"] == 0.02
    model.configure_watch(None, 100)
    assert (model._concept, model.relearning) == (None, False)
    with pytest.raises(ConfigurationError, match="relearn_labels"):
        model.configure_watch(0.01, -1)


def test_sampler_samples_uniformly_while_relearning() -> None:
    sampler = Sampler(fraction=0.1, min_labels=30, stability_window=15, relearn_labels=60, seed=11)
    labels = flipped_labels(6_000, seed=8, flip_at=10_000)

    def step(i: int) -> str | None:
        x, y = labels[i]
        d = sampler.decide(CoreEvent(event_id=f"e{i}", features=x, timestamp=float(i)))
        if not d.selected:
            return None
        sampler.confirm(d, float(i))
        sampler.learn(LabelledItem(event_id=d.event_id, features=x, label=y, p=d.p, arm=d.arm))
        return d.arm

    arms = [step(i) for i in range(3_000)]
    assert sampler.model.is_warm and not sampler.model.relearning
    assert arms[-1000:].count("bootstrap") < arms[-1000:].count("active")
    # The watch raises an alarm (confident predictions that turn out wrong).
    watch = sampler.model._concept
    assert watch is not None
    assert any(watch.update(1.0, False) for _ in range(50))
    assert sampler.model.relearning
    picked = [a for a in (step(i) for i in range(3_000, 6_000)) if a is not None]
    # The next relearn_labels labels are uniform ("bootstrap") picks (control picks
    # continue), then active selection resumes.
    assert set(picked[:60]) <= {"bootstrap", "control"}
    assert picked[:60].count("bootstrap") >= 50
    assert "active" in picked[60:]
    assert not sampler.model.relearning
