"""Target label rate from labelling capacity, money budget and measured arrivals."""

from __future__ import annotations

import math

from streamsift.core.selection._validate import check_float, check_int
from streamsift.core.selection.rate import EwmaRate

__all__ = ["SECONDS_PER_DAY", "LabelBudget", "target_fraction"]

#: Length of the money-budget window: budgets are per UTC day (``floor(now / 86400)``).
SECONDS_PER_DAY = 86_400.0


def target_fraction(label_rate: float, event_rate: float, max_fraction: float = 1.0) -> float:
    """Fraction of events to select so that ``event_rate * f == label_rate``, capped.

    Examples
    --------
    >>> target_fraction(label_rate=1.0, event_rate=100.0)
    0.01
    >>> target_fraction(label_rate=5.0, event_rate=2.0, max_fraction=0.5)
    0.5
    """
    if event_rate <= 0.0:
        return max_fraction
    return min(max_fraction, label_rate / event_rate)


class LabelBudget:
    """Labels per second the team can take and the money allows; spend per day.

    The configured rate is ``min(capacity_per_hour / 3600, budget_per_day /
    cost_per_label / 86400)`` (the money term only when both are set and the cost is
    positive). Once ``min_arrivals`` labels have come back, the measured label
    arrival rate also caps it: ``target = min(configured, max(arrival_rate *
    arrival_headroom, configured * arrival_floor))``. The headroom lets the request
    rate climb back when the team speeds up (requests can only grow by that factor
    per arrival half-life); the floor keeps requests flowing when the team pauses,
    so that the rate can be measured again. Spend is counted per UTC day, and
    :meth:`can_afford` is a hard stop at ``budget_per_day``.

    Parameters
    ----------
    capacity_per_hour
        Labels per hour the labelling team can handle (> 0, may be ``inf``).
    cost_per_label
        Money per label (>= 0). Default 0 (no money constraint).
    budget_per_day
        Money per UTC day (> 0), or ``None`` for no money constraint.
    arrival_headroom
        Multiplier (>= 1) on the measured arrival rate. Default 1.25.
    arrival_floor
        Share (in (0, 1]) of the configured rate below which the measured arrival
        rate never pushes the target. Default 0.1.
    min_arrivals
        Arrivals needed before the measured rate is trusted. Default 50.
    arrival_halflife_seconds
        Memory of the arrival-rate estimate. Default 900 (15 minutes).

    Examples
    --------
    >>> budget = LabelBudget(capacity_per_hour=3600.0, cost_per_label=2.0, budget_per_day=86400.0)
    >>> budget.configured_rate
    0.5
    >>> budget.charge(now=10.0); budget.spent_today, budget.labels_today
    (2.0, 1)
    """

    def __init__(
        self,
        capacity_per_hour: float,
        cost_per_label: float = 0.0,
        budget_per_day: float | None = None,
        arrival_headroom: float = 1.25,
        arrival_floor: float = 0.1,
        min_arrivals: int = 50,
        arrival_halflife_seconds: float = 900.0,
    ) -> None:
        self.capacity_per_hour = check_float(
            "capacity_per_hour", capacity_per_hour, low=0.0, low_open=True, allow_inf=True
        )
        self.cost_per_label = check_float("cost_per_label", cost_per_label, low=0.0)
        self.budget_per_day = (
            None
            if budget_per_day is None
            else check_float("budget_per_day", budget_per_day, low=0.0, low_open=True)
        )
        self.arrival_headroom = check_float("arrival_headroom", arrival_headroom, low=1.0)
        self.arrival_floor = check_float(
            "arrival_floor", arrival_floor, low=0.0, high=1.0, low_open=True
        )
        self.min_arrivals = check_int("min_arrivals", min_arrivals, minimum=0)
        self.arrival_halflife_seconds = check_float(
            "arrival_halflife_seconds", arrival_halflife_seconds, low=0.0, low_open=True
        )
        self._reset()

    def _reset(self) -> None:
        rate = self.capacity_per_hour / 3600.0
        if self.budget_per_day is not None and self.cost_per_label > 0.0:
            rate = min(rate, self.budget_per_day / self.cost_per_label / SECONDS_PER_DAY)
        self._base_rate = rate
        self._share = 1.0
        self._configured = rate
        self._arrivals = EwmaRate(self.arrival_halflife_seconds)
        self._day = -1
        self._spent = 0.0
        self._labels = 0

    def set_share(self, share: float) -> None:
        """Take ``share`` (in (0, 1]) of the capacity and money budget.

        Several workers scoring one stream split the team's capacity; each sets its
        share (its event rate over the total) so that the sum stays within capacity.
        """
        self._share = check_float("share", share, low=0.0, high=1.0, low_open=True)
        self._configured = self._base_rate * self._share

    @property
    def share(self) -> float:
        """This worker's share of the capacity and budget."""
        return self._share

    @property
    def configured_rate(self) -> float:
        """Labels per second allowed by capacity and money (configuration only)."""
        return self._configured

    def target_rate(self, now: float) -> float:
        """Target labels per second at ``now`` (configured, capped by measured arrivals)."""
        rate = self._configured
        if self._arrivals.total >= self.min_arrivals and self._arrivals.total > 0:
            measured = self._arrivals.rate_at(now) * self.arrival_headroom
            rate = min(rate, max(measured, rate * self.arrival_floor))
        return rate

    def label_arrived(self, now: float, n: int = 1) -> None:
        """Record ``n`` labels arriving at ``now``."""
        self._arrivals.update(now, float(n))

    @property
    def arrival_rate(self) -> float:
        """Measured label arrivals per second (as of the last arrival)."""
        return self._arrivals.rate

    def _roll(self, now: float) -> None:
        day = math.floor(now / SECONDS_PER_DAY)
        if day > self._day:
            self._day, self._spent, self._labels = day, 0.0, 0

    def can_afford(self, now: float) -> bool:
        """Whether one more label fits in the money budget of ``now``'s day (read-only)."""
        if self.budget_per_day is None or self.cost_per_label <= 0.0:
            return True
        spent = self._spent if math.floor(now / SECONDS_PER_DAY) <= self._day else 0.0
        return spent + self.cost_per_label <= self.budget_per_day * self._share * (1.0 + 1e-12)

    def charge(self, now: float, n: int = 1) -> None:
        """Count ``n`` labels requested at ``now`` against the day's budget."""
        self._roll(now)
        self._spent += n * self.cost_per_label
        self._labels += n

    @property
    def spent_today(self) -> float:
        """Money spent in the current day window (as of the last charge)."""
        return self._spent

    @property
    def labels_today(self) -> int:
        """Labels requested in the current day window (as of the last charge)."""
        return self._labels

    def __repr__(self) -> str:
        return (
            f"LabelBudget(capacity_per_hour={self.capacity_per_hour!r}, "
            f"cost_per_label={self.cost_per_label!r}, budget_per_day={self.budget_per_day!r})"
        )
