"""The selector's verdict on one event, and the error for out-of-protocol use."""

from __future__ import annotations

from typing import NamedTuple

from streamsift.core.types import Arm, DecisionReason
from streamsift.errors import StreamsiftError

__all__ = ["Selection", "SelectionError"]


class SelectionError(StreamsiftError, ValueError):
    """The selector was used out of protocol (e.g. recording an unselected item)."""


class Selection(NamedTuple):
    """The selector's verdict on one event (immutable; a named tuple for speed).

    Parameters
    ----------
    selected
        Whether a label request should be sent.
    arm
        ``active``, ``control``, ``bootstrap``, or ``none`` when not selected.
    p
        Total probability that this event is selected (by any arm), defined for
        unselected events too; ``1 / p`` is the unbiased importance weight.
    reason
        ``selected``, ``below_threshold``, ``not_drawn``, ``throttled`` or ``backpressure``.
    threshold
        Boosted score at the ``1 - q_a`` quantile of recent boosted scores.
    target_fraction
        Share of events the selector aimed at (``f_eff``).
    priority
        The boosted score ``score * boost`` (order of interest for labelling tools).
    at_floor
        An ``active`` selection whose probability was the floor's: drawn without
        regard to its rank among the scores, like the uniform arms (the flag
        travels with the label, for analyses that need the labels drawn
        regardless of their score).

    Examples
    --------
    >>> s = Selection(True, "control", 0.05, "selected", 0.8, 0.05, 0.3)
    >>> s.arm, 1 / s.p, s.at_floor
    ('control', 20.0, False)
    """

    selected: bool
    arm: Arm
    p: float
    reason: DecisionReason
    threshold: float
    target_fraction: float
    priority: float
    at_floor: bool = False
