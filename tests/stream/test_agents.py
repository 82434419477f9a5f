"""Tier 2: the join's faust agents in faust's test context (memory store, no broker).

The agents are driven through ``agent.test_context()``; what they send goes to a
memory sink, the pending store is the app's faust table on the memory store. The
scorer is not a faust agent: its intake is tested in ``test_intake.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any
from unittest.mock import Mock

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


def service(
    *, consumer_factory: Any = None, sink: MemorySink | None = None, **overrides: Any
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
    )
    return svc, sampler, sink


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_join_agents_fill_the_table_and_join_labels() -> None:
    svc, sampler, sink = service()
    pending, labels = svc.agents
    # No producer in the test context: the changelog write is the broker's side of it.
    svc.table.send_changelog = Mock()  # type: ignore[method-assign]

    async def go() -> None:
        async with pending.test_context() as p_agent, labels.test_context() as l_agent:
            for eid in ("a", "b"):
                await p_agent.put(value=pending_bytes(eid), key=eid.encode())
            await until(lambda: len(svc.table) == 2)
            await l_agent.put(value=label_bytes("a"), key=b"a")
            await l_agent.put(value=label_bytes("a"), key=b"a")
            await l_agent.put(value=label_bytes("zzz"), key=b"zzz")
            await until(lambda: len(sink.on("streamsift.dead-letters")) == 1)
            await until(lambda: b"zzz" in svc.table)

    asyncio.run(go())
    assert [m.key for m in sink.on("streamsift.training")] == [b"a"]
    assert [d.reason for d in dead_letters(sink)] == ["duplicate"]  # zzz waits for its item
    assert sampler.arrived == 1


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
