"""The stream service: a thin faust-streaming transport around the core's Sampler.

Agents decode, validate, call the core, send and count; everything they do with
one batch or one label lives in small modules that tier-2 tests drive without a
broker (:class:`Scorer`, :class:`Joiner`, :class:`Learner`, snapshot signing,
dedupe, topic layout). :class:`~streamsift.stream.app.StreamService` (imported
lazily: it pulls in faust) wires them into a faust app.
"""

from __future__ import annotations

from streamsift.stream.dedupe import Dedupe
from streamsift.stream.join import Joiner, StoreEntry, make_collector
from streamsift.stream.ports import MemorySink, SamplerLike, Sink
from streamsift.stream.records import SourceRecord
from streamsift.stream.scorer import BatchReport, Scorer
from streamsift.stream.snapshots import SnapshotRefusedError, encode_snapshot, load_snapshot
from streamsift.stream.topics import TopicSpec, ensure_topics, plan_topics

__all__ = [
    "BatchReport",
    "Dedupe",
    "Joiner",
    "MemorySink",
    "SamplerLike",
    "Scorer",
    "Sink",
    "SnapshotRefusedError",
    "SourceRecord",
    "StoreEntry",
    "TopicSpec",
    "encode_snapshot",
    "ensure_topics",
    "load_snapshot",
    "make_collector",
    "plan_topics",
]
