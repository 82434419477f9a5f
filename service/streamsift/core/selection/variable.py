"""Variable-uncertainty selection (Žliobaitė et al. 2014) under the Selector's contracts.

Žliobaitė, Bifet, Pfahringer and Holmes, *Active learning with drifting streaming
data* (IEEE TNNLS 25(1), 2014), query an event when the model's confidence ``c``
is below an adaptive threshold ``theta``: after a query ``theta <- theta (1 - s)``,
after an event that was not queried ``theta <- theta (1 + s)`` (``s = 0.01``), so
the threshold follows the model as it grows confident or uncertain, wherever its
scores sit. A budget manager holds the spending: an estimate ``u`` of the labels
of the last ``w`` events (``u <- u (1 - 1/w) + labelled``) closes the rule while
``u / w`` reaches the budget, and the threshold is frozen meanwhile. Their
randomised variant compares ``c`` with ``theta * eta``, ``eta ~ N(1, delta)``
(``delta = 1``), which keeps asking about confident events now and then, so that
a change far from the boundary is still seen.

Here the confidence is ``1 - x`` for the boosted score ``x`` (clipped to [0, 1]),
and the randomised rule is turned into the probability it queries with,
``P(c < theta * eta) = Phi((1 - c / theta) / delta)``, which is what travels with
the decision (``delta = 0``: the deterministic rule, ``p`` is 0 or 1). The rest is
the :class:`~streamsift.core.selection.Selector`'s: the uniform control arm, the
cold-start bootstrap, ``p_floor`` (``p_a`` never below ``p_floor * q_a``, the
budget gate included, so no region starves), the error feedback on the target
fraction, the token bucket, the money budget and backpressure. The budget gate
compares ``u / w`` with the target fraction after feedback, and ``u`` counts every
recorded selection (control and extra labels too).

Examples
--------
>>> selector = VariableUncertaintySelector.for_fraction(0.1, seed=1)
>>> picked = 0
>>> for i in range(2000):
...     s = selector.decide(score=(i * 37 % 100) / 100, boost=1.0, now=float(i), cold=False)
...     if s.selected:
...         selector.record(s, now=float(i))
...         picked += 1
>>> picked, selector.selected_by_arm, round(selector.theta, 4)
(203, {'active': 193, 'control': 10, 'bootstrap': 0}, 0.5508)
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from streamsift.core.selection._validate import check_float
from streamsift.core.selection.result import Selection
from streamsift.core.selection.selector import Selector

__all__ = ["VariableUncertaintySelector", "variable_uncertainty_probability"]

_SQRT2 = math.sqrt(2.0)
#: Bounds of the threshold on the confidence: it is frozen while the budget gate is
#: closed, but a long open stretch of certain events must not push it to infinity.
THETA_MIN = 1e-4
THETA_MAX = 2.0


def variable_uncertainty_probability(confidence: float, theta: float, delta: float) -> float:
    """Probability that the randomised rule queries: ``P(confidence < theta * eta)``.

    ``eta ~ N(1, delta)``; ``delta = 0`` gives the deterministic rule (1 if
    ``confidence < theta`` else 0).

    Examples
    --------
    >>> variable_uncertainty_probability(0.5, 0.5, 1.0)
    0.5
    >>> round(variable_uncertainty_probability(0.9, 0.3, 1.0), 6)
    0.02275
    >>> [variable_uncertainty_probability(c, 0.3, 0.0) for c in (0.2, 0.3)]
    [1.0, 0.0]
    """
    if delta <= 0.0:
        return 1.0 if confidence < theta else 0.0
    z = (1.0 - confidence / theta) / delta
    return 0.5 * (1.0 + math.erf(z / _SQRT2))


class VariableUncertaintySelector(Selector):
    """A :class:`Selector` whose active arm is Žliobaitė's variable-uncertainty rule.

    Parameters
    ----------
    vu_step
        Relative change ``s`` of the threshold per event, in (0, 1). Default 0.01
        (the paper's and scikit-activeml's).
    vu_delta
        Standard deviation ``delta`` of the threshold's randomisation (>= 0; 0: the
        deterministic rule). Default 1.0 (the paper's).
    vu_window
        Window ``w`` of the budget estimate in events (>= 1). Default 100
        (scikit-activeml's).
    vu_theta
        Initial threshold on the confidence, in (0, 2]. Default 1.0.
    **kwargs
        The :class:`Selector`'s parameters (``ramp`` and ``quantile_window`` only
        shape the reported threshold's histogram here).
    """

    def __init__(
        self,
        capacity_per_hour: float,
        cost_per_label: float = 0.0,
        budget_per_day: float | None = None,
        *,
        vu_step: float = 0.01,
        vu_delta: float = 1.0,
        vu_window: float = 100.0,
        vu_theta: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.vu_step = check_float(
            "vu_step", vu_step, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.vu_delta = check_float("vu_delta", vu_delta, low=0.0)
        self.vu_window = check_float("vu_window", vu_window, low=1.0)
        self.vu_theta = check_float("vu_theta", vu_theta, low=THETA_MIN, high=THETA_MAX)
        super().__init__(capacity_per_hour, cost_per_label, budget_per_day, **kwargs)

    def clone(self) -> VariableUncertaintySelector:
        """A fresh selector with the same parameters."""
        names = list(inspect.signature(Selector.__init__).parameters)[1:]
        kw = {name: getattr(self, name) for name in names}
        vu = ("vu_step", "vu_delta", "vu_window", "vu_theta")
        return type(self)(**kw, **{name: getattr(self, name) for name in vu})

    def _reset(self) -> None:
        super()._reset()
        self._theta = self.vu_theta
        self._used = 0.0  # u: recorded selections, discounted by (1 - 1/w) per event
        self._keep = 1.0 - 1.0 / self.vu_window
        self._open = False

    def _active_probability(self, x: float, u: float) -> float:
        del u  # the rule needs no rank
        floor = self._floor
        self._open = is_open = self._used < self.vu_window * self._f_eff
        if not is_open:
            return floor
        theta = self._theta
        self._threshold = 1.0 - theta if theta < 1.0 else 0.0
        pa = variable_uncertainty_probability(1.0 - x if x < 1.0 else 0.0, theta, self.vu_delta)
        return pa if pa > floor else floor

    def decide(
        self,
        score: float,
        boost: float = 1.0,
        now: float = 0.0,
        *,
        cold: bool,
        warmup: bool = False,
    ) -> Selection:
        """:meth:`Selector.decide`, then the threshold moves if the budget gate was open.

        Down by ``vu_step`` after an active selection, up after an event not drawn;
        unchanged after a control pick or a draw blocked by capacity.
        """
        self._used *= self._keep
        self._open = False
        sel = super().decide(score, boost, now, cold=cold, warmup=warmup)
        if self._open:
            if sel.selected:
                if sel.arm == "active":
                    theta = self._theta * (1.0 - self.vu_step)
                    self._theta = theta if theta > THETA_MIN else THETA_MIN
            elif sel.reason == "below_threshold" or sel.reason == "not_drawn":
                theta = self._theta * (1.0 + self.vu_step)
                self._theta = theta if theta < THETA_MAX else THETA_MAX
        return sel

    def _refresh(self, now: float) -> None:
        super()._refresh(now)
        self._threshold = max(0.0, 1.0 - self._theta)

    def record(self, selection: Selection, now: float, *, held: bool = True) -> None:
        """:meth:`Selector.record`, also counted in the budget estimate."""
        super().record(selection, now, held=held)
        self._used += 1.0

    @property
    def theta(self) -> float:
        """The current threshold on the confidence (``1 - score``)."""
        return self._theta

    @property
    def threshold(self) -> float:
        """The score above which the deterministic rule would query: ``1 - theta``."""
        return max(0.0, 1.0 - self._theta)

    @property
    def budget_used(self) -> float:
        """The budget estimate ``u / w``: labels per event over the last ``w`` events."""
        return self._used / self.vu_window
