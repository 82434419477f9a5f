"""The Selector: capacity, budget, control arm, adaptive threshold, bucket, backpressure.

Decide first, record later: :meth:`Selector.decide` only observes (event rate, score
distribution, the feedback expectation) and draws from the object's own RNG; the
selection is counted by :meth:`Selector.record`, which the caller invokes only
after the label request was really sent.

The rule, for each event with boosted score ``x = score * boost``:

1. ``f`` is the target fraction: ``min(max_fraction, target_label_rate /
   event_rate)`` (rate mode) or the fixed fraction (fraction mode), corrected by
   error feedback: ``f_eff = f * (1 + D / feedback_labels)`` where ``D`` (clamped to
   +-feedback_labels / 2, so ``f_eff`` stays within [f/2, 3f/2]) is the expected
   number of selections (``f`` per decided event) minus the recorded ones (draws
   blocked by the bucket, the money budget or backpressure count as recorded, so
   the feedback corrects calibration only). The deficit is worked off over about
   ``feedback_labels / f`` events.
2. The control arm takes ``c = f_eff * control_share`` of events uniformly; the
   other arm selects with ``p_a`` chosen so that ``c + (1 - c) E[p_a] = f_eff``,
   i.e. ``E[p_a] = q_a = (f_eff - c) / (1 - c)``.
3. Cold (``cold=True``): ``p_a = q_a`` (uniform, arm ``bootstrap``); during the
   model's warm-up (``warmup=True`` as well) ``p_a = min(1, warmup_boost * q_a)``,
   the surplus being repaid afterwards by the error feedback. Warm:
   ``p_a = ramp(u)`` with ``u`` the randomised rank of ``x`` among recent boosted
   scores and the ramp of :mod:`streamsift.core.selection.ramp` calibrated so that
   ``E[p_a] = q_a`` exactly, with a floor of ``p_floor * q_a`` (arm ``active``).
4. One uniform draw ``r``: ``r < c`` -> control; ``r < c + (1 - c) p_a`` -> active
   or bootstrap. The reported ``p = c + (1 - c) p_a`` is the total probability that
   this event is selected (by either arm): weighting every label by ``1 / p`` is the
   unbiased (Horvitz-Thompson) weighting. Control picks are a uniform sample, so
   control-arm estimates use them unweighted.
5. Gates on a drawn item: empty token bucket or exhausted daily money budget ->
   ``throttled``; ``pending >= max_pending`` -> ``backpressure`` unless control.
"""

from __future__ import annotations

import inspect
import math
import random
from typing import Any

from streamsift.core.selection._validate import check_float, check_int
from streamsift.core.selection.bucket import TokenBucket
from streamsift.core.selection.budget import LabelBudget, target_fraction
from streamsift.core.selection.quantile import DecayingHistogram
from streamsift.core.selection.ramp import calibrate_ramp
from streamsift.core.selection.rate import EwmaRate
from streamsift.core.selection.result import Selection, SelectionError
from streamsift.core.types import Arm, DecisionReason

__all__ = ["Selection", "SelectionError", "Selector"]


