"""Tier 2: label-sim's loop replaces a consumer that never gets an assignment.

kafka-python's consumer and producer are replaced by in-memory fakes: the first
consumer behaves as the hung one seen in CI (joined, never assigned, polls return
nothing); the next one is assigned and hands over the requests.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest

import streamsift.tools.label_loop as label_loop
from streamsift.config import Settings
from streamsift.tools.kafka_io import StopFlag
from streamsift.tools.labelsim import LabellingTeam
from streamsift.tools.synthetic import SyntheticStream
from tests.stream.fakes import synthetic_request


def _requests(n: int) -> list[bytes]:
    return [
        synthetic_request(e, f"r{i}").model_dump_json().encode()
        for i, e in enumerate(SyntheticStream(seed=0).take(n))
    ]


class _Consumers:
    """Makes the fake consumers; ``hung`` of them never get an assignment."""

    def __init__(self, hung: int, values: list[bytes]) -> None:
        self.hung, self.values, self.made, self.closed = hung, values, 0, 0

    def __call__(self, *topics: str, **kwargs: Any) -> Any:
        self.made += 1
        return _Consumer(self, assigned=self.made > self.hung)


class _Consumer:
    def __init__(self, owner: _Consumers, assigned: bool) -> None:
        self.owner, self.assigned, self.sent = owner, assigned, False

    def assignment(self) -> set[str]:
        return {"tp0"} if self.assigned else set()

    def paused(self) -> set[str]:
        return set()

    def pause(self, *tps: str) -> None:
        pass

    def resume(self, *tps: str) -> None:
        pass

    def poll(self, timeout_ms: int = 0, max_records: int = 0) -> dict[str, list[Any]]:
        if not self.assigned or self.sent:
            return {}
        self.sent = True
        recs = [SimpleNamespace(value=v, offset=i) for i, v in enumerate(self.owner.values)]
        return {"tp0": recs}

    def commit(self) -> None:
        pass

    def close(self, autocommit: bool = True) -> None:
        self.owner.closed += 1


class _Producer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append(value)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def _patch(monkeypatch: pytest.MonkeyPatch, hung: int, n: int) -> tuple[_Consumers, _Producer]:
    import kafka

    consumers, producer = _Consumers(hung, _requests(n)), _Producer()
    monkeypatch.setattr(kafka, "KafkaConsumer", consumers)
    monkeypatch.setattr(label_loop, "make_producer", lambda *a, **k: producer)
    return consumers, producer


@pytest.mark.parametrize(("hung", "restarts"), [(0, 0), (1, 1), (2, 2)])
def test_a_consumer_never_assigned_is_replaced(
    monkeypatch: pytest.MonkeyPatch, hung: int, restarts: int
) -> None:
    consumers, producer = _patch(monkeypatch, hung, 5)
    ready: list[int] = []
    stats = label_loop.run_label_sim(
        Settings(),
        LabellingTeam(annotators=2, delay_median=0.0, seed=1),
        "requests",
        "labels",
        "group",
        StopFlag(),
        max_labels=5,
        on_ready=ready.append,
        join_timeout=0.01,
        clock=itertools.count(1_767_225_600.0, 60.0).__next__,  # virtual time moves on
    )
    assert stats.consumer_restarts == restarts and consumers.made == hung + 1
    assert consumers.closed == hung + 1  # the replaced ones, then the last at exit
    assert ready == [1] and stats.labels == 5 and len(producer.sent) == 5


def test_replacements_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    consumers, _ = _patch(monkeypatch, 10, 1)
    stop = StopFlag()

    def progress(stats: label_loop.LabelSimStats) -> None:
        if stats.consumer_restarts >= label_loop.MAX_JOIN_RETRIES:
            stop.set()

    stats = label_loop.run_label_sim(
        Settings(),
        LabellingTeam(annotators=1, delay_median=0.0, seed=1),
        "requests",
        "labels",
        "group",
        stop,
        on_progress=progress,
        join_timeout=0.01,
    )
    assert stats.consumer_restarts == label_loop.MAX_JOIN_RETRIES
    assert consumers.made == label_loop.MAX_JOIN_RETRIES + 1 and stats.labels == 0
