"""Per-region tumbling-window buffer and its column view (private to the monitor)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

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


_NONE = type(None)
#: Column value types with a vectorised path (anything else takes the per-value one).
_NUMERIC_TYPES = frozenset({float, int, _NONE})
_TEXT_TYPES = frozenset({str, _NONE})
_INJECTIVE_STR = frozenset({str, bool, int})


def _non_missing(values: list[object], has_none: bool) -> NDArray[np.float64]:
    """``values`` (floats, ints and ``None``) as floats, without ``None`` and NaN."""
    array = np.asarray([v for v in values if v is not None] if has_none else values, dtype=float)
    nan = np.isnan(array)
    return array[~nan] if nan.any() else array


def _label_counts(labels: Sequence[object]) -> Counter[str]:
    """``Counter(str(v) for v in labels if v is not None)``, in one C call when it can.

    When the labels other than ``None`` share one type whose ``str`` is injective
    (``str``, ``bool``, ``int``), counting the labels themselves and renaming the keys
    gives the same counts in the same order; otherwise (``1`` and ``True`` hash alike,
    ``0.0`` and ``-0.0`` too) each label is converted.
    """
    kinds = set(map(type, labels))
    kinds.discard(_NONE)
    if len(kinds) == 1 and kinds <= _INJECTIVE_STR:
        counts: Counter[object] = Counter(labels)
        counts.pop(None, None)
        return Counter({str(k): v for k, v in counts.items()})
    return Counter([str(v) for v in labels if v is not None])


def _mixed_column(
    values: list[object],
) -> tuple[list[float] | None, Counter[str] | None]:
    """One column, value by value: the general rule for any mix of types.

    Numbers (booleans excluded) that are not NaN go to the numeric list; every other
    value that is not ``None`` is counted as its string. A column with both is
    categorical: its non-numbers in order of appearance, then its numbers as strings.
    """
    numbers: list[float] | None = None
    labels: Counter[str] | None = None
    for value in values:
        kind = type(value)
        if kind is float or kind is int or (kind is not bool and _is_number(value)):
            if value == value:  # NaN is missing
                if numbers is None:
                    numbers = []
                numbers.append(value)  # type: ignore[arg-type]
        elif value is not None:
            if labels is None:
                labels = Counter()
            labels[str(value)] += 1
    if numbers is not None and labels is not None:
        labels.update(str(v) for v in numbers)
        numbers = None
    return numbers, labels


class Columns:
    """Column view of a closed window: numeric arrays and category counts per feature.

    A feature whose non-missing values are all numbers (booleans excluded) is numeric;
    any other feature is categorical, its values compared as strings (in order of
    first appearance, numbers of a mixed column last). ``None`` and NaN are missing
    and skipped.

    Built once per window, column by column: a column of floats, ints and ``None``
    becomes an array in one numpy call, a column of strings and ``None`` a ``Counter``
    in one C call; only other mixes are classified value by value.
    """

    __slots__ = ("categorical", "n", "numeric", "predictions", "score")

    def __init__(self, window: WindowBuffer) -> None:
        rows = window.features
        numeric: dict[str, NDArray[np.float64]] = {}
        labels: dict[str, Counter[str]] = {}
        names: set[str] = set().union(*rows) if rows else set()
        for name in names:
            column: list[object] = [row.get(name) for row in rows]
            kinds = set(map(type, column))
            if kinds <= _NUMERIC_TYPES:
                values = _non_missing(column, _NONE in kinds)
                if values.size:
                    numeric[name] = values
            elif kinds <= _TEXT_TYPES:
                counts = Counter([v for v in column if v is not None])
                if counts:
                    labels[name] = counts  # type: ignore[assignment]
            else:
                numbers, counted = _mixed_column(column)
                if numbers is not None:
                    numeric[name] = np.asarray(numbers, dtype=float)
                if counted is not None:
                    labels[name] = counted
        self.n = len(window)
        self.numeric: dict[str, NDArray[np.float64]] = numeric
        self.categorical: dict[str, Counter[str]] = labels
        scores = np.asarray(window.scores, dtype=float)
        self.score: NDArray[np.float64] = scores[~np.isnan(scores)]
        self.predictions: Counter[str] = _label_counts(window.predictions)
