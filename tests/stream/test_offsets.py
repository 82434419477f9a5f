"""Tier 2: the scorer's own input offsets (what it processed, what it commits).

The scorer's intake commits one past the last record of every batch
:meth:`Scorer.process` completed (see ``streamsift.stream.offsets`` for the faust
defect this replaced); the commits themselves are tested in ``test_intake.py``.
"""

from __future__ import annotations

from streamsift.stream.offsets import ProcessedOffsets
from streamsift.stream.records import SourceRecord


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
