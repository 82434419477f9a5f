"""Per-region tumbling-window buffer and its column view (private to the monitor)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from numpy.typing import NDArray

from streamsift.core.types import Features, Label

__all__ = ["Columns", "WindowBuffer"]


class WindowBuffer:
    """Append-only buffer of one region's current window: cheap to fill.

    The feature mappings are kept by reference (the core treats events as immutable)
    and only turned into columns when the window closes.
    """

    __slots__ = ("end", "features", "predictions", "scores", "start")

    def __init__(self) -> None:
        self.features: list[Features] = []
        self.scores: list[float] = []
        self.predictions: list[Label | None] = []
        self.start = 0.0
        self.end = 0.0

    def __len__(self) -> int:
        return len(self.features)

    def append(
        self, features: Features, score: float, predicted: Label | None, timestamp: float
    ) -> None:
        """Add one event."""
        if not self.features:
            self.start = timestamp
        self.features.append(features)
        self.scores.append(score)
        self.predictions.append(predicted)
        self.end = timestamp


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Columns:
    """Column view of a closed window: numeric arrays and category counts per feature.

    A feature whose non-missing values are all numbers (booleans excluded) is numeric;
    any other feature is categorical, its values compared as strings. ``None`` and NaN
    are missing and skipped.
    """

    __slots__ = ("categorical", "n", "numeric", "predictions", "score")

    def __init__(self, window: WindowBuffer) -> None:
        numbers: dict[str, list[float]] = {}
        labels: dict[str, Counter[str]] = {}
        for row in window.features:
            for name, value in row.items():
                kind = type(value)
                if kind is float or kind is int or (kind is not bool and _is_number(value)):
                    if value == value:  # NaN is missing
                        column = numbers.get(name)
                        if column is None:
                            column = numbers[name] = []
                        column.append(value)  # type: ignore[arg-type]
                elif value is not None:
                    labels.setdefault(name, Counter())[str(value)] += 1
        for name in set(numbers) & set(labels):
            labels[name].update(str(v) for v in numbers.pop(name))
        self.n = len(window)
        self.numeric: dict[str, NDArray[np.float64]] = {
            name: np.asarray(values, dtype=float) for name, values in numbers.items()
        }
        self.categorical: dict[str, Counter[str]] = labels
        scores = np.asarray(window.scores, dtype=float)
        self.score: NDArray[np.float64] = scores[~np.isnan(scores)]
        self.predictions: Counter[str] = Counter(
            str(p) for p in window.predictions if p is not None
        )
