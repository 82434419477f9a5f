"""Private parameter checks shared by the selection modules."""

from __future__ import annotations

import math

from streamsift.errors import ConfigurationError


def check_float(
    name: str,
    value: float,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a float inside the given bounds, else raise ConfigurationError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ConfigurationError(f"{name} must be finite, got {value!r}")
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if too_low or too_high:
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ConfigurationError(f"{name} must be in {lb}{low}, {high}{hb}, got {value!r}")
    return v


def check_int(name: str, value: int, *, minimum: int) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ConfigurationError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
