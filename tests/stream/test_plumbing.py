"""Tier 2: topic layout, metric conventions, dedupe, decision-log chunking, rate sharing."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from streamsift.config import Settings
from streamsift.errors import TopicLayoutError
from streamsift.metrics import LabelCap, Metrics
from streamsift.stream.decisions import LoggedDecision, decode_batch, encode_batches
from streamsift.stream.dedupe import Dedupe
from streamsift.stream.kafka_config import aiokafka_kwargs, faust_credentials
from streamsift.stream.rates import RateBoard
from streamsift.stream.topics import changelog_topic, plan_topics
from tests.stream.fakes import value

S = Settings(topic_partitions=4, app_id="app")


def test_fresh_layout() -> None:
    specs = {t.name: t for t in plan_topics(S, {})}
    assert specs[S.topic_training].partitions == 1
    assert specs[S.topic_model_snapshots].config == {"cleanup.policy": "compact"}
    assert specs[S.topic_worker_rates].config == {"cleanup.policy": "compact"}
    assert specs[S.topic_labels].config["retention.ms"] == str(S.topic_retention_ms)
    assert specs[changelog_topic(S)].partitions == 4
    assert changelog_topic(S) == "app-pending-store-changelog"


@pytest.mark.parametrize(
    ("existing", "named"),
    [
        ({S.topic_labels: 4, S.topic_label_requests: 8}, "streamsift.label-requests=8"),
        ({S.topic_pending: 2, "app-pending-store-changelog": 4}, "streamsift.pending=2"),
        ({S.topic_inference_events: 6, S.topic_decisions: 4}, "streamsift.inference-events=6"),
        ({S.topic_training: 3}, "streamsift.training has 3 partitions"),
    ],
)
def test_broken_layouts_are_refused_with_names_and_counts(
    existing: dict[str, int], named: str
) -> None:
    with pytest.raises(TopicLayoutError, match=named):
        plan_topics(S, existing)


def test_existing_counts_are_kept_when_consistent() -> None:
    specs = {t.name: t.partitions for t in plan_topics(S, {S.topic_labels: 12})}
    assert specs[S.topic_pending] == specs[S.topic_label_requests] == 12
    assert specs[S.topic_inference_events] == 4


def _families(reg: CollectorRegistry) -> list[Metric]:
    return list(reg.collect())


def test_metric_names_follow_the_conventions() -> None:
    reg = CollectorRegistry()
    Metrics(reg)
    families = _families(reg)
    assert len(families) >= 40
    for fam in families:
        assert fam.name.startswith("streamsift_"), fam.name
        if fam.type == "histogram":
            assert fam.name.endswith("_seconds"), fam.name
        if fam.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in fam.samples)
        for sample in fam.samples:
            assert "event_id" not in sample.labels


def test_known_label_values_are_exported_as_zero_up_front() -> None:
    reg = CollectorRegistry()
    Metrics(reg)
    labels = {"source": "labels", "reason": "unknown"}
    assert reg.get_sample_value("streamsift_deadletters_total", labels) == 0
    assert value(reg, "snapshot_refused_total", reason="bad_signature") == 0


def test_label_cap_buckets_overflow_as_other() -> None:
    cap = LabelCap(2)
    assert [cap(v) for v in ("a", "other", "b", "c", "a")] == ["a", "other", "b", "other", "a"]
    with pytest.raises(ValueError, match="limit"):
        LabelCap(0)


def test_dedupe_disabled_and_validation() -> None:
    d = Dedupe(0, 4)
    d.add(0, "a", 1)
    assert d.check(0, "a", 1) == "new" and len(d) == 0
    with pytest.raises(ValueError, match="partitions"):
        Dedupe(10, 0)


def test_decision_records_split_under_the_size_limit() -> None:
    ids = [f"e{i}" for i in range(300)]
    rows = [
        LoggedDecision(e, i, False, "none", 0.1, 0.2, "eu", 0, "nope") for i, e in enumerate(ids)
    ]
    raws = encode_batches("t", 1, "w", 0.0, rows, {}, max_bytes=2_000)
    assert len(raws) > 1 and all(len(r) <= 2_500 for r in raws)
    assert [d.event_id for r in raws for d in decode_batch(r).decisions] == ids
    with pytest.raises(ValueError, match="decision record"):
        decode_batch(b'{"v": 99}')


def test_rate_board_shares_capacity_by_rate() -> None:
    board = RateBoard("me", stale_seconds=10.0)
    assert board.share(own_rate=0.0, now=0.0) == 1.0
    board.update("a", 100.0, at=0.0)
    board.update("b", 100.0, at=0.0)
    assert board.share(own_rate=200.0, now=1.0) == 0.5
    assert board.share(own_rate=0.0, now=1.0) == pytest.approx(1e-6)
    board.update("a", None, at=2.0)  # graceful leave
    assert board.live(now=2.0) == 2
    board.update("me", 5.0, at=0.0)  # own records are ignored
    assert board.live(now=2.0) == 2


def test_security_settings_pass_through() -> None:
    s = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password="pw",
    )
    kw = aiokafka_kwargs(s)
    assert (kw["security_protocol"], kw["sasl_mechanism"], kw["sasl_plain_password"]) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
        "pw",
    )
    creds = faust_credentials(s)
    assert creds.username == "svc" and creds.mechanism.value == "SCRAM-SHA-512"
    assert faust_credentials(Settings()) is None
