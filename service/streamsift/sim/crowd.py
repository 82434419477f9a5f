"""Simulated annotators and label quality control, driven offline through the same core.

Three ways to label the same selected items:

- ``clean``: every label is the truth (the ceiling);
- ``noisy``: each item is labelled once by a random annotator, some of whom are noisy,
  and the label trains the model as it is (no quality control);
- ``qc``: the :class:`~streamsift.core.quality.LabelCollector` is in the loop: gold
  items are mixed into the requests, a share of the items is labelled by ``k``
  annotators and aggregated (majority vote, then Dawid-Skene), single labels that
  contradict a confident model get a second opinion (not while the model relearns
  after a concept change, :func:`~streamsift.core.quality.model_judges`, as in the
  join), flagged annotators are excluded and no longer routed work. Only aggregates
  train the model. With ``extra_within_budget`` an extra opinion is asked only while
  the labels spent so far stay within the budget pro rata, as the service's token
  bucket grants it; otherwise it is declined and the item held out.

Every label costs the same: the ``qc`` run selects fewer items so that its total
label count (gold, redundancy and extra opinions included) stays within the budget.

Examples
--------
>>> team = Team((0.0, 0.5), seed=1)
>>> [team.label("ann-1", True, [True, False]) for _ in range(6)]
[False, False, True, False, True, False]
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from streamsift.core.models import DEFAULT_BASE_MODEL
from streamsift.core.quality import (
    Aggregated,
    GoldItem,
    GoldMixer,
    GoldScored,
    GoldSet,
    LabelCollector,
    NeedsMoreOpinions,
    RedundancyPolicy,
    model_judges,
)
from streamsift.core.sampler import DEFAULT_STRATEGY, Sampler
from streamsift.core.types import Label, LabelledItem
from streamsift.errors import ConfigurationError
from streamsift.sim.engine import event_time, make_core_event
from streamsift.sim.streams import LabelledEvent

__all__ = ["CrowdConfig", "CrowdResult", "NoiseKind", "Team", "run_crowd"]

Mode = Literal["clean", "noisy", "qc"]


NoiseKind = Literal["uniform", "confusion"]


class Team:
    """Annotators ``ann-0 .. ann-{n-1}``; annotator ``i`` is wrong with rate ``noise[i]``.

    Two kinds of noise:

    - ``uniform``: each label is wrong with probability ``noise[i]``, the wrong answer
      drawn uniformly from the other classes (symmetric noise, which an online tree
      mostly averages away);
    - ``confusion``: the annotator's errors all go one way, to the ``default`` class (a
      careless labeller who answers "no" / the first class when unsure, or who confuses
      every class with one look-alike). On an item of another class they answer
      ``default`` with probability ``noise[i] / (1 - default_share)`` (capped at 1), so
      that over a stream where ``default_share`` of the items are of the default class
      they are wrong on a share ``noise[i]`` of their labels, as in ``uniform``; but the
      errors are systematic and shift the model's decision boundary.

    Parameters
    ----------
    noise
        Per-annotator share of wrong answers.
    seed
        Seed of the team's random draws.
    kind
        ``"uniform"`` (default) or ``"confusion"``.
    default, default_share
        ``confusion`` only: the class errors go to, and its share of the items.
    """

    def __init__(
        self,
        noise: Sequence[float],
        seed: int = 0,
        *,
        kind: NoiseKind = "uniform",
        default: Label | None = None,
        default_share: float = 0.5,
    ) -> None:
        if kind not in ("uniform", "confusion"):
            raise ConfigurationError(f"noise kind must be uniform or confusion, got {kind!r}")
        if kind == "confusion" and (default is None or not 0.0 <= default_share < 1.0):
            raise ConfigurationError("confusion noise needs a default class and share in [0, 1)")
        self.noise = tuple(noise)
        self.seed = seed
        self.kind = kind
        self.default = default
        self.names = tuple(f"ann-{i}" for i in range(len(self.noise)))
        self._flip = tuple(
            min(1.0, n / (1.0 - default_share)) if kind == "confusion" else n for n in self.noise
        )
        self._rng = random.Random(seed)

    def label(self, annotator: str, truth: Label, classes: Sequence[Label]) -> Label:
        """The label ``annotator`` gives an item whose true label is ``truth``."""
        i = self.names.index(annotator)
        if self.kind == "confusion":
            if truth != self.default and self._rng.random() < self._flip[i]:
                return cast("Label", self.default)
            return truth
        if self._rng.random() < self.noise[i]:
            others = [c for c in classes if c != truth]
            if others:
                return self._rng.choice(others)
        return truth

    def pick(
        self, n: int, avoid: frozenset[str] = frozenset(), used: Sequence[str] = ()
    ) -> list[str]:
        """``n`` distinct annotators, preferring those not in ``avoid`` nor ``used``."""
        pool = [a for a in self.names if a not in avoid and a not in used]
        if len(pool) < n:
            pool += [a for a in self.names if a in avoid and a not in used]
        return self._rng.sample(pool, min(n, len(pool)))


@dataclass(frozen=True)
class CrowdConfig:
    """Parameters of a crowd simulation."""

    noise: tuple[float, ...] = (0.0, 0.0, 0.0, 0.3, 0.3)
    budget: float = 0.10
    gold_rate: float = 0.05
    gold_items: int = 200
    redundancy_share: float = 0.10
    k: int = 3
    policy: Literal["exclude", "downweight"] = "exclude"
    strategy: str = DEFAULT_STRATEGY
    base_model: str = DEFAULT_BASE_MODEL
    checkpoints: int = 5
    noise_kind: NoiseKind = "uniform"
    #: Qualification phase: the first ``gold_warmup`` requests carry gold with
    #: probability ``gold_warmup_rate`` (see :class:`~streamsift.core.quality.GoldMixer`).
    gold_warmup: int = 0
    gold_warmup_rate: float = 0.5
    #: The Sampler's warm-up boost (off here: a front-loaded warm-up asks most of its
    #: labels before gold has judged the annotators; with the Sampler's default of 4,
    #: one of the 10 seeds of tests/quality kept 0.924 correct labels and one noisy
    #: annotator unflagged). In rate mode (the service) the boost is off anyway.
    warmup_boost: float = 1.0
    #: Ask an extra opinion only while the labels spent so far are within
    #: ``budget`` times the events seen (the service's capacity grants extra labels
    #: from the same token bucket; refused, the item is held out). Off: always asked.
    extra_within_budget: bool = False
    seed: int = 0


@dataclass
class CrowdResult:
    """Outcome of one crowd run."""

    mode: Mode
    prequential_accuracy: float
    #: Held-out accuracy of the online model, averaged over checkpoints spread across
    #: the last quarter of the stream (one snapshot of an adaptive tree is too noisy).
    test_accuracy: float
    labels_used: int
    items_trained: int
    #: Share of the labels that trained the model which were correct.
    label_accuracy: float = 1.0
    flagged: frozenset[str] = frozenset()
    extra_labels: dict[str, int] = field(default_factory=dict)


def _accuracy(sampler: Sampler, events: Sequence[LabelledEvent]) -> float:
    model = sampler.model
    hits = sum(1 for ev in events if model.predict_one(ev.x) == ev.y)
    return hits / len(events) if events else 0.0


def run_crowd(
    train: Sequence[LabelledEvent],
    test: Sequence[LabelledEvent],
    classes: Sequence[Label],
    config: CrowdConfig,
    mode: Mode,
) -> CrowdResult:
    """Run one labelling mode over ``train`` and score the final model on ``test``.

    The first ``config.gold_items`` events of ``train`` form the gold set (their true
    labels are known) and are not replayed.
    """
    gold_events = train[: config.gold_items]
    events = train[config.gold_items :]
    overhead = 1.0
    if mode == "qc":
        overhead += config.gold_rate + config.redundancy_share * (config.k - 1) + 0.05
        warm = config.gold_warmup * max(0.0, config.gold_warmup_rate - config.gold_rate)
        overhead += warm / max(1.0, config.budget * len(events))
    sampler = Sampler(
        strategy=config.strategy,
        base_model=config.base_model,
        fraction=config.budget / overhead,
        warmup_boost=config.warmup_boost,
        seed=config.seed,
    )
    default = classes[0] if classes else None
    share = sum(1 for ev in events if ev.y == default) / len(events) if events else 0.5
    team = Team(
        config.noise,
        seed=config.seed + 1,
        kind=config.noise_kind,
        default=default,
        default_share=min(share, 0.99),
    )
    collector = LabelCollector(policy=config.policy, gold_min_answers=10, timeout=1e9)
    gold = GoldMixer(
        GoldSet(GoldItem(f"gold-{i}", ev.x, ev.y) for i, ev in enumerate(gold_events)),
        rate=config.gold_rate,
        seed=config.seed + 2,
        warmup_requests=config.gold_warmup,
        warmup_rate=config.gold_warmup_rate,
    )
    redundancy = RedundancyPolicy(share=config.redundancy_share, k=config.k, seed=config.seed + 3)
    labels_used = 0
    cap = int(config.budget * len(events))  # the same label spend for every mode
    trained = 0
    correct = 0
    hits = 0
    items: dict[str, tuple[LabelledEvent, float, str, bool]] = {}
    step = max(1, len(events) // 20)
    checkpoints = {len(events) - 1 - j * step for j in range(config.checkpoints)}
    scores: list[float] = []

    def train_on(item_id: str, label: Label) -> None:
        nonlocal trained, correct
        ev, p, arm, at_floor = items.pop(item_id)
        correct += int(label == ev.y)
        sampler.learn(
            LabelledItem(item_id, ev.x, label, p=p, arm=arm, at_floor=at_floor)  # type: ignore[arg-type]
        )
        trained += 1

    for i, ev in enumerate(events):
        if i in checkpoints:
            scores.append(_accuracy(sampler, test))
        now = event_time(i)
        proba = sampler.model.predict_proba_one(ev.x)
        top = max(proba, key=proba.__getitem__) if proba else None
        hits += int(top == ev.y)
        event = make_core_event(i, ev, None)
        d = sampler.decide(event, online_proba=proba)
        if not d.selected or labels_used >= cap:
            continue
        sampler.confirm_event(d, event, now)
        sampler.label_arrived(now)
        item_id = d.event_id
        items[item_id] = (ev, d.p, d.arm, d.at_floor)
        if mode == "clean":
            labels_used += 1
            train_on(item_id, ev.y)
            continue
        if mode == "noisy":
            labels_used += 1
            train_on(item_id, team.label(team.pick(1)[0], ev.y, classes))
            continue
        g = gold.draw()
        if g is not None:
            collector.expect(g.request_id, now, gold_label=g.gold.label)
            (ann,) = team.pick(1)
            labels_used += 1
            collector.add_label(g.request_id, ann, team.label(ann, g.gold.label, classes), now)
        n = redundancy.decide(d.score)
        collector.expect(item_id, now, n_annotators=n)
        queue = team.pick(n, avoid=collector.flagged)
        used: list[str] = []
        judge = proba if model_judges(sampler.model) else None
        while queue:
            ann = queue.pop()
            used.append(ann)
            labels_used += 1
            outcomes = collector.add_label(
                item_id, ann, team.label(ann, ev.y, classes), now, model_proba=judge
            )
            for out in outcomes:
                if isinstance(out, NeedsMoreOpinions):
                    if not config.extra_within_budget or labels_used < config.budget * (i + 1):
                        queue.extend(team.pick(1, avoid=collector.flagged, used=used))
                        continue
                    out = collector.decline(out.item_id)
                if isinstance(out, Aggregated):
                    train_on(out.item_id, out.label)
                elif not isinstance(out, GoldScored):
                    items.pop(out.item_id, None)  # held out: never trained on
    if mode == "qc":
        for out in collector.poll(float("inf")):
            if isinstance(out, Aggregated) and out.item_id in items:
                train_on(out.item_id, out.label)
    return CrowdResult(
        mode=mode,
        prequential_accuracy=hits / len(events) if events else 0.0,
        test_accuracy=sum(scores) / len(scores) if scores else _accuracy(sampler, test),
        labels_used=labels_used,
        items_trained=trained,
        label_accuracy=correct / trained if trained else 1.0,
        flagged=collector.flagged if mode == "qc" else frozenset(),
        extra_labels=dict(collector.extra_labels) if mode == "qc" else {},
    )
