"""Labels and money per month to reach a target accuracy, random sampling against streamsift.

Both curves come from the simulator on the same stream: random sampling's accuracy
at each budget (several seeds), and the Sampler's accuracy at each budget (several
seeds, placed at the fraction it really labelled). The budget needed for a target
accuracy is read off each curve with the interpolation of
:func:`~streamsift.sim.savings.random_budget_for` (linear in log budget); times the
monthly event volume it gives labels per month, times the cost per label money per
month. The uncertainty is the spread over seeds: the budget read off the
per-seed worst and best curves.

Examples
--------
>>> random_curve = {0.01: 0.70, 0.05: 0.80, 0.20: 0.88}
>>> ours = {0.01: 0.78, 0.05: 0.86, 0.20: 0.90}
>>> e = estimate(0.85, random_curve, ours, events_per_month=1_000_000, cost_per_label=0.5)
>>> round(e.random_budget, 4), round(e.streamsift_budget, 4)
(0.1189, 0.0409)
>>> round(e.random_cost), round(e.streamsift_cost), round(e.saved_cost)
(59460, 20444, 39016)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streamsift.sim.savings import random_budget_for

__all__ = ["CostEstimate", "budget_range", "estimate"]


@dataclass(frozen=True)
class CostEstimate:
    """Budgets, labels and money per month for a target accuracy (None: not reached)."""

    target_accuracy: float
    events_per_month: float
    cost_per_label: float
    random_budget: float | None
    streamsift_budget: float | None

    def _labels(self, budget: float | None) -> float | None:
        return None if budget is None else budget * self.events_per_month

    @property
    def random_labels(self) -> float | None:
        """Labels per month with random sampling."""
        return self._labels(self.random_budget)

    @property
    def streamsift_labels(self) -> float | None:
        """Labels per month with streamsift."""
        return self._labels(self.streamsift_budget)

    @property
    def random_cost(self) -> float | None:
        """Money per month with random sampling."""
        n = self.random_labels
        return None if n is None else n * self.cost_per_label

    @property
    def streamsift_cost(self) -> float | None:
        """Money per month with streamsift."""
        n = self.streamsift_labels
        return None if n is None else n * self.cost_per_label

    @property
    def saved_cost(self) -> float | None:
        """Money saved per month (negative: streamsift costs more)."""
        a, b = self.random_cost, self.streamsift_cost
        return None if a is None or b is None else a - b


def estimate(
    target_accuracy: float,
    random_curve: Mapping[float, float],
    streamsift_curve: Mapping[float, float],
    *,
    events_per_month: float,
    cost_per_label: float,
) -> CostEstimate:
    """The budgets both curves need for ``target_accuracy``, as a :class:`CostEstimate`."""
    return CostEstimate(
        target_accuracy,
        events_per_month,
        cost_per_label,
        random_budget_for(target_accuracy, random_curve),
        random_budget_for(target_accuracy, streamsift_curve),
    )


def budget_range(
    target_accuracy: float, curves: Sequence[Mapping[float, float]]
) -> tuple[float | None, float | None]:
    """(lowest, highest) budget needed over per-seed curves (None where one never reaches it).

    >>> low, high = budget_range(0.8, [{0.01: 0.7, 0.1: 0.9}, {0.01: 0.6, 0.1: 0.8}])
    >>> round(low, 4), round(high, 4)
    (0.0316, 0.1)
    """
    needed = [random_budget_for(target_accuracy, c) for c in curves]
    reached = [b for b in needed if b is not None]
    if not reached:
        return None, None
    high = None if len(reached) < len(needed) else max(reached)
    return min(reached), high
