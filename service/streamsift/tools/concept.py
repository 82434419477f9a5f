"""The ground-truth concept of the synthetic stream: features in, true class out.

The synthetic events of :mod:`streamsift.tools.synthetic` describe payments. The
true class is a fixed, deterministic and deliberately nonlinear function of the
features alone (saturating amount effect, squared low device trust amplified on the
partner channel, night-time activity of new accounts, free-plan heavy users), so a
simulated labeller can recompute it from the features carried by a
:class:`~streamsift.schemas.LabelRequest`, and an online tree model keeps improving
as labels arrive while the production model (linear in the features) plateaus.

Examples
--------
>>> x = {"amount": 35.5, "tenure_months": 40, "sessions_7d": 4, "device_trust": 0.9,
...      "hour": 14, "plan": "pro", "channel": "web"}
>>> round(latent_risk(x), 4), true_label(x)
(-1.2741, 'legit')
>>> true_label({**x, "device_trust": 0.4, "channel": "partner"})
'review'
>>> true_label({**x, "amount": 2500.0, "device_trust": 0.3, "channel": "partner"})
'fraud'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from streamsift.core.types import FeatureValue

__all__ = [
    "CLASSES",
    "CONCEPT_FEATURES",
    "FRAUD_THRESHOLD",
    "REVIEW_THRESHOLD",
    "latent_risk",
    "true_label",
]

#: The classes, from least to most risky.
CLASSES: Final = ("legit", "review", "fraud")
#: Features the concept reads; a labeller must see all of them.
CONCEPT_FEATURES: Final = (
    "amount",
    "tenure_months",
    "sessions_7d",
    "device_trust",
    "hour",
    "plan",
    "channel",
)
#: Latent risk at or above which an event is ``review`` (about the 65th percentile).
REVIEW_THRESHOLD: Final = -0.26
#: Latent risk at or above which an event is ``fraud`` (about the 90th percentile).
FRAUD_THRESHOLD: Final = 0.74


def _num(features: Mapping[str, FeatureValue], name: str) -> float:
    value = features.get(name)
    if value is None or isinstance(value, str):
        raise KeyError(f"feature {name!r} is missing or not numeric")
    return float(value)


def latent_risk(features: Mapping[str, FeatureValue]) -> float:
    """The latent risk of an event: a fixed nonlinear function of its features.

    Parameters
    ----------
    features
        At least the :data:`CONCEPT_FEATURES`.

    Returns
    -------
    float
        Higher is riskier; compared with :data:`REVIEW_THRESHOLD` and
        :data:`FRAUD_THRESHOLD` by :func:`true_label`.

    Raises
    ------
    KeyError
        If a concept feature is missing or has the wrong type.
    """
    log_amount = math.log1p(_num(features, "amount"))
    trust = _num(features, "device_trust")
    tenure = _num(features, "tenure_months")
    sessions = _num(features, "sessions_7d")
    hour = _num(features, "hour")
    plan = features.get("plan")
    channel = features.get("channel")
    if not isinstance(plan, str) or not isinstance(channel, str):
        raise KeyError("features 'plan' and 'channel' must be strings")
    z = 1.1 * math.tanh(1.5 * (log_amount - 4.2))
    z += 1.6 * (1.0 - trust) ** 2 * (1.8 if channel == "partner" else 1.0)
    if hour < 6:
        z += 0.9 if tenure < 12 else 0.27
    z -= 0.6 * min(tenure, 48.0) / 48.0
    if plan == "free" and sessions >= 10:
        z += 0.5
    if plan == "enterprise":
        z -= 0.4
    return z


def true_label(features: Mapping[str, FeatureValue]) -> str:
    """The true class of an event, one of :data:`CLASSES`.

    Parameters
    ----------
    features
        At least the :data:`CONCEPT_FEATURES` (extra keys are ignored).

    Returns
    -------
    str
        ``"legit"``, ``"review"`` or ``"fraud"``.
    """
    z = latent_risk(features)
    if z >= FRAUD_THRESHOLD:
        return CLASSES[2]
    if z >= REVIEW_THRESHOLD:
        return CLASSES[1]
    return CLASSES[0]
