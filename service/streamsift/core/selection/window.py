"""Tumbling candidate windows for batch mode: close after N events or T seconds."""

from __future__ import annotations

from typing import Generic, TypeVar

from streamsift.core.selection._validate import check_float, check_int

__all__ = ["BatchWindow"]

T = TypeVar("T")


class BatchWindow(Generic[T]):
    """Collects candidates; a window closes at ``max_events`` items or ``max_seconds``.

    :meth:`add` returns the closed window's items when the new item closes it: when
    the window is full after adding, or when ``now`` is ``max_seconds`` or more past the
    window's first item (the new item then opens the next window).

    Parameters
    ----------
    max_events
        Items per window (>= 1). Default 1,000.
    max_seconds
        Longest window duration in seconds (> 0). Default 60.

    Examples
    --------
    >>> window = BatchWindow(max_events=3, max_seconds=10.0)
    >>> [window.add(i, now=float(i)) for i in range(4)]
    [None, None, [0, 1, 2], None]
    >>> window.add(9, now=20.0), window.flush()
    ([3], [9])
    """

    def __init__(self, max_events: int = 1_000, max_seconds: float = 60.0) -> None:
        self.max_events = check_int("max_events", max_events, minimum=1)
        self.max_seconds = check_float("max_seconds", max_seconds, low=0.0, low_open=True)
        self._reset()

    def _reset(self) -> None:
        self._items: list[T] = []
        self._start = 0.0

    def add(self, item: T, now: float) -> list[T] | None:
        """Add a candidate; return the closed window's items, or ``None``."""
        closed: list[T] | None = None
        if self._items and now - self._start >= self.max_seconds:
            closed = self.flush()
        if not self._items:
            self._start = now
        self._items.append(item)
        if closed is None and len(self._items) >= self.max_events:
            closed = self.flush()
        return closed

    def flush(self) -> list[T]:
        """Close the current window now and return its items."""
        items, self._items = self._items, []
        return items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"BatchWindow(max_events={self.max_events!r}, max_seconds={self.max_seconds!r})"
