"""The label collector: the pure state machine behind the label join.

For each requested item it knows how many distinct annotators it needs, gathers
their labels, and when the item is complete (or its timeout passes) resolves it
into exactly one terminal :mod:`outcome <streamsift.core.quality.outcomes>`:
:class:`Aggregated` (the only thing that trains the model) or :class:`HeldOut`;
gold answers yield :class:`GoldScored` and update annotator accuracy. Ties,
low-confidence aggregates and single labels that contradict a confident model are
never resolved silently: they ask for one more opinion (:class:`NeedsMoreOpinions`)
within a bound, then are held out.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from streamsift.core.quality._util import (
    check_choice,
    check_int,
    check_positive,
    check_probability,
)
from streamsift.core.quality.aggregate import majority_vote
from streamsift.core.quality.annotators import AnnotatorStats, annotator_stats
from streamsift.core.quality.dawid_skene import DawidSkene, DawidSkeneResult
from streamsift.core.quality.gold import GoldAccuracyTracker, Policy
from streamsift.core.quality.outcomes import (
    Aggregated,
    AggregationMethod,
    GoldScored,
    HeldOut,
    HoldReason,
    NeedsMoreOpinions,
    OpinionReason,
    Outcome,
)
from streamsift.core.quality.persist import QualityState, merge_states
from streamsift.core.types import Label, Proba
from streamsift.errors import ConfigurationError

__all__ = ["LabelCollector"]

_KINDS = ("gold", "redundancy", "second_opinion", "extra_opinion")


@dataclass(slots=True)
class _Pending:
    needed: int
    deadline: float
    gold_label: Label | None
    is_gold: bool
    labels: dict[str, Label] = field(default_factory=dict)
    model_proba: Proba | None = None
    extra_used: int = 0
    contradiction: bool = False
    asked: tuple[OpinionReason, str] | None = None  # the last extra opinion: reason, kind
    group: Hashable | None = None


@dataclass(frozen=True, slots=True)
class _WindowItem:
    """A finished multi-label item in the Dawid-Skene window, with its group."""

    group: Hashable | None
    item_id: str
    labels: tuple[tuple[str, Label], ...]


class LabelCollector:
    """Collect labels per item and resolve them under quality control.

    Parameters
    ----------
    timeout
        Seconds an item waits for its labels (restarted by each extra request;
        default 3600).
    on_timeout
        ``"aggregate"`` (default): at the timeout, aggregate what arrived (held out
        as ``"timeout"`` if nothing did, held out with the reason if unresolved);
        ``"hold_out"``: an item short of its labels is held out as ``"timeout"``.
    min_confidence
        Aggregates below this confidence are low-confidence (default 0.6).
    max_extra_opinions
        Extra opinions per item for ties / low confidence (default 1).
    contradiction_confidence
        A single label on a non-gold item that disagrees with a model whose top
        probability is at least this asks for a second opinion (default 0.9).
    gold_min_answers, flag_below, policy, chance_accuracy
        The :class:`~streamsift.core.quality.gold.GoldAccuracyTracker` settings
        (defaults 20, 0.8, ``"downweight"``, 0.5). Flagged annotators' votes are
        weighted by the policy in the majority vote (weight-0 labels are dropped and
        not counted in ``n_labels``); under ``"exclude"`` they are also dropped from
        the Dawid-Skene posterior, while ``"downweight"`` lets Dawid-Skene use them
        through their estimated confusion matrix.
    ds_min_items
        Multi-label items needed before Dawid-Skene replaces majority vote (default 50).
    ds_refit_every
        Refit Dawid-Skene after this many new multi-label items (default 50).
    ds_window
        Most recent multi-label items kept for fitting (default 2000).
    ds_flagging
        Also flag an annotator whose Dawid-Skene accuracy is below ``flag_below``
        once they have at least ``gold_min_answers`` labels in the fitting window
        (default True); their weight then follows the policy with that accuracy.
        Gold accuracy, when it flags, takes precedence.

    Per-annotator statistics by group: an item registered with ``group=g`` (the
    stream service passes its partition) counts its gold answer and its place in the
    Dawid-Skene window towards ``g``. :meth:`export` gives a group's share as a
    :class:`~streamsift.core.quality.persist.QualityState`, :meth:`restore` merges a
    saved share into the statistics, :meth:`forget` takes a group's share out again.

    Examples
    --------
    >>> c = LabelCollector(timeout=60.0)
    >>> c.expect("e1", now=0.0, n_annotators=3)
    >>> c.add_label("e1", "ann-a", "cat", now=1.0)
    []
    >>> c.add_label("e1", "ann-a", "dog", now=2.0), c.n_duplicates
    ([], 1)
    >>> c.add_label("e1", "ann-b", "cat", now=3.0)
    []
    >>> c.add_label("e1", "ann-c", "dog", now=4.0)
    [Aggregated(item_id='e1', label='cat', confidence=0.6666666666666666, n_labels=3, \
method='majority')]
    >>> c.expect("e2", now=5.0)
    >>> c.add_label("e2", "ann-a", "cat", now=6.0, model_proba={"cat": 0.05, "dog": 0.95})
    [NeedsMoreOpinions(item_id='e2', reason='contradicts_model')]
    >>> c.poll(now=100.0)
    [HeldOut(item_id='e2', reason='contradicts_model')]
    >>> dict(c.extra_labels), c.contradiction_rate
    ({'gold': 0, 'redundancy': 2, 'second_opinion': 1, 'extra_opinion': 0}, 1.0)
    """

    def __init__(
        self,
        timeout: float = 3600.0,
        on_timeout: str = "aggregate",
        min_confidence: float = 0.6,
        max_extra_opinions: int = 1,
        contradiction_confidence: float = 0.9,
        gold_min_answers: int = 20,
        flag_below: float = 0.8,
        policy: Policy = "downweight",
        chance_accuracy: float = 0.5,
        ds_min_items: int = 50,
        ds_refit_every: int = 50,
        ds_window: int = 2000,
        ds_flagging: bool = True,
    ) -> None:
        self.timeout = check_positive("timeout", timeout)
        self.on_timeout = check_choice("on_timeout", on_timeout, ("aggregate", "hold_out"))
        self.min_confidence = check_probability("min_confidence", min_confidence)
        self.max_extra_opinions = check_int("max_extra_opinions", max_extra_opinions, minimum=0)
        self.contradiction_confidence = check_probability(
            "contradiction_confidence", contradiction_confidence, open_low=True
        )
        self.gold_min_answers = gold_min_answers
        self.flag_below = flag_below
        self.policy = policy
        self.chance_accuracy = chance_accuracy
        self.ds_min_items = check_int("ds_min_items", ds_min_items, minimum=2)
        self.ds_refit_every = check_int("ds_refit_every", ds_refit_every, minimum=1)
        self.ds_window = check_int("ds_window", ds_window, minimum=2)
        self.ds_flagging = bool(ds_flagging)
        self._reset()

    def _reset(self) -> None:
        self._gold = GoldAccuracyTracker(
            self.gold_min_answers, self.flag_below, self.policy, self.chance_accuracy
        )
        self._pending: dict[str, _Pending] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._ds_items: deque[_WindowItem] = deque(maxlen=self.ds_window)
        self._group_gold: dict[Hashable, dict[str, tuple[int, int]]] = {}
        self._ds: DawidSkeneResult | None = None
        self._ds_flagged: frozenset[str] = frozenset()
        self._since_fit = 0
        self._label_counts: dict[str, int] = {}
        self._extra = dict.fromkeys(_KINDS, 0)
        self._counts = dict.fromkeys(
            ("expected", "labels", "duplicates", "unknown", "aggregated", "held_out",
             "checked", "contradictions", "gold_expired"), 0,
        )  # fmt: skip

    # -- intake ---------------------------------------------------------------------
    def expect(
        self,
        item_id: str,
        now: float,
        *,
        n_annotators: int = 1,
        gold_label: Label | None = None,
        group: Hashable | None = None,
    ) -> None:
        """Register a label request for ``item_id`` needing ``n_annotators`` distinct
        annotators; pass ``gold_label`` for an injected gold item (one annotator), and
        ``group`` to count the item's statistics towards that group."""
        check_int("n_annotators", n_annotators, minimum=1)
        if item_id in self._pending:
            raise ConfigurationError(f"item_id {item_id!r} is already pending")
        is_gold = gold_label is not None
        needed = 1 if is_gold else n_annotators
        self._pending[item_id] = _Pending(
            needed, now + self.timeout, gold_label, is_gold, group=group
        )
        heapq.heappush(self._deadlines, (now + self.timeout, item_id))
        self._counts["expected"] += 1
        self._extra["gold" if is_gold else "redundancy"] += 1 if is_gold else needed - 1

    def add_label(
        self, item_id: str, annotator: str, label: Label, now: float, *,
        model_proba: Proba | None = None,
    ) -> list[Outcome]:  # fmt: skip
        """Accept one label; return the outcomes it triggers (possibly none).

        Labels for unknown or already resolved items, and a second label from the
        same annotator, are ignored and counted (``n_unknown``, ``n_duplicates``).
        ``model_proba`` is the online model's prediction, used for second opinions.
        """
        p = self._pending.get(item_id)
        if p is None:
            self._counts["unknown"] += 1
            return []
        if annotator in p.labels:
            self._counts["duplicates"] += 1
            return []
        p.labels[annotator] = label
        self._counts["labels"] += 1
        self._label_counts[annotator] = self._label_counts.get(annotator, 0) + 1
        if model_proba is not None:
            p.model_proba = model_proba
        if p.is_gold:
            correct = label == p.gold_label
            self._gold.record(annotator, correct)
            if p.group is not None:
                counts = self._group_gold.setdefault(p.group, {})
                n, c = counts.get(annotator, (0, 0))
                counts[annotator] = (n + 1, c + int(correct))
            if len(p.labels) >= p.needed:
                del self._pending[item_id]
            return [GoldScored(item_id, annotator, correct)]
        if len(p.labels) < p.needed:
            return []
        return [self._resolve(item_id, p, now, timed_out=False)]

    def poll(self, now: float) -> list[Outcome]:
        """Resolve every item whose deadline is at or before ``now``."""
        out: list[Outcome] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, item_id = heapq.heappop(self._deadlines)
            p = self._pending.get(item_id)
            if p is None or p.deadline != deadline:
                continue  # resolved already, or the deadline was extended
            if p.is_gold:
                del self._pending[item_id]
                self._counts["gold_expired"] += 1
            elif p.contradiction and len(p.labels) == 1:
                out.append(self._hold(item_id, "contradicts_model"))
            elif not p.labels or (self.on_timeout == "hold_out" and len(p.labels) < p.needed):
                out.append(self._hold(item_id, "timeout"))
            else:
                out.append(self._resolve(item_id, p, now, timed_out=True))
        return out

    # -- resolution -----------------------------------------------------------------
    def _resolve(self, item_id: str, p: _Pending, now: float, *, timed_out: bool) -> Outcome:
        if len(p.labels) == 1 and p.needed == 1 and p.model_proba and not p.contradiction:
            (label,) = p.labels.values()
            top, conf = max(p.model_proba.items(), key=lambda kv: kv[1])
            self._counts["checked"] += 1
            if conf >= self.contradiction_confidence and top != label:
                self._counts["contradictions"] += 1
                p.contradiction = True
                return self._ask(item_id, p, now, "contradicts_model", "second_opinion")
        label_, confidence, tie, n_used, method = self._aggregate(p.labels)
        if label_ is None or tie or confidence < self.min_confidence:
            reason: OpinionReason = "tie" if tie else "low_confidence"
            if not timed_out and p.extra_used < self.max_extra_opinions:
                p.extra_used += 1
                return self._ask(item_id, p, now, reason, "extra_opinion")
            return self._hold(item_id, reason)
        self._finish(item_id)
        self._counts["aggregated"] += 1
        return Aggregated(item_id, label_, confidence, n_used, method)

    def _aggregate(
        self, labels: dict[str, Label]
    ) -> tuple[Label | None, float, bool, int, AggregationMethod]:
        """Return (label, confidence, tie, labels used, method)."""
        weights = {a: self._weight(a) for a in labels}
        kept = {a: lab for a, lab in labels.items() if weights[a] > 0.0}
        if self._ds is not None and len(labels) > 1:
            used = labels if self.policy == "downweight" else kept
            post = self._ds.posterior_for(used) if used else None
            if post is not None:
                ranked = sorted(post.items(), key=lambda kv: -kv[1])
                tie = len(ranked) > 1 and abs(ranked[0][1] - ranked[1][1]) < 1e-12
                return ranked[0][0], ranked[0][1], tie, len(used), "dawid_skene"
        if not kept:
            return None, 0.0, False, 0, "majority"
        mv = majority_vote(list(kept.values()), [weights[a] for a in kept])
        method: AggregationMethod = "single" if len(kept) == 1 else "majority"
        return mv.label, mv.confidence, mv.tie, len(kept), method

    def _ask(
        self, item_id: str, p: _Pending, now: float, reason: OpinionReason, kind: str
    ) -> NeedsMoreOpinions:
        p.needed = len(p.labels) + 1
        p.deadline = now + self.timeout
        heapq.heappush(self._deadlines, (p.deadline, item_id))
        self._extra[kind] += 1
        p.asked = (reason, kind)
        return NeedsMoreOpinions(item_id, reason)

    def decline(self, item_id: str) -> HeldOut:
        """The extra opinion just asked for ``item_id`` could not be requested (no
        capacity left): hold the item out with the reason it was asked for, and do not
        count that extra label. Raises ``ConfigurationError`` if no opinion was asked.

        Examples
        --------
        >>> c = LabelCollector(timeout=60.0)
        >>> c.expect("e1", now=0.0)
        >>> c.add_label("e1", "ann-a", "cat", now=1.0, model_proba={"cat": 0.01, "dog": 0.99})
        [NeedsMoreOpinions(item_id='e1', reason='contradicts_model')]
        >>> c.decline("e1"), c.extra_labels["second_opinion"], c.n_pending
        (HeldOut(item_id='e1', reason='contradicts_model'), 0, 0)
        """
        p = self._pending.get(item_id)
        if p is None or p.asked is None:
            raise ConfigurationError(f"no extra opinion pending for item_id {item_id!r}")
        reason, kind = p.asked
        self._extra[kind] -= 1
        return self._hold(item_id, reason)

    def _hold(self, item_id: str, reason: HoldReason) -> HeldOut:
        self._finish(item_id)
        self._counts["held_out"] += 1
        return HeldOut(item_id, reason)

    def _finish(self, item_id: str) -> None:
        p = self._pending.pop(item_id)
        if len(p.labels) < 2:
            return
        self._ds_items.append(_WindowItem(p.group, item_id, tuple(p.labels.items())))
        self._since_fit += 1
        if len(self._ds_items) >= self.ds_min_items and self._since_fit >= self.ds_refit_every:
            self._refit()

    def _refit(self) -> None:
        """Fit Dawid-Skene on the window (or drop the fit if it is too small now)."""
        self._since_fit = 0
        if len(self._ds_items) < self.ds_min_items:
            self._ds, self._ds_flagged = None, frozenset()
            return
        self._ds = DawidSkene(max_iter=50).fit(
            (item.item_id, a, lab) for item in self._ds_items for a, lab in item.labels
        )
        self._ds_flagged = frozenset()
        if self.ds_flagging:
            seen: dict[str, int] = {}
            for item in self._ds_items:
                for a, _ in item.labels:
                    seen[a] = seen.get(a, 0) + 1
            self._ds_flagged = frozenset(
                a
                for a, acc in self._ds.accuracy.items()
                if acc < self.flag_below and seen[a] >= self.gold_min_answers
            )

    # -- per-group statistics ---------------------------------------------------------
    def export(self, group: Hashable) -> QualityState:
        """The share of ``group`` in the per-annotator statistics: its gold counts (those
        restored and those recorded since) and its items still in the Dawid-Skene window.

        Examples
        --------
        >>> c = LabelCollector(timeout=60.0)
        >>> c.expect("g1", now=0.0, gold_label="cat", group=3)
        >>> c.add_label("g1", "ann-a", "dog", now=1.0)
        [GoldScored(item_id='g1', annotator='ann-a', correct=False)]
        >>> c.expect("e1", now=0.0, n_annotators=2, group=3)
        >>> _ = c.add_label("e1", "ann-a", "cat", now=1.0)
        >>> _ = c.add_label("e1", "ann-b", "cat", now=2.0)
        >>> c.export(3)
        QualityState(gold={'ann-a': (1, 0)}, items=(('e1', (('ann-a', 'cat'), ('ann-b', 'cat'))),))
        >>> c.export(4).is_empty
        True
        """
        gold = dict(self._group_gold.get(group, {}))
        items = tuple((it.item_id, it.labels) for it in self._ds_items if it.group == group)
        return QualityState(gold, items)

    def restore(self, group: Hashable, state: QualityState) -> None:
        """Merge a saved share of ``group`` into the statistics (gold counts, flags and the
        Dawid-Skene window, refitted at once when it holds ``ds_min_items`` items).

        Window items already held (same item id) are not added twice.

        Examples
        --------
        >>> c = LabelCollector(gold_min_answers=4, flag_below=0.8)
        >>> c.restore(1, QualityState(gold={"ann-a": (5, 2), "ann-b": (4, 4)}))
        >>> sorted(c.flagged), c.gold.accuracy("ann-a"), c.export(1).gold["ann-a"]
        (['ann-a'], 0.4, (5, 2))
        """
        if group is None:
            raise ConfigurationError("restore needs a group")
        counts = self._group_gold.setdefault(group, {})
        merged = merge_states(QualityState(counts), QualityState(state.gold))
        for ann, (n, c) in state.gold.items():
            self._gold.add(ann, n, c)
        counts.update(merged.gold)
        held = {it.item_id for it in self._ds_items}
        added = 0
        for item_id, labels in state.items:
            if item_id not in held and len(labels) >= 2:
                self._ds_items.append(_WindowItem(group, item_id, tuple(labels)))
                held.add(item_id)
                added += 1
        if added:
            self._refit()

    def forget(self, group: Hashable) -> list[str]:
        """Take the share of ``group`` out of the statistics (its gold counts, its window
        items; Dawid-Skene refitted) and drop its pending items. Returns the ids of the
        pending items dropped.

        Examples
        --------
        >>> c = LabelCollector(gold_min_answers=4, flag_below=0.8)
        >>> c.restore(1, QualityState(gold={"ann-a": (5, 2)}))
        >>> c.expect("e9", now=0.0, group=1)
        >>> c.forget(1), sorted(c.flagged), c.gold.n_answers("ann-a"), c.n_pending
        (['e9'], [], 0, 0)
        """
        for ann, (n, c) in self._group_gold.pop(group, {}).items():
            self._gold.remove(ann, n, c)
        before = len(self._ds_items)
        kept = [it for it in self._ds_items if it.group != group]
        if len(kept) != before:
            self._ds_items = deque(kept, maxlen=self.ds_window)
            self._refit()
        dropped = [i for i, p in self._pending.items() if p.group == group]
        for item_id in dropped:
            del self._pending[item_id]
        return dropped

    def _weight(self, annotator: str) -> float:
        if self._gold.is_flagged(annotator) or annotator not in self._ds_flagged:
            return self._gold.weight(annotator)
        assert self._ds is not None
        return self._gold.weight_for(self._ds.accuracy[annotator])

    # -- read-only state for metrics ------------------------------------------------
    @property
    def gold(self) -> GoldAccuracyTracker:
        """The per-annotator gold accuracy tracker."""
        return self._gold

    @property
    def dawid_skene(self) -> DawidSkeneResult | None:
        """The latest Dawid-Skene fit, ``None`` until ``ds_min_items`` items."""
        return self._ds

    @property
    def window(self) -> tuple[tuple[Label, ...], ...]:
        """The labels of each item in the Dawid-Skene window, oldest first (for agreement)."""
        return tuple(tuple(lab for _, lab in it.labels) for it in self._ds_items)

    @property
    def annotators(self) -> tuple[AnnotatorStats, ...]:
        """Per-annotator statistics."""
        return annotator_stats(self._label_counts, self._gold, self._ds, self._ds_flagged)

    @property
    def flagged(self) -> frozenset[str]:
        """Annotators flagged by gold accuracy or by Dawid-Skene accuracy."""
        return self._gold.flagged | self._ds_flagged

    @property
    def extra_labels(self) -> dict[str, int]:
        """Labels requested beyond one per item, by kind (a copy)."""
        return dict(self._extra)

    @property
    def counts(self) -> dict[str, int]:
        """Event counters: expected, labels, duplicates, unknown, aggregated, held_out,
        checked, contradictions, gold_expired (a copy)."""
        return dict(self._counts)

    @property
    def n_duplicates(self) -> int:
        """Second labels from the same annotator on one item, ignored."""
        return self._counts["duplicates"]

    @property
    def n_pending(self) -> int:
        """Items waiting for labels."""
        return len(self._pending)

    @property
    def contradiction_rate(self) -> float:
        """Contradictions among single labels checked against a model (0.0 if none)."""
        checked = self._counts["checked"]
        return self._counts["contradictions"] / checked if checked else 0.0
