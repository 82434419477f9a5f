"""Tier 2: the scorer's own input offsets (what it processed, what it commits).

The scorer's topic is declared without faust acks; the service commits one past
the last record of every batch :meth:`Scorer.process` completed (see
``streamsift.stream.offsets`` for the faust defect this replaces).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streamsift.stream.offsets import ProcessedOffsets
from streamsift.stream.records import SourceRecord
from tests.stream.fakes import event_bytes
from tests.stream.test_agents import service, until


def rec(partition: int, offset: int) -> SourceRecord:
    return SourceRecord("in", partition, offset, None, b"{}")


def test_marks_are_one_past_the_last_processed_record_and_never_go_back() -> None:
    po = ProcessedOffsets()
    po.record([rec(0, 5), rec(1, 9), rec(0, 7), rec(0, 6)])
    assert po.due() == {0: 8, 1: 10}
    po.record([rec(0, 3), rec(0, 4)])  # delivered again after a seek: already processed
    assert po.processed_offset(0) == 8
    po.committed({0: 8})
    assert po.due() == {1: 10}
    assert po.due(owned=[0]) == {}
    po.record([rec(0, 8)])
    assert po.due(owned=[0, 2]) == {0: 9}
    po.forget([0])  # revoked: a later owner may move it past our marks
    assert po.processed_offset(0) is None and po.committed_offset(0) is None
    assert po.due() == {1: 10}


class FakeConsumer:
    """What ``commit_processed`` uses of faust's consumer: assignment and ``_commit``."""

    def __init__(self, topic: str, partitions: list[int], accept: bool = True) -> None:
        self.owned = {TP(topic, p) for p in partitions}
        self.accept = accept
        self.commits: list[dict[TP, int]] = []

    def assignment(self) -> set[TP]:
        return set(self.owned)

    async def _commit(self, offsets: dict[TP, int]) -> bool:
        self.commits.append(dict(offsets))
        return self.accept


def test_scorer_agent_marks_each_completed_batch_and_commits_exactly_those() -> None:
    svc, sampler, _ = service()
    score = svc.agents[0]
    topic = svc.settings.topic_inference_events
    committed: list[dict[int, int]] = []

    async def go() -> None:
        async with score.test_context() as agent:
            for i in range(12):
                await agent.put(value=event_bytes(f"e{i}"), key=b"k", partition=i % 3, wait=False)
            await until(lambda: len(sampler.decided) == 12)
            await until(lambda: svc.offsets.processed_offset(2) is not None)
            svc.app.consumer = FakeConsumer(topic, [0, 1])  # type: ignore[assignment]
            committed.append(await svc.commit_processed())
            committed.append(await svc.commit_processed())  # nothing new: no commit

    asyncio.run(go())
    # faust's test context numbers offsets per agent, across partitions
    marks = {p: svc.offsets.processed_offset(p) for p in range(3)}
    assert all(m is not None for m in marks.values())
    assert committed == [{0: marks[0], 1: marks[1]}, {}]  # partition 2 is not ours
    fake: Any = svc.app.consumer
    assert fake.commits == [{TP(topic, 0): marks[0], TP(topic, 1): marks[1]}]


def test_a_refused_commit_stays_due() -> None:
    svc, _, _ = service()
    topic = svc.settings.topic_inference_events
    svc.offsets.record([rec(0, 41)])
    svc.app.consumer = FakeConsumer(topic, [0], accept=False)  # type: ignore[assignment]
    assert asyncio.run(svc.commit_processed()) == {}
    assert svc.offsets.due() == {0: 42}


def faust_event(offset: int, generation: int) -> Any:
    message = SimpleNamespace(
        topic="in",
        partition=0,
        offset=offset,
        key=b"k",
        value=b"{}",
        timestamp=1.0,
        generation_id=generation,
    )
    return SimpleNamespace(message=message, value=b"{}")


def test_a_taken_batch_is_dropped_when_stale_suspended_or_stopping() -> None:
    svc, _, _ = service()
    app = svc.app
    app.flow_control.resume()
    gen = app.consumer_generation_id
    batch = [faust_event(1, gen), faust_event(2, gen - 1), faust_event(3, gen)]
    # fetched in an earlier consumer generation (before a rebalance): not processed
    assert [r.offset for r in svc._current(batch)] == [1, 3]
    app.flow_control.suspend()  # a rebalance or a stop is under way
    assert svc._current(batch) == []
    app.flow_control.resume()
    svc._stopping = True  # graceful stop: left for the next owner
    assert svc._current(batch) == []


def test_after_the_stop_commit_the_agent_processes_nothing_more() -> None:
    svc, sampler, _ = service()
    score = svc.agents[0]

    async def go() -> None:
        async with score.test_context() as agent:
            await agent.put(value=event_bytes("before"), key=b"k", partition=0)
            await until(lambda: sampler.decided == ["before"])
            svc._stopping = True
            await agent.put(value=event_bytes("after"), key=b"k", partition=0, wait=False)
            await asyncio.sleep(0.3)

    asyncio.run(go())
    assert sampler.decided == ["before"]
    assert svc.offsets.processed_offset(0) is not None
