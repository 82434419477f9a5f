"""Constructor argument checks shared by the drift classes (private)."""

from __future__ import annotations

from streamsift.errors import ConfigurationError


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` if it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_float(
    name: str,
    value: object,
    low: float,
    high: float = float("inf"),
    *,
    low_open: bool = True,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it lies in the interval from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ConfigurationError(f"{name} must lie in {left}{low}, {high}{right}, got {value!r}")
    return float(value)


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigurationError(f"{name} must be one of {choices}, got {value!r}")
    return value
