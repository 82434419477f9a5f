"""Argument types shared by the CLI commands."""

from __future__ import annotations

import argparse

__all__ = ["seed_list"]


def seed_list(value: str) -> list[int]:
    """Seeds as ``0-8`` (inclusive range) or ``0,3,5``.

    Examples
    --------
    >>> seed_list("0-3"), seed_list("5, 1")
    ([0, 1, 2, 3], [5, 1])
    """
    try:
        if "-" in value:
            lo, hi = value.split("-", 1)
            out = list(range(int(lo), int(hi) + 1))
        else:
            out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected e.g. 0-8 or 0,3,5: {value}") from exc
    if not out:
        raise argparse.ArgumentTypeError(f"no seeds in {value!r}")
    return out
