"""Tier 2: the join's changelog-backed store (memory sink for the changelog topic).

Every set and delete is logged to the changelog partition the key lives in (a new
key: the partition named by the key, or of the record being handled), a delete as a
tombstone; nothing reaches the changelog before a flush, which waits for the
acknowledgements and keeps the writes when a send fails; a partition restored from
its changelog holds what was written; a dropped partition's entries and unsent
writes are gone; writes to a partition not owned are refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamsift.stream.changelog_store import ChangelogStore
from streamsift.stream.ports import MemorySink
from tests.stream.test_agents import changelog_of

TOPIC = "app-pending-store-changelog"


def owned(*partitions: int, sink: MemorySink | None = None, **kw: Any) -> ChangelogStore:
    store = ChangelogStore(TOPIC, sink if sink is not None else MemorySink(), **kw)
    for p in partitions:
        store.load(p, {})
    return store


def logged(sink: MemorySink) -> list[tuple[int | None, bytes | None, bytes | None]]:
    return [(m.partition, m.key, m.value) for m in sink.on(TOPIC)]


def test_each_write_goes_to_the_partition_its_key_lives_in() -> None:
    sink = MemorySink()
    store = owned(0, 1, 2, sink=sink)
    with store.placing(1):
        store[b"a"] = b"1"  # new: the record's partition
    with store.placing(2):
        store[b"a"] = b"2"  # existing: stays in partition 1
        store[b"b"] = b"x"
    store[b"b"] = b"y"  # a timer's write, outside any record
    del store[b"a"]
    assert logged(sink) == []  # nothing before a flush
    assert asyncio.run(store.flush()) == 2  # the last value of each key
    assert logged(sink) == [(1, b"a", None), (2, b"b", b"y")]
    assert dict(store) == {b"b": b"y"} and len(store) == 1 and b"a" not in store
    assert asyncio.run(store.flush()) == 0


def test_a_new_key_outside_a_record_needs_a_partition_for_key() -> None:
    with pytest.raises(RuntimeError, match="no partition"):
        owned(0)[b"k"] = b"v"
    sink = MemorySink()
    stats = owned(3, sink=sink, partition_for_key=int)
    stats[b"3"] = b"s"
    asyncio.run(stats.flush())
    assert logged(sink) == [(3, b"3", b"s")]


def test_writes_to_a_partition_not_owned_are_refused() -> None:
    sink = MemorySink()
    stats = owned(0, sink=sink, partition_for_key=int)
    stats[b"5"] = b"s"
    assert stats.refused == 1 and b"5" not in stats
    asyncio.run(stats.flush())
    assert logged(sink) == []


def test_restore_reads_back_what_was_written_and_drop_forgets() -> None:
    sink = MemorySink()
    store = owned(0, 1, sink=sink)
    for p, key in ((0, b"a"), (0, b"b"), (1, b"c")):
        with store.placing(p):
            store[key] = key * 2
    del store[b"b"]
    asyncio.run(store.flush())
    with store.placing(1):
        store[b"d"] = b"unsent"
    store.drop([1])
    assert store.partitions == {0} and dict(store) == {b"a": b"aa"}
    assert store.unsent == 0  # the dropped partition's write is not sent late

    restored = asyncio.run(changelog_of(sink)(TOPIC, [0, 1]))
    again = ChangelogStore(TOPIC, sink)
    for p, entries in restored.items():
        again.load(p, entries)
    assert dict(again) == {b"a": b"aa", b"c": b"cc"}
    with again.placing(0):
        again[b"c"] = b"new"  # restored keys keep their partition
    asyncio.run(again.flush())
    assert logged(sink)[-1] == (1, b"c", b"new")


def test_a_failed_flush_keeps_the_writes_for_the_next_one() -> None:
    sink = MemorySink(fail_topics={TOPIC})
    store = owned(0, sink=sink)
    with store.placing(0):
        store[b"a"] = b"1"
    with pytest.raises(ConnectionError):
        asyncio.run(store.flush())
    assert store.unsent == 1
    sink.fail_topics.clear()
    assert asyncio.run(store.flush()) == 1
    assert logged(sink) == [(0, b"a", b"1")]


def test_flushes_run_one_at_a_time() -> None:
    class SlowSink(MemorySink):
        async def send(self, topic: str, value: bytes | None, **kw: Any) -> Any:
            ack = await super().send(topic, value, **kw)

            async def later() -> Any:
                await asyncio.sleep(0.05)
                order.append(("acked", kw["key"]))
                return await ack

            return later()

    order: list[tuple[str, bytes]] = []
    store = owned(0, sink=SlowSink())

    async def go() -> None:
        with store.placing(0):
            store[b"a"] = b"1"
        first = asyncio.create_task(store.flush())
        await asyncio.sleep(0)
        with store.placing(0):
            store[b"b"] = b"2"
        await store.flush()  # returns only once the earlier flush is acknowledged too
        order.append(("second flush done", b""))
        await first

    asyncio.run(go())
    assert order == [("acked", b"a"), ("acked", b"b"), ("second flush done", b"")]


def test_both_changelogs_are_created_compacted_and_co_partitioned() -> None:
    from streamsift.config import Settings
    from streamsift.errors import TopicLayoutError
    from streamsift.stream.topics import plan_topics

    s = Settings(app_id="app", topic_partitions=4)
    specs = {t.name: t for t in plan_topics(s, existing={s.topic_labels: 6})}
    for name in ("app-pending-store-changelog", "app-quality-store-changelog"):
        assert specs[name].partitions == 6
        assert specs[name].config["cleanup.policy"] == "compact"
    with pytest.raises(TopicLayoutError, match="app-quality-store-changelog=2"):
        plan_topics(s, existing={s.topic_labels: 4, "app-quality-store-changelog": 2})
