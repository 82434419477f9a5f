"""Gold items: a set of items with known labels, a seeded mixer that injects them into
the request stream, and a per-annotator accuracy tracker that flags bad annotators."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streamsift.core.quality._util import check_choice, check_int, check_probability
from streamsift.core.types import Features, Label
from streamsift.errors import ConfigurationError

__all__ = ["GoldAccuracyTracker", "GoldItem", "GoldMixer", "GoldRequest", "GoldSet", "Policy"]

#: What happens to the labels of a flagged annotator.
Policy = Literal["downweight", "exclude"]


@dataclass(frozen=True, slots=True)
class GoldItem:
    """An item whose true label is known.

    Examples
    --------
    >>> GoldItem("g1", {"amount": 12.5}, "fraud").label
    'fraud'
    """

    item_id: str
    features: Features
    label: Label


@dataclass(frozen=True, slots=True)
class GoldRequest:
    """A gold item to inject, under a fresh opaque ``request_id`` so that labellers
    cannot recognise a gold item that they have seen before.

    Examples
    --------
    >>> req = GoldMixer(GoldSet([GoldItem("g1", {}, 0)]), rate=1.0, seed=0).draw()
    >>> req.gold.item_id, len(req.request_id), req.request_id != "g1"
    ('g1', 32, True)
    """

    request_id: str
    gold: GoldItem


class GoldSet:
    """An immutable collection of gold items.

    Examples
    --------
    >>> gs = GoldSet.from_lines(['{"id": "g1", "features": {"x": 1}, "label": "cat"}', ""])
    >>> len(gs), gs.items[0]
    (1, GoldItem(item_id='g1', features={'x': 1}, label='cat'))
    """

    def __init__(self, items: Iterable[GoldItem]) -> None:
        self.items = tuple(items)
        if not self.items:
            raise ConfigurationError("items must contain at least one gold item")

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> GoldSet:
        """Parse JSON lines ``{"id": ..., "features": {...}, "label": ...}``; blank lines
        are skipped."""
        items = []
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                items.append(GoldItem(str(obj["id"]), dict(obj["features"]), obj["label"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(f"gold line {n} is invalid: {exc}") from exc
        return cls(items)

    @classmethod
    def from_jsonl(cls, path: str | Path) -> GoldSet:
        """Load a gold set from a JSONL file (see :meth:`from_lines`)."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_lines(fh)


class GoldMixer:
    """Decide, per outgoing label request, whether to inject a gold item instead.

    Parameters
    ----------
    gold
        The gold set to draw from (uniformly, with replacement).
    rate
        Probability of injecting a gold item per request (default 0.02).
    seed
        Seed of the mixer's own ``random.Random``.
    warmup_requests, warmup_rate
        The first ``warmup_requests`` requests (default 0) inject gold with probability
        ``warmup_rate`` instead (default 0.5): a qualification phase, so that every
        annotator has enough gold answers to be judged (and flagged) early, before
        their labels have trained the model much. They count against the same budget.

    Examples
    --------
    >>> gs = GoldSet([GoldItem("g1", {}, 0), GoldItem("g2", {}, 1)])
    >>> mixer = GoldMixer(gs, rate=0.5, seed=1)
    >>> [r.gold.item_id if r else None for r in (mixer.draw() for _ in range(6))]
    ['g1', 'g2', 'g2', 'g2', None, 'g2']
    >>> mixer.n_requests, mixer.n_injected
    (6, 5)
    """

    def __init__(
        self,
        gold: GoldSet,
        rate: float = 0.02,
        seed: int | None = None,
        *,
        warmup_requests: int = 0,
        warmup_rate: float = 0.5,
    ) -> None:
        self.gold = gold
        self.rate = check_probability("rate", rate)
        self.seed = seed
        self.warmup_requests = check_int("warmup_requests", warmup_requests, minimum=0)
        self.warmup_rate = check_probability("warmup_rate", warmup_rate)
        self._reset()

    def _reset(self) -> None:
        self._rng = random.Random(self.seed)
        self._n_requests = 0
        self._n_injected = 0

    def draw(self) -> GoldRequest | None:
        """Count one request; return a gold request to inject, or ``None``."""
        self._n_requests += 1
        rate = self.warmup_rate if self._n_requests <= self.warmup_requests else self.rate
        if self._rng.random() >= rate:
            return None
        self._n_injected += 1
        item = self.gold.items[self._rng.randrange(len(self.gold))]
        return GoldRequest(f"{self._rng.getrandbits(128):032x}", item)

    @property
    def n_requests(self) -> int:
        """Requests seen by :meth:`draw`."""
        return self._n_requests

    @property
    def n_injected(self) -> int:
        """Gold items injected."""
        return self._n_injected


