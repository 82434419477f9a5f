"""Vectorised draws of one block of synthetic events (private to :mod:`.synthetic`).

Every block draws the same random arrays in the same order whatever the drift
settings, so a drift changes only the events it targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from streamsift.core.types import FeatureValue
from streamsift.tools.concept import CLASSES, FRAUD_THRESHOLD, REVIEW_THRESHOLD

#: Log-mean of ``amount`` by region (others: 3.6).
_AMOUNT_LOG_MEAN: Final = {"eu-west": 3.6, "us-east": 3.8, "ap-south": 3.2, "sa-east": 3.4}
#: Production model input noise by region (others: 0.3): larger is less accurate.
_PROD_NOISE: Final = {"eu-west": 0.15, "us-east": 0.2, "ap-south": 0.45, "sa-east": 0.6}
#: Production model: intercept, log1p(amount), 1 - trust, min(tenure, 48)/48, night.
_PROD_COEF: Final = (-3.13, 0.71, 1.20, -0.76, 0.44)
#: Production model's logistic scale (calibrated on the best regions before drift).
_PROD_SCALE: Final = 0.28
_PLANS: Final = ("free", "basic", "pro", "enterprise")
_PLAN_CDF: Final = np.cumsum([0.4, 0.3, 0.2, 0.1])
_CHANNELS: Final = ("web", "mobile", "partner")
_CHANNEL_CDF: Final = np.cumsum([0.5, 0.35, 0.15])

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Block:
    """Plain Python columns of one block of events."""

    amount: list[float]
    tenure: list[int]
    sessions: list[int]
    trust: list[float]
    hour: list[int]
    plan: list[str]
    channel: list[str]
    regions: list[str]
    drifted: list[bool]
    proba_columns: tuple[list[float], list[float], list[float]]

    def features(self, j: int) -> dict[str, FeatureValue]:
        """Feature dict of row ``j``."""
        return {
            "amount": self.amount[j],
            "tenure_months": self.tenure[j],
            "sessions_7d": self.sessions[j],
            "device_trust": self.trust[j],
            "hour": self.hour[j],
            "plan": self.plan[j],
            "channel": self.channel[j],
        }

    def proba(self, j: int) -> dict[str, float]:
        """Production class probabilities of row ``j``."""
        c = self.proba_columns
        return {CLASSES[0]: c[0][j], CLASSES[1]: c[1][j], CLASSES[2]: c[2][j]}


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def _production_proba(
    log_amount: FloatArray,
    trust: FloatArray,
    tenure: FloatArray,
    night: FloatArray,
    noise: FloatArray,
    scale: FloatArray,
) -> tuple[list[float], list[float], list[float]]:
    a, b_amount, b_trust, b_tenure, b_night = _PROD_COEF
    z_hat = (
        a
        + b_amount * log_amount
        + b_trust * (1.0 - trust)
        + b_tenure * np.minimum(tenure, 48.0) / 48.0
        + b_night * night
        + noise
    )
    c1 = _sigmoid((REVIEW_THRESHOLD - z_hat) / scale)
    c2 = _sigmoid((FRAUD_THRESHOLD - z_hat) / scale)
    p0 = np.round(c1, 6)
    p1 = np.round(np.maximum(c2 - c1, 0.0), 6)
    p2 = np.round(np.maximum(1.0 - p0 - p1, 0.0), 6)
    return p0.tolist(), p1.tolist(), p2.tolist()


def draw_block(
    *,
    seed: int,
    number: int,
    size: int,
    region_cdf: FloatArray,
    region_names: Sequence[str],
    drift_mask: npt.NDArray[np.bool_],
    drift_from: int | None,
    drift_shift: float,
    drift_temperature: float,
) -> Block:
    """Draw block ``number`` of the stream of ``seed`` (``size`` events)."""
    rng = np.random.default_rng([seed, number])
    region_idx = np.minimum(
        np.searchsorted(region_cdf, rng.random(size), side="right"), len(region_names) - 1
    )
    z_amount = rng.standard_normal(size)
    tenure = np.minimum(np.floor(rng.gamma(1.5, 18.0, size)), 240.0)
    sessions = rng.poisson(6.0, size)
    trust = rng.beta(5.0, 2.0, size)
    hour = rng.integers(0, 24, size)
    plan_idx = np.searchsorted(_PLAN_CDF, rng.random(size), side="right").clip(0, 3)
    channel_idx = np.searchsorted(_CHANNEL_CDF, rng.random(size), side="right").clip(0, 2)
    u_shift = rng.random(size)
    eps = rng.standard_normal(size)

    names = list(region_names)
    log_mean = np.array([_AMOUNT_LOG_MEAN.get(n, 3.6) for n in names])[region_idx]
    noise_sd = np.array([_PROD_NOISE.get(n, 0.3) for n in names])[region_idx]
    drifted = np.zeros(size, dtype=bool)
    if drift_from is not None and drift_from < size:
        drifted = drift_mask[region_idx] & (np.arange(size) >= drift_from)
    k = drift_shift * drifted
    log_mean = log_mean + 0.9 * k
    trust = np.clip(trust * (1.0 - 0.25 * k), 0.0, 1.0)
    channel_idx = np.where(u_shift < 0.3 * k, 2, channel_idx)

    amount = np.round(np.exp(log_mean + 0.9 * z_amount), 2)
    trust = np.round(trust, 4)
    scale = _PROD_SCALE * np.where(drifted, drift_temperature, 1.0)
    proba = _production_proba(
        np.log1p(amount), trust, tenure, (hour < 6).astype(float), eps * noise_sd, scale
    )
    return Block(
        amount=amount.tolist(),
        tenure=tenure.astype(np.int64).tolist(),
        sessions=sessions.tolist(),
        trust=trust.tolist(),
        hour=hour.tolist(),
        plan=[_PLANS[i] for i in plan_idx.tolist()],
        channel=[_CHANNELS[i] for i in channel_idx.tolist()],
        regions=[names[i] for i in region_idx.tolist()],
        drifted=drifted.tolist(),
        proba_columns=proba,
    )
