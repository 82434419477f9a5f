"""A key-value store of the owned partitions, backed by a compacted changelog topic.

The join keeps its state (the pending store, the annotator statistics) in two
:class:`ChangelogStore`\\ s instead of faust tables: faust assigns and recovers a
table's partitions from its own consumer group, and the join no longer consumes
through faust (docs/stream.md), so the state must follow the join's own
assignment. The store holds one dict per owned partition; every write also goes to
the changelog topic *at that partition number* (a tombstone for a delete), so the
worker that owns partition ``p`` of the join's topics restores exactly partition
``p`` of the changelog (:func:`streamsift.stream.changelog_restore.read_changelog`).

Records are the raw key and value bytes, as faust 0.15 wrote them for a
``bytes``/``bytes`` table (raw serializers): a worker upgraded from the faust
tables restores what they wrote to ``<app_id>-pending-store-changelog`` and
``<app_id>-quality-store-changelog``.

**Where a key lives.** An existing key stays in its partition (a timer's write, a
delete, goes where the key already is). A new key goes to the partition given by
``partition_for_key`` when the store has one (the statistics store: the key names
its partition) or else to the partition of the record being handled
(:meth:`ChangelogStore.placing`). A write to a partition the store does not own is
refused with a warning: the partition's owner is the only writer.

**Durability.** Writes are buffered (the last value per key) and sent by
:meth:`ChangelogStore.flush`, which waits for the broker's acknowledgements. The
join flushes before it commits input offsets, so the changelog holds the effect of
every committed record first; a worker killed before a flush lost only writes of
records that are read again.

Examples
--------
>>> import asyncio
>>> from streamsift.stream.ports import MemorySink
>>> sink = MemorySink()
>>> store = ChangelogStore("app-quality-store-changelog", sink, partition_for_key=int)
>>> store.load(3, {})
>>> store[b"3"] = b"stats"
>>> del store[b"3"]
>>> asyncio.run(store.flush())
1
>>> [(m.partition, m.key, m.value) for m in sink.sent]
[(3, b'3', None)]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from streamsift.stream.ports import Sink

__all__ = ["ChangelogStore"]

log = logging.getLogger(__name__)


class ChangelogStore(MutableMapping[bytes, bytes]):
    """``bytes -> bytes`` over the owned partitions, every change logged to ``topic``.

    Parameters
    ----------
    topic
        The compacted changelog topic (co-partitioned with the join's topics).
    sink
        Where the changelog records go.
    partition_for_key
        The partition of a new key; ``None``: the partition of the record being
        handled (:meth:`placing`).
    """

    def __init__(
        self,
        topic: str,
        sink: Sink,
        *,
        partition_for_key: Callable[[bytes], int] | None = None,
    ) -> None:
        self.topic = topic
        self.refused = 0  # writes to a partition not owned
        self._sink = sink
        self._route = partition_for_key
        self._parts: dict[int, dict[bytes, bytes]] = {}
        self._where: dict[bytes, int] = {}
        self._unsent: dict[tuple[int, bytes], bytes | None] = {}
        self._placing: int | None = None
        self._flushing = asyncio.Lock()

    # --- ownership ---------------------------------------------------------------------
    @property
    def partitions(self) -> frozenset[int]:
        """The partitions held."""
        return frozenset(self._parts)

    def load(self, partition: int, entries: Mapping[bytes, bytes]) -> None:
        """Own ``partition`` with ``entries`` (read back from its changelog)."""
        self.drop([partition])
        self._parts[partition] = dict(entries)
        for key in entries:
            self._where[key] = partition

    def drop(self, partitions: Iterable[int]) -> None:
        """Give up ``partitions``: their entries and their unsent writes (the next owner
        restores the changelog; a late write could overwrite its own)."""
        for p in set(partitions):
            for key in self._parts.pop(p, {}):
                if self._where.get(key) == p:
                    del self._where[key]
        self._unsent = {k: v for k, v in self._unsent.items() if k[0] in self._parts}

    @contextmanager
    def placing(self, partition: int) -> Iterator[None]:
        """New keys written inside the block go to ``partition``."""
        before, self._placing = self._placing, partition
        try:
            yield
        finally:
            self._placing = before

    # --- the mapping ---------------------------------------------------------------------
    def __getitem__(self, key: bytes) -> bytes:
        return self._parts[self._where[key]][key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        p = self._where.get(key)
        if p is None:
            p = self._route(key) if self._route is not None else self._placing
            if p is None:
                raise RuntimeError(f"{self.topic}: no partition for new key {key!r}")
        part = self._parts.get(p)
        if part is None:
            self.refused += 1
            log.warning("%s: write of %r refused, partition %d is not owned", self.topic, key, p)
            return
        part[key] = value
        self._where[key] = p
        self._unsent[(p, key)] = value

    def __delitem__(self, key: bytes) -> None:
        p = self._where.pop(key)
        del self._parts[p][key]
        self._unsent[(p, key)] = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: Any) -> bool:
        return key in self._where

    # --- durability ----------------------------------------------------------------------
    @property
    def unsent(self) -> int:
        """Writes not sent to the changelog yet."""
        return len(self._unsent)

    async def flush(self) -> int:
        """Send the buffered writes and wait for their acknowledgements; return how many.

        Flushes run one at a time, so when one returns every earlier write is
        acknowledged. On failure the writes stay buffered (unless overwritten since)
        and the error is raised.
        """
        async with self._flushing:
            writes, self._unsent = self._unsent, {}
            if not writes:
                return 0
            try:
                acks = [
                    await self._sink.send(self.topic, value, key=key, partition=p)
                    for (p, key), value in writes.items()
                ]
                await asyncio.gather(*acks)
            except BaseException:
                for k, v in writes.items():
                    if k[0] in self._parts:
                        self._unsent.setdefault(k, v)
                raise
            return len(writes)
