"""Topic layout: which topics the service needs, with which partitions and config.

:func:`plan_topics` is pure: from the settings and the partition counts of the
topics that already exist it returns the specs to create, or raises
:class:`~streamsift.errors.TopicLayoutError` naming the topics and counts that
break the layout. :func:`ensure_topics` does the I/O with kafka-python's admin
client and is what ``streamsift worker`` runs before it starts consuming.

The layout:

* ``labels``, ``label-requests``, ``pending`` and the join's two compacted
  changelogs (the pending store's, keyed by event_id, and the annotator
  statistics', keyed by partition number) must have the same partition count (the
  join reads a label and its pending record on the same worker, and the owner of
  partition ``p`` restores changelog partition ``p``);
* ``decisions`` has the partition count of ``inference-events`` (decision records
  of input partition k go to decision partition k, so a worker that takes over
  partition k rebuilds its dedupe set from one partition);
* ``training`` has exactly one partition (one learner, one writer);
* ``model-snapshots`` and ``worker-rates`` are compacted, one partition; every
  other topic is deleted by retention (``topic_retention_ms``).

Examples
--------
>>> from streamsift.config import Settings
>>> s = Settings(topic_partitions=3)
>>> specs = {t.name: t for t in plan_topics(s, existing={s.topic_inference_events: 6})}
>>> specs[s.topic_decisions].partitions, specs[s.topic_labels].partitions
(6, 3)
>>> specs[s.topic_model_snapshots].config["cleanup.policy"]
'compact'
>>> try:
...     plan_topics(s, existing={s.topic_labels: 3, s.topic_pending: 4})
... except TopicLayoutError as err:
...     print(err)  # doctest: +ELLIPSIS
co-partitioning broken: ... found streamsift.labels=3, streamsift.pending=4; ...
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from streamsift.config import Settings
from streamsift.errors import StreamsiftError, TopicLayoutError

__all__ = [
    "PENDING_TABLE",
    "QUALITY_TABLE",
    "TopicSpec",
    "changelog_topic",
    "ensure_topics",
    "plan_topics",
    "quality_changelog_topic",
]

log = logging.getLogger(__name__)

#: Name of the join's store of pending items (the faust table's name before).
PENDING_TABLE: str = "pending-store"
#: Name of the join's store of per-partition annotator statistics.
QUALITY_TABLE: str = "quality-store"


@dataclass(frozen=True)
class TopicSpec:
    """One topic the service needs."""

    name: str
    partitions: int
    replication: int
    config: Mapping[str, str] = field(default_factory=dict)


def changelog_topic(settings: Settings) -> str:
    """The pending store's changelog topic (the name faust gave it)."""
    return f"{settings.app_id}-{PENDING_TABLE}-changelog"


def quality_changelog_topic(settings: Settings) -> str:
    """The annotator statistics' changelog topic (the name faust gave it)."""
    return f"{settings.app_id}-{QUALITY_TABLE}-changelog"


def _group_count(names: list[str], existing: Mapping[str, int], default: int, what: str) -> int:
    counts = {n: existing[n] for n in names if n in existing}
    if len(set(counts.values())) > 1:
        found = ", ".join(f"{n}={c}" for n, c in sorted(counts.items()))
        raise TopicLayoutError(
            f"co-partitioning broken: {what} must have equal partition counts, found {found};"
            " recreate the odd topic(s) or point the settings at fresh topic names"
        )
    return next(iter(counts.values())) if counts else default


def plan_topics(settings: Settings, existing: Mapping[str, int]) -> list[TopicSpec]:
    """Every topic the service needs, given the partition counts of existing topics.

    Raises
    ------
    TopicLayoutError
        When existing topics break co-partitioning or the single-writer training topic.
    """
    s = settings
    retention = {"cleanup.policy": "delete", "retention.ms": str(s.topic_retention_ms)}
    compacted = {"cleanup.policy": "compact"}
    joined = [
        s.topic_labels,
        s.topic_label_requests,
        s.topic_pending,
        changelog_topic(s),
        quality_changelog_topic(s),
    ]
    n_join = _group_count(
        joined, existing, s.topic_partitions, "labels, label-requests, pending and changelogs"
    )
    n_in = _group_count(
        [s.topic_inference_events, s.topic_decisions],
        existing,
        s.topic_partitions,
        "inference-events and the decision log",
    )
    n_train = existing.get(s.topic_training, 1)
    if n_train != 1:
        raise TopicLayoutError(
            f"the training topic {s.topic_training} has {n_train} partitions; it needs exactly 1"
            " (one learner writes the model)"
        )
    rep = s.topic_replication
    specs = [
        TopicSpec(s.topic_inference_events, n_in, rep, retention),
        TopicSpec(s.topic_decisions, n_in, rep, retention),
        TopicSpec(s.topic_labels, n_join, rep, retention),
        TopicSpec(s.topic_label_requests, n_join, rep, retention),
        TopicSpec(s.topic_pending, n_join, rep, retention),
        TopicSpec(changelog_topic(s), n_join, rep, compacted),
        TopicSpec(quality_changelog_topic(s), n_join, rep, compacted),
        TopicSpec(s.topic_drift_events, s.topic_partitions, rep, retention),
        TopicSpec(s.topic_dead_letters, s.topic_partitions, rep, retention),
        TopicSpec(s.topic_training, 1, rep, retention),
        TopicSpec(s.topic_model_snapshots, 1, rep, compacted),
        TopicSpec(s.topic_worker_rates, 1, rep, compacted),
    ]
    return [
        TopicSpec(t.name, existing.get(t.name, t.partitions), t.replication, t.config)
        for t in specs
    ]


def _partition_counts(admin: object, names: list[str]) -> dict[str, int]:
    listed = set(admin.list_topics())  # type: ignore[attr-defined]
    wanted = [n for n in names if n in listed]
    if not wanted:
        return {}
    counts = {}
    for desc in admin.describe_topics(wanted):  # type: ignore[attr-defined]
        if desc.get("error_code", 0) == 0:
            counts[desc["name"]] = len(desc["partitions"])
    return counts


def ensure_topics(settings: Settings, timeout_seconds: float = 30.0) -> list[TopicSpec]:
    """Create the missing topics and check the layout of the existing ones.

    Returns the full layout. Safe to run from several workers at once.

    Raises
    ------
    TopicLayoutError
        See :func:`plan_topics`.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from streamsift.stream.kafka_config import kafka_python_kwargs

    try:
        admin = KafkaAdminClient(
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=int(timeout_seconds * 1000),
            **kafka_python_kwargs(settings),
        )
    except KafkaError as exc:
        raise StreamsiftError(
            f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc!r}"
            " (STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS)"
        ) from None
    try:
        names = [t.name for t in plan_topics(settings, {})]
        specs = plan_topics(settings, _partition_counts(admin, names))
        existing = _partition_counts(admin, names)
        missing = [t for t in specs if t.name not in existing]
        for spec in missing:
            try:
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, spec.replication, {}, dict(spec.config))]
                )
                log.info("created topic %s (%d partitions)", spec.name, spec.partitions)
            except TopicAlreadyExistsError:
                pass  # another worker won the race
        deadline = time.monotonic() + timeout_seconds
        while missing and time.monotonic() < deadline:
            counts = _partition_counts(admin, names)
            if all(t.name in counts for t in specs):
                return plan_topics(settings, counts)
            time.sleep(0.2)
        return specs if not missing else plan_topics(settings, _partition_counts(admin, names))
    finally:
        admin.close()
