"""Tier 2: the worker's service around the join and the gauges (memory sink, no broker).

Neither the scorer nor the join is a faust agent: each runs its own consumer loop,
driven here through a fake consumer (``test_intake.py``, ``test_join_loop.py``);
what they send goes to a memory sink and the join's changelogs are read back from it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from streamsift.config import Settings
from streamsift.stream.app import StreamService
from streamsift.stream.ports import MemorySink
from tests.stream.fakes import (
    FakeReader,
    FakeSampler,
    dead_letters,
    label_bytes,
)
from tests.stream.test_join import pending_bytes


def changelog_of(sink: MemorySink) -> Any:
    """A changelog reader over what a memory sink received (a compacted topic's view)."""

    async def read(topic: str, partitions: Sequence[int]) -> dict[int, dict[bytes, bytes]]:
        out: dict[int, dict[bytes, bytes]] = {p: {} for p in partitions}
        for m in sink.on(topic):
            if m.partition in out and m.key is not None:
                if m.value is None:
                    out[m.partition].pop(m.key, None)
                else:
                    out[m.partition][m.key] = m.value
        return out

    return read


def service(
    *,
    consumer_factory: Any = None,
    join_consumer_factory: Any = None,
    sink: MemorySink | None = None,
    **overrides: Any,
) -> tuple[StreamService, FakeSampler, MemorySink]:
    settings = Settings(
        **{
            "app_id": f"t2-{uuid.uuid4().hex[:8]}",
            "store": "memory://",
            "take_batch": 50,
            "take_within_seconds": 0.05,
            "web_port": 0,
            **overrides,
        }
    )
    sampler, sink = FakeSampler(), sink if sink is not None else MemorySink()
    svc = StreamService(
        settings,
        sampler,
        CollectorRegistry(),
        input_partitions=4,
        join_partitions=4,
        worker_id="w-t2",
        reader=FakeReader(),
        sink=sink,
        consumer_factory=consumer_factory,
        join_consumer_factory=join_consumer_factory,
        changelog_reader=changelog_of(sink),
    )
    return svc, sampler, sink


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_the_service_runs_the_join_loop_over_both_topics() -> None:
    from tests.stream.test_intake import FakeConsumer, record

    s = Settings(app_id="x")
    fake = FakeConsumer(topics=(s.topic_pending, s.topic_labels))
    svc, sampler, sink = service(join_consumer_factory=lambda: fake)

    async def go() -> None:
        task = asyncio.create_task(svc.join.run())
        await until(lambda: fake.started)
        await fake.assign([0])
        assert svc.health.checks()["partitions_assigned"] is False  # the scorer has none
        fake.put(
            [record(0, i, label_bytes(e), s.topic_labels) for i, e in enumerate("aaz")]
            + [record(0, i, pending_bytes(e), s.topic_pending) for i, e in enumerate("ab")]
        )
        await until(lambda: len(sink.on("streamsift.training")) == 1)
        await svc.join.stop()
        await task

    asyncio.run(go())
    assert [m.key for m in sink.on("streamsift.training")] == [b"a"]
    assert [d.reason for d in dead_letters(sink)] == ["duplicate"]  # z waits for its item
    assert sampler.arrived == 1
    assert sorted(svc.table) == [b"a", b"b", b"z"]
    assert fake.commits == [{(s.topic_pending, 0): 2, (s.topic_labels, 0): 3}]


def _metric_names(svc: StreamService) -> list[Any]:
    return list(svc.registry.collect())


def test_gauges_refresh_from_sampler_state() -> None:
    svc, sampler, _ = service()
    sampler.state.boosts = {"eu": 2.5}
    svc.refresh_gauges()
    reg = svc.registry
    assert reg.get_sample_value("streamsift_sampler_region_boost_ratio", {"region": "eu"}) == 2.5
    assert reg.get_sample_value("streamsift_sampler_event_rate_per_second") == 10.0
    assert reg.get_sample_value("streamsift_sampler_target_selection_ratio") == 0.1


def test_the_scorer_waits_for_the_snapshot_read_back() -> None:
    svc, _, _ = service(snapshot_startup_wait_seconds=5.0)

    async def go() -> tuple[bool, bool]:
        waiter = asyncio.create_task(svc.wait_for_model())
        await asyncio.sleep(0.05)
        pending = not waiter.done()  # no read back yet: the scorer does not start
        svc.follower.ready.set()
        return pending, await asyncio.wait_for(waiter, timeout=1.0)

    assert asyncio.run(go()) == (True, True)


def test_the_scorer_starts_without_a_snapshot_after_the_wait() -> None:
    svc, _, _ = service(snapshot_startup_wait_seconds=0.05)
    assert asyncio.run(svc.wait_for_model()) is False
    svc, _, _ = service(snapshot_startup_wait_seconds=0.0)
    assert asyncio.run(svc.wait_for_model()) is False  # no wait at all