class GoldAccuracyTracker:
    """Per-annotator accuracy on gold items, flagging and weighting.

    Parameters
    ----------
    min_answers
        Gold answers an annotator needs before they can be flagged (default 20).
    flag_below
        Flag an annotator whose gold accuracy is below this (default 0.8).
    policy
        ``"downweight"`` (default): a flagged annotator's label weight is
        ``max(0, (accuracy - chance_accuracy) / (1 - chance_accuracy))``;
        ``"exclude"``: weight 0. Unflagged annotators weigh 1.
    chance_accuracy
        Accuracy of a guessing annotator, used by ``"downweight"`` (default 0.5).

    Examples
    --------
    >>> t = GoldAccuracyTracker(min_answers=4, flag_below=0.8)
    >>> for ok in (True, True, False, True, False):
    ...     t.record("ann", ok)
    >>> t.accuracy("ann"), t.is_flagged("ann"), round(t.weight("ann"), 3)
    (0.6, True, 0.2)
    >>> t.weight("newcomer"), sorted(t.flagged)
    (1.0, ['ann'])
    """

    def __init__(
        self,
        min_answers: int = 20,
        flag_below: float = 0.8,
        policy: Policy = "downweight",
        chance_accuracy: float = 0.5,
    ) -> None:
        self.min_answers = check_int("min_answers", min_answers, minimum=1)
        self.flag_below = check_probability("flag_below", flag_below)
        self.policy = check_choice("policy", policy, ("downweight", "exclude"))
        self.chance_accuracy = check_probability("chance_accuracy", chance_accuracy)
        if self.chance_accuracy >= 1.0:
            raise ConfigurationError("chance_accuracy must be < 1")
        self._reset()

    def _reset(self) -> None:
        self._answers: dict[str, int] = {}
        self._correct: dict[str, int] = {}

    def record(self, annotator: str, correct: bool) -> None:
        """Record one gold answer."""
        self._answers[annotator] = self._answers.get(annotator, 0) + 1
        self._correct[annotator] = self._correct.get(annotator, 0) + int(correct)

    def add(self, annotator: str, answers: int, correct: int) -> None:
        """Add ``answers`` gold answers of which ``correct`` were right (restored counts).

        >>> t = GoldAccuracyTracker(min_answers=2)
        >>> t.add("a", 4, 1); t.record("a", True)
        >>> t.n_answers("a"), t.accuracy("a")
        (5, 0.4)
        """
        check_int("answers", answers, minimum=0)
        check_int("correct", correct, minimum=0)
        if correct > answers:
            raise ConfigurationError(f"correct ({correct}) must not exceed answers ({answers})")
        if answers:
            self._answers[annotator] = self._answers.get(annotator, 0) + answers
            self._correct[annotator] = self._correct.get(annotator, 0) + correct

    def remove(self, annotator: str, answers: int, correct: int) -> None:
        """Take back counts added or recorded before (a group's share, when it is forgotten).

        >>> t = GoldAccuracyTracker(min_answers=2)
        >>> t.add("a", 4, 1); t.add("a", 2, 2); t.remove("a", 4, 1)
        >>> t.n_answers("a"), t.accuracy("a"), t.accuracies
        (2, 1.0, {'a': 1.0})
        >>> t.remove("a", 2, 2); t.accuracy("a"), t.accuracies
        (None, {})
        """
        n = self._answers.get(annotator, 0) - answers
        c = self._correct.get(annotator, 0) - correct
        if answers < 0 or correct < 0 or n < 0 or c < 0 or c > n:
            raise ConfigurationError(
                f"cannot remove {answers}/{correct} gold answers of {annotator!r}"
            )
        if n == 0:
            self._answers.pop(annotator, None)
            self._correct.pop(annotator, None)
        else:
            self._answers[annotator], self._correct[annotator] = n, c

    def n_answers(self, annotator: str) -> int:
        """Gold answers recorded for ``annotator``."""
        return self._answers.get(annotator, 0)

    def accuracy(self, annotator: str) -> float | None:
        """Gold accuracy of ``annotator``, or ``None`` before any gold answer."""
        n = self._answers.get(annotator, 0)
        return self._correct[annotator] / n if n else None

    def is_flagged(self, annotator: str) -> bool:
        """True when the annotator has enough gold answers and too low an accuracy."""
        acc = self.accuracy(annotator)
        return (
            acc is not None
            and self._answers[annotator] >= self.min_answers
            and acc < self.flag_below
        )

    def weight(self, annotator: str) -> float:
        """Weight of the annotator's labels under the policy (1.0 when not flagged)."""
        if not self.is_flagged(annotator):
            return 1.0
        acc = self.accuracy(annotator)
        assert acc is not None
        return self.weight_for(acc)

    def weight_for(self, accuracy: float) -> float:
        """Policy weight of a flagged annotator with this accuracy (from any source)."""
        if self.policy == "exclude":
            return 0.0
        return max(0.0, (accuracy - self.chance_accuracy) / (1.0 - self.chance_accuracy))

    @property
    def flagged(self) -> frozenset[str]:
        """Annotators currently flagged."""
        return frozenset(a for a in self._answers if self.is_flagged(a))

    @property
    def accuracies(self) -> Mapping[str, float]:
        """Annotator to gold accuracy (a copy)."""
        return {a: self._correct[a] / n for a, n in self._answers.items()}
