"""A pure simulated labelling team: capacity, delays and noisy annotators.

The team answers label requests with the true class of the request's features
(:func:`~streamsift.tools.concept.true_label` by default), through ``annotators``
people who each label at most ``labels_per_hour``, one item at a time. A request is
given to ``annotators_needed`` distinct annotators, the least busy first (ties
broken at random); each starts when free, works ``3600 / labels_per_hour`` seconds,
and the label appears after a further lognormal turnaround delay (median
``delay_median`` seconds). With probability ``noise[a]`` annotator ``a`` gives one
of the other classes, uniformly. All durations are divided by ``time_scale``
(``time_scale=60`` plays an hour of work in a minute). Annotators the worker flags
can be benched (:meth:`LabellingTeam.bench`): they get no new work while others can
take it.

The team never holds more than ``max_backlog`` unfinished labels: a request that
would exceed it is refused (``"full"``) and the caller decides whether to wait or
drop it. Time is the caller's clock (``now`` in seconds), so the class is pure and
deterministic for a given seed and call sequence.

Examples
--------
>>> team = LabellingTeam(annotators=2, labels_per_hour=3600, noise=(0.0, 1.0),
...                      delay_median=0.0, seed=1)
>>> x = {"amount": 35.5, "tenure_months": 40, "sessions_7d": 4, "device_trust": 0.9,
...      "hour": 14, "plan": "pro", "channel": "web"}
>>> team.submit("e-1", x, now=0.0, annotators_needed=2)
'accepted'
>>> team.submit("e-2", x, now=0.0)
'accepted'
>>> team.backlog(now=0.0), team.next_due_at
(3, 1.0)
>>> for lab in team.due(now=2.0):
...     print(lab.event_id, lab.annotator_id, lab.label, lab.flipped, lab.labelled_at)
e-1 annotator-0 legit False 1.0
e-1 annotator-1 fraud True 1.0
e-2 annotator-0 legit False 2.0
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from streamsift.core.types import FeatureValue, Label
from streamsift.errors import ConfigurationError
from streamsift.schemas import LabelEvent, LabelRequest
from streamsift.tools.concept import CLASSES, true_label

__all__ = ["LabellingTeam", "SimLabel", "SubmitResult"]

#: Outcome of :meth:`LabellingTeam.submit`.
SubmitResult = Literal["accepted", "full", "unlabellable"]
Oracle = Callable[[Mapping[str, FeatureValue]], Label]


@dataclass(frozen=True, slots=True)
class SimLabel:
    """One label given by one simulated annotator."""

    event_id: str
    request_id: str | None
    label: Label
    true_label: Label
    annotator_id: str
    labelled_at: float
    flipped: bool

    def to_label_event(self, team: str = "simulated") -> LabelEvent:
        """The :class:`~streamsift.schemas.LabelEvent` to publish."""
        return LabelEvent(
            event_id=self.event_id,
            label=self.label,
            annotator_id=self.annotator_id,
            team=team,
            labelled_at=datetime.fromtimestamp(self.labelled_at, UTC),
            request_id=self.request_id,
        )


def _per_annotator(value: float | Sequence[float], n: int, name: str) -> tuple[float, ...]:
    values = (float(value),) * n if isinstance(value, int | float) else tuple(map(float, value))
    if len(values) != n:
        raise ConfigurationError(f"{name}: need 1 or {n} values, got {len(values)}")
    return values


class LabellingTeam:
    """Simulated annotators answering label requests under a capacity limit.

    Parameters
    ----------
    annotators
        Number of annotators (1-64).
    labels_per_hour
        Labels per hour of each annotator: one value for all, or one per annotator.
    noise
        Probability that an annotator gives a wrong class: one value, or one each.
    delay_median
        Median turnaround after the work is done, in seconds (0: none).
    delay_sigma
        Log-standard deviation of the lognormal turnaround.
    time_scale
        Every duration is divided by this (simulated seconds per real second).
    max_backlog
        Most unfinished labels the team accepts.
    classes
        Classes an annotator may answer (a wrong answer is one of the others).
    oracle
        Ground truth from features; ``KeyError``/``TypeError`` means unlabellable.
    seed
        Seed of the team's random source.
    id_prefix
        Annotator ids are ``f"{id_prefix}{i}"``.
    """

    def __init__(
        self,
        annotators: int = 5,
        labels_per_hour: float | Sequence[float] = 120.0,
        noise: float | Sequence[float] = 0.0,
        delay_median: float = 2.0,
        delay_sigma: float = 0.5,
        time_scale: float = 1.0,
        max_backlog: int = 1000,
        classes: Sequence[Label] = CLASSES,
        oracle: Oracle = true_label,
        seed: int = 0,
        id_prefix: str = "annotator-",
    ) -> None:
        self.annotators = annotators
        self.labels_per_hour = labels_per_hour
        self.noise = noise
        self.delay_median = delay_median
        self.delay_sigma = delay_sigma
        self.time_scale = time_scale
        self.max_backlog = max_backlog
        self.classes = tuple(classes)
        self.oracle = oracle
        self.seed = seed
        self.id_prefix = id_prefix
        if not 1 <= annotators <= 64:
            raise ConfigurationError("annotators must be in [1, 64]")
        self._rates = _per_annotator(labels_per_hour, annotators, "labels_per_hour")
        self._noise = _per_annotator(noise, annotators, "noise")
        if any(not (r > 0 and math.isfinite(r)) for r in self._rates):
            raise ConfigurationError("labels_per_hour must be > 0")
        if any(not 0.0 <= p <= 1.0 for p in self._noise):
            raise ConfigurationError("noise must be in [0, 1]")
        if delay_median < 0 or delay_sigma < 0:
            raise ConfigurationError("delay_median and delay_sigma must be >= 0")
        if not time_scale > 0:
            raise ConfigurationError("time_scale must be > 0")
        if max_backlog < 1:
            raise ConfigurationError("max_backlog must be >= 1")
        if len(set(self.classes)) < 2:
            raise ConfigurationError("classes: need at least two distinct classes")
        self._reset()

    def _reset(self) -> None:
        self._rng = random.Random(self.seed)
        self._ids = tuple(f"{self.id_prefix}{i}" for i in range(self.annotators))
        self._service = tuple(3600.0 / r / self.time_scale for r in self._rates)
        self._free_at = [-math.inf] * self.annotators
        self._finishing: list[float] = []
        self._outbox: list[tuple[float, int, SimLabel]] = []
        self._seq = 0
        self.counts = {
            "accepted": 0, "full": 0, "unlabellable": 0, "short": 0, "benched_fill": 0,
        }  # fmt: skip
        self._given = [0] * self.annotators
        self._flipped = [0] * self.annotators
        self._benched: frozenset[str] = frozenset()
        self._given_benched = [0] * self.annotators

    def bench(self, annotators: frozenset[str] | set[str]) -> None:
        """Give no new work to ``annotators`` (those the worker flags; ids not in the
        team are ignored); replaces the previous set, so an unflagged annotator is back.
        Work already assigned is finished. A request needing more distinct annotators
        than remain unbenched still gets benched ones to fill it (``counts["benched_fill"]``)."""
        self._benched = frozenset(a for a in annotators if a in self._ids)

    @property
    def benched(self) -> frozenset[str]:
        """Annotators currently given no new work."""
        return self._benched

    @property
    def given_while_benched(self) -> dict[str, int]:
        """Labels each annotator was given while benched (fills only)."""
        return dict(zip(self._ids, self._given_benched, strict=True))

    @property
    def annotator_ids(self) -> tuple[str, ...]:
        """Ids of the annotators, in order."""
        return self._ids

    @property
    def capacity_per_hour(self) -> float:
        """Labels per (simulated) hour of the whole team."""
        return math.fsum(self._rates)

    @property
    def next_due_at(self) -> float | None:
        """Time of the next label to appear, or ``None`` when none is outstanding."""
        return self._outbox[0][0] if self._outbox else None

    @property
    def given(self) -> dict[str, int]:
        """Labels given so far per annotator (emitted or not yet)."""
        return dict(zip(self._ids, self._given, strict=True))

    @property
    def flipped(self) -> dict[str, int]:
        """Wrong labels given so far per annotator."""
        return dict(zip(self._ids, self._flipped, strict=True))

    def backlog(self, now: float) -> int:
        """Labels assigned but not finished at ``now``."""
        while self._finishing and self._finishing[0] <= now:
            heapq.heappop(self._finishing)
        return len(self._finishing)

    def has_room(self, now: float, annotators_needed: int = 1) -> bool:
        """Whether a request for that many annotators would be accepted now."""
        return self.backlog(now) + min(annotators_needed, self.annotators) <= self.max_backlog

    def submit(
        self,
        event_id: str,
        features: Mapping[str, FeatureValue],
        now: float,
        request_id: str | None = None,
        annotators_needed: int = 1,
    ) -> SubmitResult:
        """Hand one item to ``annotators_needed`` distinct annotators.

        Returns
        -------
        str
            ``"accepted"``, ``"full"`` (backlog limit; nothing assigned) or
            ``"unlabellable"`` (the oracle cannot label these features).
        """
        try:
            truth = self.oracle(features)
        except (KeyError, TypeError, ValueError):
            self.counts["unlabellable"] += 1
            return "unlabellable"
        if not self.has_room(now, annotators_needed):
            self.counts["full"] += 1
            return "full"
        if annotators_needed > self.annotators:
            self.counts["short"] += 1
        k = min(annotators_needed, self.annotators)
        benched = self._benched
        order = sorted(
            range(self.annotators),
            key=lambda a: (
                self._ids[a] in benched,
                max(self._free_at[a], now),
                self._rng.random(),
            ),
        )
        for a in order[:k]:
            if self._ids[a] in benched:
                self.counts["benched_fill"] += 1
                self._given_benched[a] += 1
            finish = max(self._free_at[a], now) + self._service[a]
            self._free_at[a] = finish
            heapq.heappush(self._finishing, finish)
            label, flipped = truth, False
            if self._noise[a] > 0 and self._rng.random() < self._noise[a]:
                label = self._rng.choice([c for c in self.classes if c != truth])
                flipped = True
            delay = 0.0
            if self.delay_median > 0:
                delay = self._rng.lognormvariate(math.log(self.delay_median), self.delay_sigma)
            at = finish + delay / self.time_scale
            lab = SimLabel(event_id, request_id, label, truth, self._ids[a], at, flipped)
            heapq.heappush(self._outbox, (at, self._seq, lab))
            self._seq += 1
            self._given[a] += 1
            self._flipped[a] += flipped
        self.counts["accepted"] += 1
        return "accepted"

    def submit_request(self, request: LabelRequest, now: float) -> SubmitResult:
        """:meth:`submit` for a :class:`~streamsift.schemas.LabelRequest`."""
        return self.submit(
            request.event_id,
            request.features,
            now,
            request_id=request.request_id,
            annotators_needed=request.annotators_needed,
        )

    def due(self, now: float) -> list[SimLabel]:
        """Labels that have appeared by ``now``, oldest first (each returned once)."""
        out = []
        while self._outbox and self._outbox[0][0] <= now:
            out.append(heapq.heappop(self._outbox)[2])
        return out

    def drain(self) -> list[SimLabel]:
        """Every outstanding label, oldest first, regardless of time."""
        return self.due(math.inf)
