"""The concept-change watch: alarms on a rise of the labels' surprise, relearning after."""

from __future__ import annotations

import copy
import itertools
import pickle
import random
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
    watch = ConceptWatch(delta=0.01)
    assert feed(watch, calibrated(random.Random(1), 5_000)) == []
    assert (watch.changes, watch.relearning) == (0, False)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_stationary_labels_rarely_alarm(seed: int) -> None:
    # Two thousand labels of a calibrated model: at delta 0.01 an alarm is rare; one
    # per run at most (a run with more is a detector that fires on noise).
    watch = ConceptWatch(delta=0.01)
    assert len(feed(watch, calibrated(random.Random(seed), 2_000))) <= 1


def test_a_concept_change_alarms_soon_and_starts_relearning() -> None:
    rng = random.Random(2)
    watch = ConceptWatch(delta=0.01, relearn_labels=120)
    assert feed(watch, calibrated(rng, 1_000)) == []
    # The concept flips: the model is as sure as before and right half as often.
    after = calibrated(rng, 500, skill=-0.4)
    at = next((i for i, (c, h) in enumerate(after) if watch.update(c, h)), None)
    assert at is not None, "no alarm after the change"
    assert at < 100
    assert (watch.changes, watch.relearning) == (1, True)


def test_relearning_lasts_exactly_relearn_labels() -> None:
    rng = random.Random(3)
    watch = ConceptWatch(delta=0.01, relearn_labels=40)
    feed(watch, calibrated(rng, 800))
    labels = calibrated(rng, 400, skill=-0.5)
    at = next(i for i, (c, h) in enumerate(labels) if watch.update(c, h))
    # Right after the alarm, 40 more labels must pass (none raising an alarm).
    for k in range(40):
        assert watch.relearning, k
        assert not watch.update(0.5, True)  # surprise below the window's mean
    assert not watch.relearning
    assert at >= 0


def test_a_fall_of_the_surprise_is_no_concept_change() -> None:
    # The model becoming better than its confidence (hits rise) is no alarm.
    rng = random.Random(4)
    watch = ConceptWatch(delta=0.01)
    feed(watch, calibrated(rng, 1_000, skill=-0.3))
    assert feed(watch, [(0.6, True)] * 1_000) == []
    assert watch.changes == 0


def test_zero_relearn_labels_counts_alarms_only() -> None:
    rng = random.Random(5)
    watch = ConceptWatch(delta=0.01, relearn_labels=0)
    feed(watch, calibrated(rng, 800))
    assert feed(watch, calibrated(rng, 400, skill=-0.5))
    assert not watch.relearning


def mixed(rng: random.Random, n: int, uniform_hits: float) -> list[tuple[float, bool, bool]]:
    """One label in ten drawn uniformly (confident, right ``uniform_hits`` of the time),
    the rest picked by their score (unsure, and right as often as they are unsure)."""
    out = []
    for i in range(n):
        if i % 10 == 0:
            out.append((0.95, rng.random() < uniform_hits, True))
        else:
            conf = rng.uniform(0.5, 0.7)
            out.append((conf, rng.random() < conf, False))
    return out


def alarms(watch: ConceptWatch, labels: list[tuple[float, bool, bool]]) -> list[int]:
    return [i for i, (c, h, u) in enumerate(labels) if watch.update(c, h, uniform=u)]


def test_the_uniform_labels_error_catches_a_change_the_surprise_misses() -> None:
    # The picked labels are as surprising after the change as before; only the
    # uniformly drawn ones (one in ten) go wrong. Their error rise is the alarm.
    before, after = mixed(random.Random(7), 2_000, 0.95), mixed(random.Random(8), 2_000, 0.5)
    watch = ConceptWatch(delta=0.01)
    assert alarms(watch, before) == []
    found = alarms(watch, after)
    assert found and found[0] < 600, found
    # Without the flag the same labels are only the surprise's: no alarm in time.
    blind = ConceptWatch(delta=0.01)
    flat = [(c, h, False) for c, h, _ in before + after]
    late = [i - len(before) for i in alarms(blind, flat) if i >= len(before)]
    assert not late or late[0] > 2 * found[0], (late, found)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_stationary_uniform_labels_rarely_alarm(seed: int) -> None:
    watch = ConceptWatch(delta=0.01)
    assert len(alarms(watch, mixed(random.Random(seed), 4_000, 0.9))) <= 1


def test_the_error_detector_raises_no_second_alarm_while_relearning() -> None:
    watch = ConceptWatch(delta=0.01, relearn_labels=200)
    alarms(watch, mixed(random.Random(9), 2_000, 0.95))
    after = mixed(random.Random(10), 3_000, 0.3)
    found = alarms(watch, after)
    assert found, "no alarm"
    assert all(b - a > 200 for a, b in itertools.pairwise(found)), found


def test_a_watch_pickled_before_the_error_detector_still_loads_and_watches() -> None:
    watch = ConceptWatch(delta=0.01, relearn_labels=30)
    state = pickle.loads(pickle.dumps(watch)).__dict__
    del state["_errors"]  # what an older snapshot's watch holds
    old = ConceptWatch.__new__(ConceptWatch)
    old.__dict__.update(state)
    assert alarms(old, mixed(random.Random(7), 2_000, 0.95)) == []
    assert alarms(old, mixed(random.Random(8), 2_000, 0.3))
    assert old.changes >= 1


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
        assert model.concept_changes == 1
        accuracy[relearn_labels] = hits / 250
    # measured: 0.776 without forgetting, 0.844 with it
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
    while not watch.update(1.0, False):
        pass
    assert sampler.model.relearning
    picked = [a for a in (step(i) for i in range(3_000, 6_000)) if a is not None]
    # The next relearn_labels labels are uniform ("bootstrap") picks (control picks
    # continue), then active selection resumes.
    assert set(picked[:60]) <= {"bootstrap", "control"}
    assert picked[:60].count("bootstrap") >= 50
    assert "active" in picked[60:]
    assert not sampler.model.relearning


class _Recording(OnlineModel):
    """An online model that also records the ``uniform`` flag of each label."""

    def __init__(self) -> None:
        super().__init__("hoeffding", concept_delta=0.01)
        self.flags: list[bool] = []

    def learn_one(
        self, x: Any, y: Any, w: float = 1.0, *, uniform: bool = False, evidence: float = 1.0
    ) -> None:
        self.flags.append(uniform)
        super().learn_one(x, y, w, uniform=uniform, evidence=evidence)


def test_the_sampler_tells_the_watch_which_labels_were_drawn_uniformly() -> None:
    sampler = Sampler(fraction=0.1, min_labels=30, stability_window=15, seed=12)
    model = _Recording()
    items = []
    for i, (x, y) in enumerate(flipped_labels(4_000, seed=10, flip_at=10_000)):
        d = sampler.decide(CoreEvent(event_id=f"e{i}", features=x, timestamp=float(i)))
        if d.selected:
            sampler.confirm(d, float(i))
            item = LabelledItem(d.event_id, x, y, p=d.p, arm=d.arm, at_floor=d.at_floor)
            sampler.learn(item)
            sampler.learn(item, model=model)
            items.append(item)
    assert model.flags == [it.arm != "active" or it.at_floor for it in items]
    active = [it for it in items if it.arm == "active"]
    floor = [it for it in active if it.at_floor]
    # Picks at the floor exist, are a minority, and were drawn at low probabilities.
    assert floor and len(floor) < len(active) / 2
    ranked = sorted(it.p for it in active if not it.at_floor)
    assert max(it.p for it in floor) < ranked[len(ranked) // 2]