class Selector:
    """Turns a boosted uncertainty score into a yes/no under capacity and budget.

    See the module docstring for the rule. Rate mode (the constructor) derives the
    target fraction from labels per second over the measured event rate; fraction
    mode (:meth:`for_fraction`) fixes it and disables the token bucket.

    Parameters
    ----------
    capacity_per_hour
        Labels per hour the team can take (> 0).
    cost_per_label, budget_per_day
        Money per label (>= 0, default 0) and per UTC day (> 0 or ``None``).
    fraction
        Fixed target fraction in (0, 1] (fraction mode), or ``None`` (rate mode).
    control_share
        Share of the selections spent on the uniform control arm, in [0, 1). Default 0.05.
    p_floor
        Floor of the active arm's probability relative to its mean ``q_a``, in (0, 1].
        Default 0.01.
    ramp
        Width of the probability ramp below the ``p = 1`` region, as a multiple of that
        region's share (> 0). Default 1.0.
    max_fraction
        Cap on the target fraction, in (0, 1]. Default 1.0.
    score_max, quantile_bins, quantile_window
        Range, bins and memory (events) of the running distribution of boosted scores.
        Defaults 4.0, 256, 10,000.
    refresh_every, refresh_seconds
        The target fraction, calibration and threshold are recomputed every
        ``refresh_every`` events or ``refresh_seconds`` seconds. Defaults 128 and 1.0.
    bucket_burst
        Token bucket size; ``None`` means ``max(10, capacity_per_hour / 60)``. The
        bucket refills at the configured label rate (capacity and money).
    max_pending
        Pending requests at which only the control arm continues (>= 1). Default 10,000.
    rate_halflife_seconds
        Memory of the event-rate estimate. Default 60.
    arrival_headroom, arrival_floor, min_arrivals, arrival_halflife_seconds
        How measured label arrivals cap the target rate (see :class:`LabelBudget`).
    feedback_labels
        Error-feedback horizon in labels (>= 0; 0 disables it). Default 50.
    warmup_boost
        Multiplier (>= 1) of the uniform probability while the caller flags the
        model's warm-up (``decide(..., warmup=True)``): labels bought early improve
        every later prediction, and the feedback works the surplus off once the
        warm-up ends. The boost pauses while the surplus exceeds
        ``feedback_labels / 4`` (half of what the feedback can hold), so a long
        warm-up cannot buy labels that would never be repaid; without feedback
        there is no boost. Default 1.0 (off).
    seed
        Seed of the selector's ``random.Random``.

    Examples
    --------
    >>> selector = Selector.for_fraction(0.1, seed=1)
    >>> picked = 0
    >>> for i in range(2000):
    ...     s = selector.decide(score=(i * 37 % 100) / 100, boost=1.0, now=float(i), cold=False)
    ...     if s.selected:
    ...         selector.record(s, now=float(i))
    ...         picked += 1
    >>> picked, selector.selected_by_arm
    (199, {'active': 189, 'control': 10, 'bootstrap': 0})
    """

    #: Class default: selectors pickled before in-flight accounting restore with none.
    _in_flight: int = 0
    #: Class defaults: selectors pickled before the warm-up boost restore without it.
    warmup_boost: float = 1.0
    _qa_warmup: float = 0.0
    _warmup_limit: float = 0.0

    def __init__(
        self,
        capacity_per_hour: float,
        cost_per_label: float = 0.0,
        budget_per_day: float | None = None,
        *,
        fraction: float | None = None,
        control_share: float = 0.05,
        p_floor: float = 0.01,
        ramp: float = 1.0,
        max_fraction: float = 1.0,
        score_max: float = 4.0,
        quantile_bins: int = 256,
        quantile_window: int = 10_000,
        refresh_every: int = 128,
        refresh_seconds: float = 1.0,
        bucket_burst: float | None = None,
        max_pending: int = 10_000,
        rate_halflife_seconds: float = 60.0,
        arrival_headroom: float = 1.25,
        arrival_floor: float = 0.1,
        min_arrivals: int = 50,
        arrival_halflife_seconds: float = 900.0,
        feedback_labels: float = 50.0,
        warmup_boost: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.capacity_per_hour = capacity_per_hour
        self.cost_per_label = cost_per_label
        self.budget_per_day = budget_per_day
        self.fraction = (
            None
            if fraction is None
            else check_float("fraction", fraction, low=0.0, high=1.0, low_open=True)
        )
        self.control_share = check_float(
            "control_share", control_share, low=0.0, high=1.0, high_open=True
        )
        self.p_floor = check_float("p_floor", p_floor, low=0.0, high=1.0, low_open=True)
        self.ramp = check_float("ramp", ramp, low=0.0, low_open=True)
        self.max_fraction = check_float(
            "max_fraction", max_fraction, low=0.0, high=1.0, low_open=True
        )
        self.score_max = score_max
        self.quantile_bins = quantile_bins
        self.quantile_window = quantile_window
        self.refresh_every = check_int("refresh_every", refresh_every, minimum=1)
        self.refresh_seconds = check_float(
            "refresh_seconds", refresh_seconds, low=0.0, low_open=True
        )
        self.bucket_burst = (
            None if bucket_burst is None else check_float("bucket_burst", bucket_burst, low=1.0)
        )
        self.max_pending = check_int("max_pending", max_pending, minimum=1)
        self.rate_halflife_seconds = rate_halflife_seconds
        self.arrival_headroom = arrival_headroom
        self.arrival_floor = arrival_floor
        self.min_arrivals = min_arrivals
        self.arrival_halflife_seconds = arrival_halflife_seconds
        self.feedback_labels = check_float("feedback_labels", feedback_labels, low=0.0)
        self.warmup_boost = check_float("warmup_boost", warmup_boost, low=1.0)
        self.seed = check_int("seed", seed, minimum=-(2**63))
        self._reset()

    @classmethod
    def for_fraction(cls, fraction: float, **kwargs: Any) -> Selector:
        """A selector labelling a fixed ``fraction`` of events (control and bootstrap included)."""
        return cls(math.inf, fraction=fraction, **kwargs)

    def clone(self) -> Selector:
        """A fresh selector with the same parameters."""
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return type(self)(**{name: getattr(self, name) for name in names})

    def _reset(self) -> None:
        self._budget = LabelBudget(
            self.capacity_per_hour,
            self.cost_per_label,
            self.budget_per_day,
            self.arrival_headroom,
            self.arrival_floor,
            self.min_arrivals,
            self.arrival_halflife_seconds,
        )
        self._events = EwmaRate(self.rate_halflife_seconds)
        self._hist = DecayingHistogram(self.quantile_bins, self.score_max, self.quantile_window)
        rate = self._budget.configured_rate
        self._bucket: TokenBucket | None = None
        if self.fraction is None and math.isfinite(rate):
            burst = self.bucket_burst or max(10.0, self.capacity_per_hour / 60.0)
            # Starts with one second's refill, not a full burst: before the first event
            # rate is measured the target fraction is a guess, and a full bucket let a
            # fresh worker send a minute of capacity in its first seconds.
            self._bucket = TokenBucket(rate, min(burst, 1e12), initial=max(1.0, rate))
        self._money = self._budget.budget_per_day is not None and self.cost_per_label > 0.0
        self._rng = random.Random(self.seed)
        self._pending = 0
        self._in_flight = 0
        self._pending_limit = self.max_pending
        self._counts: dict[str, int] = {"active": 0, "control": 0, "bootstrap": 0}
        self._deficit = 0.0
        self._half = self.feedback_labels / 2.0
        self._warmup_limit = -self._half / 2.0
        self._since = 0
        self._last_refresh = -math.inf
        self._f = self._f_eff = self._c = self._qa = self._floor = self._u_top = self._slope = 0.0
        self._qa_warmup = 0.0
        self._threshold = 0.0
        self._target_rate = math.nan

    def _refresh(self, now: float) -> None:
        if self._since:
            self._events.update(now, float(self._since), spread=True)
        self._since = 0
        self._last_refresh = now
        hist = self._hist
        hist.refresh()
        if self.fraction is not None:
            f = min(self.fraction, self.max_fraction)
            self._target_rate = f * self._events.rate
        else:
            self._target_rate = self._budget.target_rate(now)
            f = target_fraction(self._target_rate, self._events.rate, self.max_fraction)
        self._f = f
        if self.feedback_labels > 0.0:
            f = min(f * (1.0 + self._deficit / self.feedback_labels), self.max_fraction)
        self._f_eff = f
        c = self._c = f * self.control_share
        qa = self._qa = (f - c) / (1.0 - c)
        self._qa_warmup = min(1.0, self.warmup_boost * qa) if self.feedback_labels else qa
        self._floor = self.p_floor * qa
        self._u_top, self._slope = calibrate_ramp(qa, self._floor, self.ramp)
        self._threshold = hist.quantile(1.0 - qa)

    def _add_deficit(self, amount: float) -> None:
        half = self._half
        self._deficit = min(max(self._deficit + amount, -half), half)

    def decide(
        self,
        score: float,
        boost: float = 1.0,
        now: float = 0.0,
        *,
        cold: bool,
        warmup: bool = False,
    ) -> Selection:
        """Decide on one event; only observations change (nothing is recorded).

        Parameters
        ----------
        score
            Uncertainty score, normally in [0, 1].
        boost
            Multiplier on the score (drift boost, diversity factor); default 1.
        now
            Event time in seconds (explicit, so the simulator controls time).
        cold
            ``True`` while the online model is not warm: uniform bootstrap sampling.
        warmup
            With ``cold``: the model is in its warm-up, sample ``warmup_boost`` times
            the uniform probability.
        """
        x = score * boost
        if not x >= 0.0:  # negative or NaN
            x = 0.0
        self._since += 1
        if self._since >= self.refresh_every or now - self._last_refresh >= self.refresh_seconds:
            self._refresh(now)
        hist = self._hist
        hist.update(x)
        rng = self._rng.random
        c = self._c
        if cold:
            pa = self._qa_warmup if warmup and self._deficit > self._warmup_limit else self._qa
        else:
            pa = self._active_probability(x, rng())
        p = c + (1.0 - c) * pa
        f = self._f
        r = rng()
        threshold = self._threshold
        arm: Arm
        reason: DecisionReason
        if r >= p:
            if self.feedback_labels:
                deficit = self._deficit + f
                self._deficit = deficit if deficit < self._half else self._half
            reason = "below_threshold" if not cold and x < threshold else "not_drawn"
            return Selection(False, "none", p, reason, threshold, self._f_eff, x)
        arm = "control" if r < c else ("bootstrap" if cold else "active")
        blocked = True
        if (self._bucket is not None and not self._bucket.allows(now, 1.0 + self._in_flight)) or (
            self._money and not self._budget.can_afford(now)
        ):
            reason = "throttled"
        elif arm != "control" and self._pending >= self._pending_limit:
            reason = "backpressure"
        else:
            blocked = False
            reason = "selected"
        if self.feedback_labels:
            self._add_deficit(f - 1.0 if blocked else f)
        if blocked:
            return Selection(False, "none", p, reason, threshold, self._f_eff, x)
        self._in_flight += 1
        at_floor = arm == "active" and pa <= self._floor
        return Selection(True, arm, p, reason, threshold, self._f_eff, x, at_floor)

    def _active_probability(self, x: float, u: float) -> float:
        """The active arm's probability ``p_a`` for a warm event of boosted score ``x``.

        ``u`` is a uniform draw in [0, 1) (here: the randomisation of the rank). The
        ramp on the randomised rank of ``x``, floored at ``p_floor * q_a``; subclasses
        replace the rule and keep everything else (control arm, gates, feedback).
        """
        d = self._u_top - self._hist.rank(x, u)
        if d <= 0.0:
            return 1.0
        pa = 1.0 - self._slope * d
        return pa if pa > self._floor else self._floor

    def set_capacity_share(self, share: float, now: float) -> None:
        """Use ``share`` (in (0, 1]) of the capacity, money budget and pending limit.

        Workers that score one stream together each take the share of their event
        rate in the total, so that their label requests add up to the capacity.
        """
        self._budget.set_share(share)
        self._pending_limit = max(1, round(self.max_pending * share))
        if self._bucket is not None:
            burst = self.bucket_burst or max(10.0, self.capacity_per_hour / 60.0)
            self._bucket.rescale(
                now, self._budget.configured_rate, max(1.0, min(burst * share, 1e12))
            )
        self._last_refresh = -math.inf  # recompute the target fraction at the next event

    @property
    def capacity_share(self) -> float:
        """The share of the capacity this selector takes (1.0 alone)."""
        return self._budget.share

    def record(self, selection: Selection, now: float, *, held: bool = True) -> None:
        """Count a selection whose label request was sent at ``now``.

        ``held``: the selection came from :meth:`decide`, which held a token for it
        (``False`` for extra labels checked with :meth:`has_capacity`)."""
        if not selection.selected or selection.arm == "none":
            raise SelectionError("record() takes a selected Selection")
        if self._bucket is not None:
            self._bucket.consume(now)
        if held and self._in_flight:
            self._in_flight -= 1
        self._budget.charge(now)
        self._pending += 1
        self._counts[selection.arm] += 1
        if self.feedback_labels:
            self._add_deficit(-1.0)

    def has_capacity(self, now: float, n: int = 1) -> bool:
        """Whether ``n`` more labels fit now: the token bucket holds ``n`` tokens and the
        money budget affords them (read-only; always ``True`` in fraction mode without a
        money budget). For labels requested outside :meth:`decide` (quality control's
        extra opinions): check first, send, then :meth:`record`."""
        if self._bucket is not None and not self._bucket.allows(now, float(n + self._in_flight)):
            return False
        return not self._money or self._budget.can_afford(now)

    def settle(self) -> None:
        """Every selection decided so far was either recorded or dropped.

        Between :meth:`decide` and :meth:`record` a selection is *in flight*: it holds
        a token of the bucket, so that a batch decided before any of it is sent cannot
        select more than the bucket holds (without it a fresh worker's first batch
        spent the whole burst, and extra opinions checked against tokens the batch
        was about to take). Callers that drop a selection without recording it (a
        duplicate, a failed send) call ``settle`` once the batch is done; a selection
        recorded later than that is still counted, only no longer held in advance.
        """
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Selections decided but neither recorded nor settled."""
        return self._in_flight

    def label_arrived(self, now: float, n: int = 1) -> None:
        """``n`` requested labels came back at ``now``: fewer pending, arrival rate measured."""
        self._pending = max(0, self._pending - n)
        self._budget.label_arrived(now, n)

    def expire(self, n: int = 1) -> None:
        """``n`` pending requests expired unlabelled."""
        self._pending = max(0, self._pending - n)

    @property
    def target_fraction(self) -> float:
        """Share of events currently aimed at (after error feedback)."""
        return self._f_eff

    @property
    def nominal_fraction(self) -> float:
        """Target fraction before error feedback (capacity and budget over event rate)."""
        return self._f

    @property
    def surplus_allowance(self) -> float:
        """Labels the warm-up boost may buy ahead of the target (``feedback_labels / 4``
        with a boost, else 0): the error feedback repays them afterwards."""
        return -self._warmup_limit if self.warmup_boost > 1.0 else 0.0

    @property
    def target_label_rate(self) -> float:
        """Target labels per second (fraction mode: fraction times the event rate)."""
        return self._target_rate

    @property
    def event_rate(self) -> float:
        """Estimated events per second."""
        return self._events.rate

    @property
    def threshold(self) -> float:
        """Current adaptive threshold on the boosted score."""
        return self._threshold

    @property
    def pending(self) -> int:
        """Requests sent and not yet labelled or expired."""
        return self._pending

    @property
    def spent_today(self) -> float:
        """Money spent in the current UTC day."""
        return self._budget.spent_today

    @property
    def labels_today(self) -> int:
        """Labels requested in the current UTC day."""
        return self._budget.labels_today

    @property
    def selected_by_arm(self) -> dict[str, int]:
        """Recorded selections per arm (a copy)."""
        return dict(self._counts)

    @property
    def label_arrival_rate(self) -> float:
        """Measured label arrivals per second."""
        return self._budget.arrival_rate

    def __repr__(self) -> str:
        mode = (
            f"fraction={self.fraction!r}"
            if self.fraction is not None
            else (f"capacity_per_hour={self.capacity_per_hour!r}")
        )
        return f"Selector({mode}, control_share={self.control_share!r}, seed={self.seed!r})"
