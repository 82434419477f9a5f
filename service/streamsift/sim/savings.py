"""Label savings against random sampling, defined exactly.

Random sampling is run at budgets 1, 2, 5, 10, 20 and 40 % (several seeds each);
its mean accuracy is interpolated linearly in ``log(budget)``; the smallest budget
at which random reaches the strategy's accuracy, divided by the fraction of events
the strategy had labelled, is the savings factor. When random never reaches it the
factor is capped at ``max(budgets) / fraction``; when random already beats it at
the smallest budget, the factor is ``min(budgets) / fraction`` (below 1 for any
strategy that used more than that).

Examples
--------
>>> curve = {0.01: 0.70, 0.02: 0.75, 0.05: 0.80, 0.10: 0.85, 0.20: 0.88, 0.40: 0.90}
>>> round(random_budget_for(0.85, curve), 4)
0.1
>>> round(savings_vs_random(0.85, 0.05, curve), 3)
2.0
>>> round(savings_vs_random(0.95, 0.05, curve), 3)   # capped
8.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["RANDOM_BUDGETS", "random_budget_for", "savings_vs_random"]

#: Budgets at which random sampling is measured.
RANDOM_BUDGETS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10, 0.20, 0.40)


def random_budget_for(accuracy: float, curve: Mapping[float, float]) -> float | None:
    """Smallest budget at which random sampling reaches ``accuracy``.

    Parameters
    ----------
    accuracy
        The accuracy to reach.
    curve
        Budget to mean accuracy of random sampling.

    Returns
    -------
    float or None
        The interpolated budget (linear in log budget); the smallest budget when it
        already reaches the accuracy; None when no budget does.
    """
    points = sorted(curve.items())
    if not points:
        raise ValueError("curve is empty")
    b0, a0 = points[0]
    if a0 >= accuracy:
        return b0
    for b1, a1 in points[1:]:
        if a1 >= accuracy:
            t = (accuracy - a0) / (a1 - a0)
            return math.exp(math.log(b0) + t * (math.log(b1) - math.log(b0)))
        b0, a0 = b1, a1
    return None


def savings_vs_random(
    accuracy: float, labelled_fraction: float, curve: Mapping[float, float]
) -> float:
    """Savings factor of a strategy against random sampling.

    Parameters
    ----------
    accuracy
        The strategy's prequential accuracy.
    labelled_fraction
        ``labels_used / events`` of the strategy (every label counted).
    curve
        Budget to mean accuracy of random sampling.
    """
    if labelled_fraction <= 0:
        raise ValueError("labelled_fraction must be positive")
    budget = random_budget_for(accuracy, curve)
    if budget is None:
        budget = max(curve)
    return budget / labelled_fraction
