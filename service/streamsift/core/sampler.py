"""The Sampler: the one composition the stream service and the simulator both drive.

``decide(event)`` assigns the event to a region, scores its uncertainty with the
configured strategy, feeds the region's drift monitor, multiplies the score by the
region's drift boost (and, once warm, by a diversity factor), and lets the
:class:`~streamsift.core.selection.Selector` turn it into a yes/no under capacity.
``confirm(decision)`` records a selection once its request was sent; ``learn(item)``
trains the online model (and committee) with an importance weight and updates the
control-arm estimates. Everything is seeded and picklable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from streamsift.core.concept import DEFAULT_DELTA
from streamsift.core.drift import DriftMonitor, DriftResult, RegionAssigner
from streamsift.core.models import DEFAULT_BASE_MODEL
from streamsift.core.online import OnlineModel, _argmax
from streamsift.core.selection import (
    ControlArmEstimator,
    DiversityReservoir,
    Estimate,
    Selection,
    Selector,
    VariableUncertaintySelector,
)
from streamsift.core.types import CoreEvent, Decision, Label, LabelledItem, Proba, ScoringInputs
from streamsift.core.uncertainty import _Single, entropy, make_strategy
from streamsift.errors import ConfigurationError

__all__ = ["DEFAULT_SELECTOR", "DEFAULT_STRATEGY", "SELECTORS", "Sampler", "SamplerState"]

#: The strategy used when none is configured.
DEFAULT_STRATEGY = "online-margin"

#: Selection rules of the active arm, by name: ``rank`` (a probability ramp on the
#: randomised rank of the score among recent scores) and ``variable-uncertainty``
#: (Žliobaitė et al. 2014: an adaptive threshold on the confidence under a budget
#: gate; :class:`~streamsift.core.selection.VariableUncertaintySelector`).
SELECTORS: dict[str, type[Selector]] = {
    "rank": Selector,
    "variable-uncertainty": VariableUncertaintySelector,
}

#: The selection rule used when none is configured.
DEFAULT_SELECTOR = "rank"


@dataclass(frozen=True, slots=True)
class SamplerState:
    """A read-only snapshot of the Sampler for metrics and reports."""

    events_seen: int
    warm: bool
    labels_seen: int
    model_version: int
    target_fraction: float
    target_label_rate: float
    event_rate: float
    threshold: float
    pending: int
    spent_today: float
    selected_by_arm: dict[str, int]
    boosts: dict[str, float]
    production_accuracy: Estimate
    online_accuracy: Estimate
    lift: Estimate
    p_mean: float


#: Memory of the running mean selection probabilities, in labels.
P_MEAN_MEMORY = 1000


def _running_mean(mean: float, x: float, n: int) -> float:
    """``mean`` moved towards its ``n``-th value ``x`` (a plain mean up to
    :data:`P_MEAN_MEMORY` values, an exponential one beyond)."""
    return mean + (x - mean) / min(n, P_MEAN_MEMORY)


def _drift_inputs(
    proba: Proba | None, online: Proba | None, score: float
) -> tuple[Label | None, float]:
    """The predicted class and uncertainty the drift monitor gets for one event.

    The production model's own prediction and entropy when the event carries its
    probabilities (the online model's change as it learns is not a change in the
    data), else the online model's prediction and the strategy's score.
    """
    if proba:
        return _argmax(proba), entropy(proba)
    return _argmax(online), score


class Sampler:
    """Decide which events to label and learn from the labels that come back.

    Parameters
    ----------
    strategy
        Name of the uncertainty strategy (see :data:`streamsift.core.uncertainty.STRATEGIES`).
    base_model
        Name of the River base model (see :data:`streamsift.core.models.BASE_MODELS`).
    committee_size
        Members of the online committee (0: none; committee strategies need >= 2).
    fraction
        Fixed share of events to label (simulator); ``None`` derives it from capacity.
    capacity_per_hour, cost_per_label, budget_per_day
        The labelling team's capacity and the money budget (rate mode).
    control_share
        Share of the selections spent on uniform control picks. Default 0.05.
    p_floor
        Floor of the active arm's selection probability relative to its mean.
        Default 0.25: about a fifth of the active arm's labels fall on events the
        model is sure of, where a concept change shows first (the randomisation
        of Zliobaite et al. 2014). Against 0.01, over the six reference streams at
        5 % (seeds 0-10): geometric-mean savings 2.94x -> 3.81x on seeds 0-7 and
        2.89x -> 3.85x on seeds 8-10, which were not used to choose it; Agrawal's
        savings reached 7.4-8.0x on 5 of 11 seeds instead of none
        (docs/efficiency-notes.md).
    max_pending
        Pending requests at which only the control arm continues.
    min_labels, stability_window, stability_tolerance
        Cold start: uniform sampling until the online model has ``min_labels``
        labels and the prequential accuracy of its last two windows of
        ``stability_window`` labels differ by at most ``stability_tolerance``
        (see :class:`~streamsift.core.online.OnlineModel`). Defaults 30, 15 and 0.1:
        at a 5 % budget, 200 labels would mean 4,000 events of uniform sampling,
        longer than many streams (docs/benchmarks.md); with the warm-up boost, a
        shorter warm-up also means a smaller surplus to work off.
    weight_clip
        Largest importance weight a label may carry (``p_mean / p``, see
        :meth:`weight`). Default 1.0, i.e. unweighted: with the Hoeffding tree,
        weights up to 10 cut the geometric-mean savings from 2.0x to 0.9x
        (heavy weights make the tree split on a handful of rare picks).
    evidence_clip
        The labels' weight in the default tree's leaves' choice between naive Bayes
        and the majority class (which of the two has been right more often): the
        importance weight ``p_mean / p`` of the label, ``p_mean`` the mean ``p`` of
        the labels learnt so far, clipped at ``evidence_clip``; ``None`` counts
        every label once (river's rule). The labels picked because the model was
        unsure are where naive Bayes is at its worst; counted once each, they made a
        leaf fall back to its majority class on streams where naive Bayes is far
        better (``river:Bananas``: 0.55 against 0.69 on three seeds of nine). Default
        3.0 (docs/efficiency-notes.md, "Session 12"). Learning itself stays weighted
        by ``weight_clip``.
    ramp, quantile_window, feedback_labels
        Selector: width of the probability ramp below the top ranks (default 3.0),
        memory of the running score distribution in events (default 300: the
        online model's scores move as it learns) and the error-feedback horizon in
        labels (default 200); see :class:`~streamsift.core.selection.Selector`.
    selector
        Name of the active arm's selection rule (see :data:`SELECTORS`). Default
        ``"rank"``.
    vu_step, vu_delta, vu_window
        Parameters of the ``variable-uncertainty`` rule (threshold step, its
        randomisation, the budget estimate's window in events; see
        :class:`~streamsift.core.selection.VariableUncertaintySelector`); ignored by
        ``rank``.
    warmup_boost
        Multiplier (>= 1) of the uniform sampling probability during the cold
        start (until the online model is warm), the surplus being worked off by
        the selector's error feedback afterwards. A label bought while the model
        is immature improves every later prediction, so front-loading the cold
        start pays on short streams (docs/efficiency-notes.md). Fraction mode
        only: in rate mode the capacity is the limit. Default 4.0: over the six
        reference streams at 5 % (five seeds) the geometric-mean savings rose from
        2.28x to 3.56x and the worst stream from 1.12x to 2.18x with the tree that
        resampled its labels (Poisson(1)); with the default tree since (no
        resampling) and the budget guard of the time, 2.08x / 0.84x against
        2.33x / 0.97x without the boost. With the guard's single account and
        ``p_floor=0.25`` (seeds 0-7): 3.81x / 2.17x, against 2.43x / 1.20x
        without the boost (which also turns off the boosted catch-up of the
        guard, see ``catch_up_labels``). The boost pauses while the surplus
        exceeds ``feedback_labels / 4``.
    catch_up_labels
        Budget guard: when the recorded selections fall this many labels behind
        the target, or run this many ahead of it (a score distribution that
        collapsed to a point or trends starves or floods rank-based selection),
        sample uniformly until the gap has closed (fraction mode only; behind, at
        the warm-up's boosted rate). The guard keeps one account with the
        selector's feedback: the warm-up's surplus counts as labels received, and
        "ahead" starts only beyond the surplus the feedback may repay. Default 25.
    drift_window, drift_window_seconds, drift_correction, ks_alpha, psi_warn, psi_alarm
        Drift windows and thresholds (see :class:`~streamsift.core.drift.DriftMonitor`).
    drift_boost, boost_decay_windows
        Sampling boost of drifted and new regions and its decay.
    max_regions
        Cap on distinct regions (producer keys beyond it become ``other``).
    diversity
        Strength of the diversity penalty in [0, 1) (0 disables it).
    concept_delta, relearn_labels
        The concept-change watch on the labels (see
        :class:`~streamsift.core.concept.ConceptWatch`; ``concept_delta=None`` turns
        it off): after a rise of the labels' errors beyond what the model's
        confidence forecast (a risk-adjusted CUSUM, alarm threshold
        ``log(1 / concept_delta)``), the default tree's leaves
        forget what they learnt (its branches stay) and the sampler samples
        uniformly, as in the cold start, for ``relearn_labels`` labels
        (``relearn_labels=0``: alarms only). A change of ``P(y | x)`` moves no
        feature, so the drift boost never sees it, and uncertainty sampling keeps
        asking about the old boundary. Defaults 0.0025 and 100
        (docs/efficiency-notes.md, "Session 9", "Session 11" and "Session 13").
    seed
        Seed of every random source inside.

    Examples
    --------
    >>> sampler = Sampler(fraction=0.1, min_labels=1000, drift_window=200, seed=3)
    >>> picked = 0
    >>> for i in range(600):
    ...     x = {"a": (i * 7919) % 100 / 100, "b": (i * 104729) % 100 / 100}
    ...     d = sampler.decide(CoreEvent(f"e{i}", x, float(i)))
    ...     if d.selected:
    ...         sampler.confirm(d, float(i))
    ...         sampler.label_arrived(float(i))
    ...         sampler.learn(LabelledItem(f"e{i}", x, x["a"] > x["b"], p=d.p, arm=d.arm))
    ...         picked += 1
    >>> picked, sampler.state.warm, sampler.state.selected_by_arm
    (111, False, {'active': 0, 'control': 3, 'bootstrap': 108})
    """

    #: Class defaults: samplers pickled before these options restore without them.
    selector: str = DEFAULT_SELECTOR
    warmup_boost: float = 1.0  # pickles from before the option: it was off
    concept_delta: float | None = None  # likewise the concept watch
    relearn_labels: int = 100
    evidence_clip: float | None = None  # likewise the leaves' weighted choice
    _learn_p_mean = 0.0
    _learn_p_n = 0

    def __init__(
        self,
        *,
        strategy: str = DEFAULT_STRATEGY,
        base_model: str = DEFAULT_BASE_MODEL,
        committee_size: int = 0,
        fraction: float | None = None,
        capacity_per_hour: float = 600.0,
        cost_per_label: float = 0.0,
        budget_per_day: float | None = None,
        control_share: float = 0.05,
        p_floor: float = 0.25,
        max_pending: int = 10_000,
        min_labels: int = 30,
        stability_window: int = 15,
        stability_tolerance: float = 0.1,
        weight_clip: float | None = 1.0,
        evidence_clip: float | None = 3.0,
        ramp: float = 3.0,
        quantile_window: int = 300,
        feedback_labels: float = 200.0,
        selector: str = DEFAULT_SELECTOR,
        vu_step: float = 0.01,
        vu_delta: float = 1.0,
        vu_window: float = 100.0,
        warmup_boost: float = 4.0,
        catch_up_labels: float = 25.0,
        drift_window: int = 2_000,
        drift_window_seconds: float = 600.0,
        drift_correction: Literal["bonferroni", "bh"] = "bh",
        ks_alpha: float = 0.01,
        psi_warn: float = 0.1,
        psi_alarm: float = 0.2,
        drift_boost: float = 3.0,
        boost_decay_windows: int = 5,
        max_regions: int = 16,
        diversity: float = 0.0,
        concept_delta: float | None = DEFAULT_DELTA,
        relearn_labels: int = 100,
        seed: int = 0,
    ) -> None:
        self.strategy = strategy
        self.base_model = base_model
        self.committee_size = committee_size
        self.fraction = fraction
        self.capacity_per_hour = capacity_per_hour
        self.cost_per_label = cost_per_label
        self.budget_per_day = budget_per_day
        self.control_share = control_share
        self.p_floor = p_floor
        self.max_pending = max_pending
        self.min_labels = min_labels
        self.stability_window = stability_window
        self.stability_tolerance = stability_tolerance
        self.weight_clip = weight_clip
        if evidence_clip is not None and (
            isinstance(evidence_clip, bool) or not 1.0 <= evidence_clip < math.inf
        ):
            raise ConfigurationError(
                f"evidence_clip must be None or a number >= 1, got {evidence_clip!r}"
            )
        self.evidence_clip = evidence_clip
        self.ramp = ramp
        self.quantile_window = quantile_window
        self.feedback_labels = feedback_labels
        if not isinstance(selector, str) or selector not in SELECTORS:
            valid = ", ".join(sorted(SELECTORS))
            raise ConfigurationError(f"selector: unknown rule {selector!r}; valid names: {valid}")
        self.selector = selector
        self.vu_step = vu_step
        self.vu_delta = vu_delta
        self.vu_window = vu_window
        if isinstance(warmup_boost, bool) or not warmup_boost >= 1.0:
            raise ConfigurationError(f"warmup_boost must be >= 1, got {warmup_boost!r}")
        self.warmup_boost = float(warmup_boost)
        if isinstance(catch_up_labels, bool) or not catch_up_labels > 0:
            raise ConfigurationError(f"catch_up_labels must be > 0, got {catch_up_labels!r}")
        self.catch_up_labels = float(catch_up_labels)
        self.drift_window = drift_window
        self.drift_window_seconds = drift_window_seconds
        self.drift_correction = drift_correction
        self.ks_alpha = ks_alpha
        self.psi_warn = psi_warn
        self.psi_alarm = psi_alarm
        self.drift_boost = drift_boost
        self.boost_decay_windows = boost_decay_windows
        self.max_regions = max_regions
        if not 0.0 <= diversity < 1.0:
            raise ConfigurationError(f"diversity must be in [0, 1), got {diversity!r}")
        self.diversity = diversity
        self.concept_delta = concept_delta
        self.relearn_labels = relearn_labels
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        self._strategy = make_strategy(self.strategy)
        primary = set(self._strategy.needs)
        fallback = set(getattr(self._strategy, "fallback", ())) - primary
        # Fallback sources stand in for the production model's probabilities: they
        # are computed only for events that carry none.
        self._needs_online = "online" in primary
        self._needs_committee = "committee" in primary
        self._fallback_online = "online" in fallback
        self._fallback_committee = "committee" in fallback
        if (
            self._needs_committee
            and "committee" in self._strategy.needs
            and self.committee_size < 2
        ):
            raise ConfigurationError(
                f"strategy {self.strategy!r} needs a committee: set committee_size >= 2"
            )
        self._model = OnlineModel(
            base_model=self.base_model,
            committee_size=self.committee_size,
            seed=self.seed,
            min_labels=self.min_labels,
            stability_window=self.stability_window,
            stability_tolerance=self.stability_tolerance,
            weight_clip=None,
            concept_delta=self.concept_delta,
            relearn_labels=self.relearn_labels,
        )
        self._assigner = RegionAssigner(max_regions=self.max_regions, seed=self.seed)
        self._monitor = DriftMonitor(
            window_size=self.drift_window,
            window_seconds=self.drift_window_seconds,
            min_events=min(100, self.drift_window),
            correction=self.drift_correction,
            ks_alpha=self.ks_alpha,
            psi_warn=self.psi_warn,
            psi_alarm=self.psi_alarm,
            boost_factor=self.drift_boost,
            decay_windows=self.boost_decay_windows,
        )
        common: dict[str, Any] = {
            "control_share": self.control_share,
            "p_floor": self.p_floor,
            "ramp": self.ramp,
            "quantile_window": self.quantile_window,
            "feedback_labels": self.feedback_labels,
            "warmup_boost": self.warmup_boost,
            "max_pending": self.max_pending,
            "seed": self.seed,
        }
        rule = SELECTORS[self.selector]
        if rule is VariableUncertaintySelector:
            common.update(vu_step=self.vu_step, vu_delta=self.vu_delta, vu_window=self.vu_window)
        if self.fraction is not None:
            self._selector = rule.for_fraction(self.fraction, **common)
        else:
            self._selector = rule(
                self.capacity_per_hour, self.cost_per_label, self.budget_per_day, **common
            )
        self._diversity = DiversityReservoir(strength=self.diversity) if self.diversity else None
        self._control = ControlArmEstimator()
        self._events = 0
        self._selector_now = 0.0
        self._p_mean = 0.0
        self._p_n = 0
        self._learn_p_mean = 0.0  # running mean p of the labels learnt
        self._learn_p_n = 0
        self._gap = 0.0
        self._catching_up = 0  # 1: behind the target, -1: ahead of it
        self._catch_ups = 0

    # ------------------------------------------------------------------ decide
    def decide(
        self, event: CoreEvent, now: float | None = None, *, online_proba: Proba | None = None
    ) -> Decision:
        """Decide whether ``event`` should be labelled; records nothing about the request.

        Parameters
        ----------
        event
            The event.
        now
            Current time in seconds (defaults to the event's timestamp).
        online_proba
            The online model's probabilities if the caller already computed them.
        """
        t = event.timestamp if now is None else now
        self._events += 1
        x = event.features
        region = self._assigner.assign(x, event.region)
        online = online_proba
        missing = not event.proba
        if online is None and (self._needs_online or (missing and self._fallback_online)):
            online = self._model.predict_proba_one(x)
        committee = (
            self._model.committee_probas(x)
            if self._needs_committee or (missing and self._fallback_committee)
            else None
        )
        score = self._strategy.score_one(ScoringInputs(event.proba, online, committee))
        predicted, drift_score = _drift_inputs(event.proba, online, score)
        drift = self._monitor.update(region, x, drift_score, predicted, event.timestamp)
        boost = self._monitor.boost(region)
        return self._finish(event, t, score, region, boost, drift)

    def _finish(
        self,
        event: CoreEvent,
        t: float,
        score: float,
        region: str,
        boost: float,
        drift: list[DriftResult],
    ) -> Decision:
        """The sequential rest of :meth:`decide` (and of each :meth:`decide_batch`
        event): cold start, budget guard, selector, the decision."""
        # Cold start for every strategy, production ones included: the first labels
        # must be a uniform sample, or the online model starts from one corner of
        # the feature space (measured: a production-margin run without it ended at
        # the majority rate on ImageSegments and SEA).
        # A concept change sends the sampler back to the cold start's uniform sampling
        # for a while: the model's uncertainty describes the old concept.
        cold = not self._model.is_warm or self._model.relearning
        # Warm-up boost, fraction mode only (in rate mode the token bucket holds the
        # capacity whatever the probability asks for).
        warmup = cold and self.warmup_boost > 1.0 and self.fraction is not None
        sel = self._select(event, t, score, boost, cold, warmup)
        if sel.reason == "throttled" or sel.reason == "backpressure":
            self._count_selection()  # a blocked draw: not a deficit of the rule
        return Decision(
            event_id=event.event_id,
            selected=sel.selected,
            arm=sel.arm,
            score=score,
            p=sel.p,
            region=region,
            reason=sel.reason,
            priority=sel.priority,
            model_version=self._model.version,
            strategy=self.strategy,
            timestamp=event.timestamp,
            drift=tuple(drift),
            at_floor=sel.at_floor,
        )

    def _select(
        self, event: CoreEvent, t: float, score: float, boost: float, cold: bool, warmup: bool
    ) -> Selection:
        # Budget guard: a score distribution that collapses or trends (a tree whose
        # leaves all predict alike, a model that just split, a production model
        # drifting towards or away from confidence) makes rank-based selection starve
        # or flood; when the recorded selections drift ``catch_up_labels`` away from
        # the target, sample uniformly until the gap has closed. Fraction mode only
        # (the simulator's equal-labels protocol): in rate mode the token bucket and
        # the measured rates hold capacity, and extra labels that quality control
        # confirms (redundancy, gold, second opinions) are not a calibration error.
        # One account with the selector's error feedback: the gap counts the warm-up's
        # surplus too, and "ahead" starts only beyond the surplus the selector may
        # repay (``surplus_allowance``), so its repayment is not taken for a deficit.
        # Behind, the catch-up samples at the warm-up's boosted rate: at the target
        # rate the gap only drifts around (with two accounts and no boost the guard
        # sampled uniformly for 55-95 % of the synthetic streams, docs/efficiency-notes.md).
        gap = self._gap + self._selector.nominal_fraction
        limit = self.catch_up_labels
        ahead = -limit - self._selector.surplus_allowance
        self._gap = gap = 2.0 * limit if gap > 2.0 * limit else gap
        side = self._catching_up
        if side:
            if gap <= 0.0 if side > 0 else gap >= ahead + limit:
                self._catching_up = 0
        elif not cold and self.fraction is not None and (gap > limit or gap < ahead):
            self._catching_up = 1 if gap > 0.0 else -1
            self._catch_ups += 1
        if self._catching_up > 0:
            warmup = self.warmup_boost > 1.0
        cold = cold or bool(self._catching_up)
        factor = boost
        if self._diversity is not None and not cold:
            factor *= self._diversity.factor(self._vector(event))
        self._selector_now = t
        sel = self._selector.decide(score, factor, t, cold=cold, warmup=warmup)
        return sel

    # ------------------------------------------------------------ decide batch
    def decide_batch(
        self, events: Sequence[CoreEvent], now: float | Sequence[float] | None = None
    ) -> list[Decision]:
        """:meth:`decide` of each event in order, the per-event independent work done
        for the whole batch at once.

        The decisions, and every state they leave behind (region assigner, drift
        windows, running quantile, token bucket, budget guard, random draws), are
        those of calling ``decide`` on each event in turn, provided the online model
        does not learn during the call (the scorer's model changes only between
        batches, when the learner's snapshot is swapped in). The online model's
        probabilities are computed together (see
        :meth:`~streamsift.core.online.OnlineModel.predict_proba_many`); the
        selection stays sequential.

        Parameters
        ----------
        events
            The events, in stream order.
        now
            Current time: one for every event, one per event, or ``None`` for each
            event's timestamp (as in :meth:`decide`).

        Raises
        ------
        Exception
            The first error an event's decision raised (after the whole batch was
            fed to the region assigner and drift monitor). :meth:`decisions` hands
            each error back in place of its decision instead.

        Examples
        --------
        >>> def stream():
        ...     for i in range(400):
        ...         x = {"a": (i * 7919) % 100 / 100, "b": (i * 104729) % 100 / 100}
        ...         yield CoreEvent(f"e{i}", x, float(i)), x["a"] > x["b"]
        >>> one, many = (Sampler(fraction=0.2, min_labels=20, seed=3) for _ in range(2))
        >>> batch = []
        >>> for event, y in stream():
        ...     if batch and len(batch) % 50 == 0:  # learn between batches, as the scorer
        ...         for sampler in (one, many):
        ...             for e, yy in batch:
        ...                 sampler.learn(LabelledItem(e.event_id, e.features, yy))
        ...         assert [one.decide(e) for e, _ in batch] == many.decide_batch(
        ...             [e for e, _ in batch])
        ...         batch = []
        ...     batch.append((event, y))
        >>> one.state == many.state, one.state.warm
        (True, True)
        """
        out: list[Decision] = []
        for d in self.decisions(events, now):
            if not isinstance(d, Decision):
                raise d
            out.append(d)
        return out

    def decisions(
        self, events: Sequence[CoreEvent], now: float | Sequence[float] | None = None
    ) -> Iterator[Decision | Exception]:
        """:meth:`decide_batch`, the selections made lazily: the batch's independent
        work (region assignment, the online model's probabilities, scores, drift
        windows) is done at the call; each event's selection when the iterator is
        advanced to it, so that whatever the caller does between two events (the
        scorer takes extra labels from the token bucket) comes between them as with
        :meth:`decide`. An event whose decision raised yields the exception instead
        of a decision, and the iterator goes on.
        """
        n = len(events)
        if now is None:
            times: Sequence[float] = [e.timestamp for e in events]
        elif isinstance(now, int | float):
            times = [now] * n
        else:
            times = now
            if len(times) != n:
                raise ConfigurationError(f"now: {len(times)} times for {n} events")
        self._events += n
        failed: list[Exception | None] = [None] * n
        assign = self._assigner.assign
        regions: list[str] = [""] * n
        for i, e in enumerate(events):
            try:
                regions[i] = assign(e.features, e.region)
            except Exception as exc:
                failed[i] = exc
        onlines: list[Proba | None] = [None] * n
        if self._needs_online or self._fallback_online:
            wanted = [
                i
                for i, e in enumerate(events)
                if failed[i] is None and (self._needs_online or not e.proba)
            ]
            model = self._model
            try:
                probas = model.predict_proba_many([events[i].features for i in wanted])
                for i, got in zip(wanted, probas, strict=True):
                    onlines[i] = got
            except Exception:  # one event's error: find it, one event at a time
                for i in wanted:
                    try:
                        onlines[i] = model.predict_proba_one(events[i].features)
                    except Exception as exc:
                        failed[i] = exc
        committee_always = self._needs_committee
        committee_fallback = self._fallback_committee
        committee_probas = self._model.committee_probas
        strategy: Any = self._strategy
        score_one = strategy.score_one
        single = (
            isinstance(strategy, _Single)
            and type(strategy).score_one is _Single.score_one
            and "score_one" not in strategy.__dict__
        )
        if single:  # _Single.score_one without its ScoringInputs, same arithmetic
            score_of, n_classes = strategy._score, strategy.n_classes
            production_first = strategy._production_first
        scores = [0.0] * n
        monitored: list[str | None] = [None] * n
        drift_scores = [0.0] * n
        predicted: list[Label | None] = [None] * n
        for i, e in enumerate(events):
            if failed[i] is not None:
                continue
            try:
                proba = e.proba
                online = onlines[i]
                if single and not committee_always:
                    source = (proba or online) if production_first else (online or proba)
                    score = score_of(source, n_classes) if source else 1.0
                else:
                    committee = (
                        committee_probas(e.features)
                        if committee_always or (not proba and committee_fallback)
                        else None
                    )
                    score = score_one(ScoringInputs(proba, online, committee))
                predicted[i], drift_scores[i] = _drift_inputs(proba, online, score)
            except Exception as exc:
                failed[i] = exc
                continue
            scores[i] = score
            monitored[i] = regions[i]
        updates = self._monitor.update_many(
            monitored,
            [e.features for e in events],
            drift_scores,
            predicted,
            [e.timestamp for e in events],
        )
        prepared: list[tuple[float, float, list[DriftResult]] | None] = [None] * n
        for i, update in enumerate(updates):
            if monitored[i] is None:
                continue
            if isinstance(update, Exception):
                failed[i] = update
            else:
                prepared[i] = (scores[i], update[1], update[0])
        return self._finishing(events, times, regions, prepared, failed)

    def _finishing(
        self,
        events: Sequence[CoreEvent],
        times: Sequence[float],
        regions: list[str],
        prepared: list[tuple[float, float, list[DriftResult]] | None],
        failed: list[Exception | None],
    ) -> Iterator[Decision | Exception]:
        finish = self._finish
        for i, e in enumerate(events):
            done = prepared[i]
            result: Decision | Exception
            if done is None:
                result = failed[i] or RuntimeError("no decision")
            else:
                try:
                    result = finish(e, times[i], done[0], regions[i], done[1], done[2])
                except Exception as exc:
                    result = exc
            yield result

    def _vector(self, event: CoreEvent) -> list[float]:
        if event.embedding is not None:
            return list(event.embedding)
        return [
            float(v)
            for _, v in sorted(event.features.items())
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]

    def set_capacity_share(self, share: float, now: float | None = None) -> None:
        """Take ``share`` (in (0, 1]) of the team's capacity, budget and pending limit.

        Several workers scoring one stream each set the share of their event rate in
        the total, so that their label requests add up to the configured capacity.
        """
        self._selector.set_capacity_share(share, self._selector_now if now is None else now)

    @property
    def capacity_share(self) -> float:
        """This sampler's share of the capacity (1.0 when it scores alone)."""
        return self._selector.capacity_share

    def confirm(self, decision: Decision, now: float) -> None:
        """Record a selection whose label request was sent (decide first, record later)."""
        self._record(decision, now, held=True)

    def _record(self, decision: Decision, now: float, *, held: bool) -> None:
        self._selector.record(
            Selection(True, decision.arm, decision.p, "selected", 0.0, 0.0, decision.priority),
            now,
            held=held,
        )
        self._p_n += 1
        self._count_selection()
        self._p_mean = _running_mean(self._p_mean, decision.p, self._p_n)

    def take_extra(self, decision: Decision, now: float) -> bool:
        """Take capacity for one extra label of a selected item (an extra opinion asked
        after the selection) before it is requested: if the selector has capacity
        (token bucket, money budget), record it like :meth:`confirm` and return ``True``;
        otherwise change nothing and return ``False`` (the caller must not request it)."""
        if not self._selector.has_capacity(now):
            return False
        self._record(decision, now, held=False)
        return True

    def _count_selection(self) -> None:
        gap = self._gap - 1.0
        low = -2.0 * self.catch_up_labels - self._selector.surplus_allowance
        self._gap = low if gap < low else gap

    def confirm_event(self, decision: Decision, event: CoreEvent, now: float) -> None:
        """:meth:`confirm`, also remembering the event for the diversity penalty."""
        self.confirm(decision, now)
        if self._diversity is not None:
            self._diversity.add(self._vector(event))

    def settle(self) -> None:
        """Every decision made so far was confirmed or dropped: release what
        :meth:`decide` held in advance for them (see
        :meth:`~streamsift.core.selection.Selector.settle`). The scorer calls it after
        each batch."""
        self._selector.settle()

    def label_arrived(self, now: float, n: int = 1) -> None:
        """``n`` requested labels arrived (pending falls; arrival rate is measured)."""
        self._selector.label_arrived(now, n)

    def expire(self, n: int = 1) -> None:
        """``n`` pending requests expired unlabelled."""
        self._selector.expire(n)

    # ------------------------------------------------------------------- learn
    def weight(self, p: float) -> float:
        """Importance weight of a label selected with probability ``p``.

        ``p_mean / p``: an item picked at the average probability weighs 1, a rarer
        pick proportionally more (1/p up to a constant), clipped at ``weight_clip``.
        """
        ref = self._p_mean if self._p_n else p
        w = ref / p if p > 0 else 1.0
        if self.weight_clip is not None:
            w = min(w, self.weight_clip)
        return max(w, 1.0 / (self.weight_clip or 1e9))

    def learn(self, item: LabelledItem, model: OnlineModel | None = None) -> None:
        """Train on one (aggregated) label, weighted by ``1/p``; update control estimates.

        ``model`` is the model to train, by default the one the sampler scores with.
        The stream service's learner trains its own copy (published as a snapshot
        only after the promotion gate); the control-arm estimates always judge the
        model the sampler scores with, the one whose accuracy the arm reports.
        """
        scoring = self._model
        if item.arm == "control":
            online = scoring.predict_one(item.features) if scoring.labels_seen else None
            prod = _argmax(item.production_proba)
            self._control.update(
                "control",
                production_correct=None if prod is None else prod == item.label,
                online_correct=None if online is None else online == item.label,
            )
        (scoring if model is None else model).learn_one(
            item.features,
            item.label,
            self.weight(item.p),
            evidence=self._evidence(item.p),
        )

    def _evidence(self, p: float) -> float:
        """The label's weight in the leaves' choice: ``p_mean / p`` over the labels
        learnt so far (this one included), clipped at ``evidence_clip``."""
        if not 0.0 < p <= 1.0:
            return 1.0
        self._learn_p_n += 1
        self._learn_p_mean = _running_mean(self._learn_p_mean, p, self._learn_p_n)
        clip = self.evidence_clip
        if clip is None:
            return 1.0
        w = self._learn_p_mean / p
        return clip if w > clip else w

    # ---------------------------------------------------------------- snapshot
    @property
    def model(self) -> OnlineModel:
        """The online model (and committee) the sampler scores with."""
        return self._model

    def swap_model(self, model: OnlineModel) -> None:
        """Score with ``model`` from now on (a verified snapshot from the learner)."""
        if not isinstance(model, OnlineModel):
            raise ConfigurationError(f"swap_model takes an OnlineModel, got {type(model)!r}")
        self._model = model

    @property
    def strategy_name(self) -> str:
        """The configured strategy name."""
        return self.strategy

    @property
    def drift_monitor(self) -> DriftMonitor:
        """The per-region drift monitor (read it, don't drive it)."""
        return self._monitor

    def flush_drift(self, now: float) -> list[DriftResult]:
        """Close time-expired windows of quiet regions (call from a timer)."""
        return self._monitor.flush(now)

    @property
    def state(self) -> SamplerState:
        """Read-only state for metrics."""
        sel = self._selector
        return SamplerState(
            events_seen=self._events,
            warm=self._model.is_warm,
            labels_seen=self._model.labels_seen,
            model_version=self._model.version,
            target_fraction=sel.target_fraction,
            target_label_rate=sel.target_label_rate,
            event_rate=sel.event_rate,
            threshold=sel.threshold,
            pending=sel.pending,
            spent_today=sel.spent_today,
            selected_by_arm=sel.selected_by_arm,
            boosts={r: self._monitor.boost(r) for r in self._monitor.regions},
            production_accuracy=self._control.production_accuracy,
            online_accuracy=self._control.online_accuracy,
            lift=self._control.lift,
            p_mean=self._p_mean,
        )

    def clone(self) -> Sampler:
        """A fresh, untrained Sampler with the same parameters."""
        return Sampler(**self._params())

    def _params(self) -> dict[str, Any]:
        import inspect

        names = list(inspect.signature(Sampler.__init__).parameters)[1:]
        return {n: getattr(self, n) for n in names}

    def __repr__(self) -> str:
        return (
            f"Sampler(strategy={self.strategy!r}, base_model={self.base_model!r}, "
            f"fraction={self.fraction!r}, seed={self.seed!r})"
        )
