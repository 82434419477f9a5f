"""The prequential simulation loop, shared by every policy.

Each event is first predicted by the online model (counting toward accuracy), then
the policy decides whether to ask for its label; a requested label arrives
``label_delay`` events later, flipped to another class with probability
``annotator_noise``, and is learned with its importance weight.

The streamsift policy is the very :class:`~streamsift.core.sampler.Sampler` the
service runs; the baselines (random sampling, every label) use the same base model
and the same loop, so that accuracies are comparable.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamsift.core.types import Arm, CoreEvent, Label, LabelledItem, Proba
from streamsift.sim.streams import LabelledEvent

__all__ = ["Policy", "RunResult", "majority_accuracy", "rolling", "run"]


@dataclass
class RunResult:
    """What one pass over a stream produced.

    ``hits`` holds 1/0 per evaluated event (prequential correctness), so curves and
    recovery times can be derived afterwards.
    """

    policy: str
    events: int
    labels_used: int
    hits: list[int]
    drift_detections: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Prequential accuracy over every evaluated event."""
        return sum(self.hits) / len(self.hits) if self.hits else 0.0

    @property
    def labelled_fraction(self) -> float:
        """Fraction of events whose label was requested."""
        return self.labels_used / self.events if self.events else 0.0


class Policy:
    """What the loop asks of a labelling policy (the Sampler adapter or a baseline)."""

    name = "policy"

    def predict_proba(self, x: dict) -> Proba:  # pragma: no cover - interface
        raise NotImplementedError

    def decide(self, i: int, ev: LabelledEvent, proba: Proba, production: Proba | None) -> float:
        """Return the selection probability p if the label is requested, else 0."""
        raise NotImplementedError  # pragma: no cover - interface

    def learn(self, i: int, ev: LabelledEvent, label: Label, p: float) -> None:
        raise NotImplementedError  # pragma: no cover - interface

    def drift_indices(self) -> list[int]:
        return []


def _argmax(proba: Proba) -> Label | None:
    best: Label | None = None
    top = -1.0
    for k, v in proba.items():
        if v > top:
            best, top = k, v
    return best


def run(
    policy: Policy,
    events: Sequence[LabelledEvent],
    *,
    classes: Sequence[Label],
    label_delay: int = 0,
    annotator_noise: float = 0.0,
    seed: int = 0,
    production: Callable[[dict], Proba] | Sequence[Proba] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Replay ``events`` through ``policy`` prequentially.

    Parameters
    ----------
    policy
        The labelling policy.
    events
        The evaluated events (after any production-model prefix).
    classes
        Every class of the stream (noise flips to one of the others).
    label_delay
        Events between a request and its label.
    annotator_noise
        Probability that a delivered label is wrong.
    seed
        Seed of the annotator-noise draws.
    production
        A frozen production model's ``predict_proba_one``, or its probabilities for
        every event computed once beforehand (the model is frozen, so every policy
        sees the same ones and the cost is paid once per stream, not per run).
    progress
        Called every 1,000 events with the number done.
    """
    noise_rng = random.Random(seed ^ 0x5EED)
    others = {c: [o for o in classes if o != c] for c in classes}
    queue: deque[tuple[int, int, Label, float]] = deque()
    hits: list[int] = []
    labels_used = 0
    prod_of: Callable[[int, dict], Proba | None]
    if production is None:
        prod_of = lambda i, x: None  # noqa: E731
    elif callable(production):
        fn = production
        prod_of = lambda i, x: fn(x)  # noqa: E731
    else:
        seq = production
        prod_of = lambda i, x: seq[i]  # noqa: E731
    for i, ev in enumerate(events):
        proba = policy.predict_proba(ev.x)
        pred = _argmax(proba) if proba else None
        hits.append(1 if pred is not None and pred == ev.y else 0)
        prod = prod_of(i, ev.x)
        p = policy.decide(i, ev, proba, prod)
        if p > 0.0:
            labels_used += 1
            label = ev.y
            if annotator_noise and others.get(label) and noise_rng.random() < annotator_noise:
                label = noise_rng.choice(others[label])
            queue.append((i + label_delay, i, label, p))
        while queue and queue[0][0] <= i:
            _, j, label, pj = queue.popleft()
            policy.learn(j, events[j], label, pj)
        if progress is not None and i % 1000 == 999:
            progress(i + 1)
    return RunResult(policy.name, len(events), labels_used, hits, policy.drift_indices())


def majority_accuracy(events: Sequence[LabelledEvent]) -> float:
    """Accuracy of always predicting the most frequent class seen so far."""
    counts: Counter[Label] = Counter()
    hits = 0
    for ev in events:
        if counts and counts.most_common(1)[0][0] == ev.y:
            hits += 1
        counts[ev.y] += 1
    return hits / len(events) if events else 0.0


def rolling(hits: Sequence[int], window: int = 500) -> list[float]:
    """Rolling mean of ``hits`` (the first points average what is available)."""
    out: list[float] = []
    acc = 0
    for i, h in enumerate(hits):
        acc += h
        if i >= window:
            acc -= hits[i - window]
        out.append(acc / min(i + 1, window))
    return out


#: Simulated time between two events (1,000 events per second): drift windows and the
#: selector's refreshes then close on event counts, as they do in a busy service.
SECONDS_PER_EVENT = 0.001


def event_time(i: int) -> float:
    """Simulated timestamp of event ``i``."""
    return i * SECONDS_PER_EVENT


def make_core_event(i: int, ev: LabelledEvent, production: Proba | None) -> CoreEvent:
    """The CoreEvent the service would have built for event ``i``."""
    return CoreEvent(
        event_id=f"e{i}", features=ev.x, timestamp=event_time(i), proba=production, region=ev.region
    )


def labelled_item(
    i: int,
    ev: LabelledEvent,
    label: Label,
    p: float,
    arm: Arm = "active",
    production: Proba | None = None,
    at_floor: bool = False,
) -> LabelledItem:
    """The LabelledItem the join would have produced for event ``i`` (selected by ``arm``)."""
    return LabelledItem(
        event_id=f"e{i}",
        features=ev.x,
        label=label,
        p=p,
        region=ev.region or "",
        arm=arm,
        production_proba=production,
        at_floor=at_floor,
    )
