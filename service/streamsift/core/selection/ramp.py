"""The selection-probability rule: p as a ramp on the rank of the boosted score.

With ``u`` the (randomised) rank of the boosted score among recent scores, uniform
on [0, 1), the active arm selects with probability::

    p(u) = 1                                   if u >= u_top
    p(u) = max(floor, 1 - slope * (u_top - u)) otherwise

The ramp below ``u_top`` is ``ramp`` times as wide (in rank) as the share above
it, and ``floor`` keeps every region sampled. :func:`calibrate_ramp` solves in
closed form for ``u_top`` and ``slope`` so that ``E[p(u)] = q`` exactly when ``u``
is uniform: the long-run selected share equals the target whatever the score
distribution is (ties and point masses included, thanks to the randomised rank).
"""

from __future__ import annotations

import math

__all__ = ["calibrate_ramp", "ramp_probability"]


def calibrate_ramp(q: float, floor: float, ramp: float) -> tuple[float, float]:
    """Return ``(u_top, slope)`` such that the mean of :func:`ramp_probability` is ``q``.

    Parameters
    ----------
    q
        Target mean selection probability, in (0, 1].
    floor
        Minimum probability, in [0, q]; ``floor >= q`` gives the uniform rule.
    ramp
        Width of the ramp below ``u_top``, as a multiple of ``1 - u_top`` (> 0).

    Examples
    --------
    >>> u_top, slope = calibrate_ramp(q=0.1, floor=0.0, ramp=1.0)
    >>> round(u_top, 6), round(slope, 6)
    (0.933333, 15.0)
    """
    if q >= 1.0:
        return 0.0, 0.0
    if floor >= q:
        return 2.0, math.inf  # no rank reaches u_top: p(u) = floor everywhere
    a = 1.0 - floor
    q0 = (q - floor) / (a * (1.0 + ramp / 2.0))
    if q0 * (1.0 + ramp) > 1.0:
        # The ramp reaches rank 0: solve a t^2 + B t - B = 0 for t = 1 - q0.
        b = 2.0 * ramp * (1.0 - q)
        t = (-b + math.sqrt(b * b + 4.0 * a * b)) / (2.0 * a)
        q0 = 1.0 - t
    return 1.0 - q0, a / (ramp * q0)


def ramp_probability(u: float, u_top: float, slope: float, floor: float) -> float:
    """Selection probability of rank ``u`` under the calibrated ramp.

    Examples
    --------
    >>> u_top, slope = calibrate_ramp(q=0.1, floor=0.01, ramp=1.0)
    >>> [round(ramp_probability(u, u_top, slope, 0.01), 4) for u in (0.99, 0.9, 0.5)]
    [1.0, 0.3565, 0.01]
    """
    d = u_top - u
    if d <= 0.0:
        return 1.0
    p = 1.0 - slope * d
    return p if p > floor else floor
