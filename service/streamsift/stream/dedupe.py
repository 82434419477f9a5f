"""Remember recently decided event ids, per input partition, over a bounded horizon.

A producer that retries may write an event twice; a worker that restarts re-reads
the events after the last committed offset. Neither may yield a second label
request. :class:`Dedupe` keeps, for every input partition this worker owns, the
last ``horizon / partitions`` event ids with the offset at which each was decided,
and tells a *redelivery* (same partition and offset: the worker is re-reading its
own input) from a *duplicate* (the id came again at another offset).

The set is rebuilt from the decision log when a partition is (re)assigned (see
:mod:`streamsift.stream.decisions`), and forgotten when it is revoked, since
another worker may decide its events meanwhile.

Examples
--------
>>> d = Dedupe(horizon=4, partitions=2)
>>> d.check(0, "a", 10)
'new'
>>> d.add(0, "a", 10)
>>> d.check(0, "a", 10), d.check(0, "a", 11), d.check(1, "a", 3)
('redelivered', 'duplicate', 'duplicate')
>>> for i, e in enumerate("bcd"):
...     d.add(0, e, 11 + i)
>>> d.check(0, "a", 99)  # "a" fell out of partition 0's horizon of 2
'new'
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Literal

__all__ = ["Dedupe", "Seen"]

Seen = Literal["new", "duplicate", "redelivered"]


class Dedupe:
    """Bounded memory of decided event ids.

    Parameters
    ----------
    horizon
        Event ids remembered over all partitions (0 disables deduplication).
    partitions
        Partition count of the input topic; each partition keeps
        ``ceil(horizon / partitions)`` ids.
    """

    def __init__(self, horizon: int, partitions: int) -> None:
        if horizon < 0:
            raise ValueError(f"horizon must be >= 0, got {horizon}")
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.horizon = horizon
        self.partitions = partitions
        self._limit = math.ceil(horizon / partitions) if horizon else 0
        self._reset()

    def _reset(self) -> None:
        self._ids: dict[int, OrderedDict[str, int]] = {}
        self._loaded: set[int] = set()

    @property
    def per_partition(self) -> int:
        """Ids kept per partition."""
        return self._limit

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._ids.values())

    def check(self, partition: int, event_id: str, offset: int) -> Seen:
        """Whether this event id was decided before (does not record it)."""
        all_ids = self._ids
        own = all_ids.get(partition)
        if own is not None:
            seen_at = own.get(event_id)
            if seen_at is not None:
                return "redelivered" if seen_at == offset else "duplicate"
            if len(all_ids) == 1:
                return "new"
        for p, ids in all_ids.items():
            if p != partition and event_id in ids:
                return "duplicate"
        return "new"

    def add(self, partition: int, event_id: str, offset: int) -> None:
        """Record that ``event_id`` was decided at ``offset`` of ``partition``."""
        limit = self._limit
        if limit == 0:
            return
        ids = self._ids.get(partition)
        if ids is None:
            ids = self._ids[partition] = OrderedDict()
        if event_id in ids:
            ids.move_to_end(event_id)
        ids[event_id] = offset
        if len(ids) > limit:
            while len(ids) > limit:
                ids.popitem(last=False)

    def is_loaded(self, partition: int) -> bool:
        """Whether the partition's ids were rebuilt since it was assigned."""
        return partition in self._loaded

    def mark_loaded(self, partition: int) -> None:
        """Note that the partition's ids were rebuilt from the decision log."""
        self._loaded.add(partition)

    def forget(self, partition: int) -> None:
        """Drop a revoked partition: another worker decides its events now."""
        self._ids.pop(partition, None)
        self._loaded.discard(partition)
