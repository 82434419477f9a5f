"""Private helpers shared by the quality-control modules (validation, label ordering)."""

from __future__ import annotations

import math

from streamsift.core.types import Label
from streamsift.errors import ConfigurationError


def label_key(label: Label) -> tuple[str, Label]:
    """Sort key that orders labels of mixed types deterministically."""
    return (type(label).__name__, label)


def check_probability(name: str, value: float, *, open_low: bool = False) -> float:
    """Return ``value`` as a float in [0, 1] (or (0, 1] if ``open_low``), else raise."""
    v = float(value)
    low_ok = v > 0.0 if open_low else v >= 0.0
    if math.isnan(v) or not low_ok or v > 1.0:
        bound = "(0, 1]" if open_low else "[0, 1]"
        raise ConfigurationError(f"{name} must be in {bound}, got {value!r}")
    return v


def check_int(name: str, value: int, *, minimum: int) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as a finite float > 0, else raise."""
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise."""
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {choices}, got {value!r}")
    return value
