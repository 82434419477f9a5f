"""Labelling policies the simulator compares: streamsift's Sampler and the baselines.

Every policy owns an :class:`~streamsift.core.online.OnlineModel` over the same base
model, so accuracy differences come from which labels were asked for, nothing else.
"""

from __future__ import annotations

import random

from streamsift.core.online import OnlineModel
from streamsift.core.sampler import Sampler
from streamsift.core.types import Arm, Label, Proba
from streamsift.sim.engine import Policy, event_time, labelled_item, make_core_event
from streamsift.sim.streams import LabelledEvent

__all__ = ["FullPolicy", "RandomPolicy", "SamplerPolicy"]


class RandomPolicy(Policy):
    """Uniform random sampling: each event's label is requested with probability ``budget``.

    Examples
    --------
    >>> from streamsift.sim.streams import load_stream
    >>> from streamsift.sim.engine import run
    >>> s = load_stream("synth:sea", n=2000, seed=1)
    >>> r = run(RandomPolicy(0.1, base_model="naive-bayes", seed=3), s.events,
    ...         classes=sorted(s.classes))
    >>> r.labels_used, round(r.accuracy, 3)
    (199, 0.805)
    """

    def __init__(self, budget: float, *, base_model: str, seed: int = 0) -> None:
        self.budget = budget
        self.base_model = base_model
        self.seed = seed
        self.name = f"random@{budget:g}"
        self.model = OnlineModel(base_model=base_model, seed=seed, min_labels=0)
        self._rng = random.Random(seed)

    def predict_proba(self, x: dict) -> Proba:
        return self.model.predict_proba_one(x)

    def decide(self, i: int, ev: LabelledEvent, proba: Proba, production: Proba | None) -> float:
        return self.budget if self._rng.random() < self.budget else 0.0

    def learn(self, i: int, ev: LabelledEvent, label: Label, p: float) -> None:
        self.model.learn_one(ev.x, label)


class FullPolicy(RandomPolicy):
    """Every label: the ceiling a base model reaches on a stream."""

    def __init__(self, *, base_model: str, seed: int = 0) -> None:
        super().__init__(1.0, base_model=base_model, seed=seed)
        self.name = "full"

    def decide(self, i: int, ev: LabelledEvent, proba: Proba, production: Proba | None) -> float:
        return 1.0


class SamplerPolicy(Policy):
    """streamsift's Sampler, driven exactly as the stream service drives it."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.name = sampler.strategy_name
        self._drift: list[int] = []
        # requested, label not back yet: event -> (arm, production probabilities,
        # selected at the probability floor)
        self._pending: dict[int, tuple[Arm, Proba | None, bool]] = {}

    def predict_proba(self, x: dict) -> Proba:
        return self.sampler.model.predict_proba_one(x)

    def decide(self, i: int, ev: LabelledEvent, proba: Proba, production: Proba | None) -> float:
        event = make_core_event(i, ev, production)
        d = self.sampler.decide(event, online_proba=proba)
        if any(getattr(r, "drifted", False) for r in d.drift):
            self._drift.append(i)
        if not d.selected:
            return 0.0
        self.sampler.confirm_event(d, event, event_time(i))
        self._pending[i] = (d.arm, production, d.at_floor)
        return d.p

    def learn(self, i: int, ev: LabelledEvent, label: Label, p: float) -> None:
        self.sampler.label_arrived(event_time(i))
        # The arm, the production model's probabilities and the floor flag travel
        # with the label, as the join's pending item carries them (control-arm
        # estimates, concept watch).
        arm, production, at_floor = self._pending.pop(i, ("active", None, False))
        self.sampler.learn(labelled_item(i, ev, label, p, arm, production, at_floor))

    def drift_indices(self) -> list[int]:
        return self._drift
