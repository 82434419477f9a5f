"""Service configuration, read from the environment (prefix ``STREAMSIFT_``).

Every knob has a documented default; an invalid value fails at start with the
name of the offending setting (:func:`load_settings`). Secrets are
:class:`~pydantic.SecretStr` and never printed. Nothing from configuration is
evaluated as code: models and strategies are chosen by name from registries.

Examples
--------
>>> s = Settings(kafka_bootstrap_servers="broker:9093", capacity_per_hour=120)
>>> s.topic_label_requests, s.capacity_per_hour
('streamsift.label-requests', 120.0)
>>> try:
...     Settings(control_share=1.5)
... except Exception as err:
...     print(type(err).__name__, "control_share" in str(err))
ValidationError True
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamsift.errors import ConfigurationError

__all__ = ["TOPIC_FIELDS", "Settings", "load_settings"]


class Settings(BaseSettings):
    """All settings of a streamsift worker and its tools."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMSIFT_", frozen=True, extra="ignore", populate_by_name=True
    )

    # --- Kafka -------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "STREAMSIFT_KAFKA_BOOTSTRAP_SERVERS",
            "KAFKA_BOOTSTRAP_SERVERS",
            "kafka_bootstrap_servers",
        ),
        description="Comma-separated host:port list; falls back to KAFKA_BOOTSTRAP_SERVERS.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    app_id: str = Field(
        default="streamsift", min_length=1, description="Faust app id / consumer group."
    )

    # --- Topics ------------------------------------------------------------------
    topic_inference_events: str = "streamsift.inference-events"
    topic_label_requests: str = "streamsift.label-requests"
    topic_labels: str = "streamsift.labels"
    topic_pending: str = "streamsift.pending"
    topic_drift_events: str = "streamsift.drift-events"
    topic_model_snapshots: str = "streamsift.model-snapshots"
    topic_dead_letters: str = "streamsift.dead-letters"
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1, le=16)
    topic_retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=60_000)

    # --- HTTP --------------------------------------------------------------------
    web_port: int = Field(default=6066, ge=0, le=65535)
    web_host: str = "127.0.0.1"

    # --- Input limits ------------------------------------------------------------
    max_message_bytes: int = Field(default=65_536, ge=256)
    max_features: int = Field(default=512, ge=1)
    max_embedding: int = Field(default=2_048, ge=1)
    dedupe_horizon: int = Field(default=1_000_000, ge=0, description="Event ids remembered.")

    # --- Scoring -----------------------------------------------------------------
    strategy: str = "online-margin"
    base_model: str = "default"
    committee_size: int = Field(default=0, ge=0, le=16)
    min_labels: int = Field(
        default=200, ge=0, description="Cold start: uniform until this many labels."
    )
    seed: int = 0

    # --- Capacity and budget -----------------------------------------------------
    capacity_per_hour: float = Field(default=600.0, gt=0)
    cost_per_label: float = Field(default=0.5, ge=0)
    budget_per_day: float | None = Field(default=None, gt=0)
    control_share: float = Field(default=0.05, ge=0, lt=1)
    p_floor: float = Field(default=0.25, gt=0, le=1)  # core.sampler.Sampler's default
    max_pending: int = Field(default=10_000, ge=1)
    pending_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)
    labeller_features: tuple[str, ...] | None = Field(
        default=None, description="Allow-list of feature names labellers may see (None: all)."
    )

    # --- Drift -------------------------------------------------------------------
    drift_window_events: int = Field(default=2_000, ge=20)
    drift_window_seconds: float = Field(default=300.0, gt=0)
    drift_correction: Literal["bonferroni", "bh"] = "bh"
    drift_ks_alpha: float = Field(default=0.01, gt=0, lt=1)
    drift_psi_alarm: float = Field(default=0.2, gt=0)
    drift_psi_warn: float = Field(default=0.1, gt=0)
    drift_boost: float = Field(default=3.0, ge=1)
    drift_boost_decay_windows: int = Field(default=5, ge=1)
    max_regions: int = Field(default=16, ge=1, le=256)
    concept_delta: float | None = Field(
        default=0.0025,
        gt=0,
        lt=1,
        description="False-alarm level of the concept-change watch on the labels"
        " (a risk-adjusted CUSUM alarming at log(1/delta): at least 1/delta labels"
        " between false alarms on average; None: no watch); see"
        " core.concept.ConceptWatch.",
    )
    relearn_labels: int = Field(
        default=100,
        ge=0,
        description="Labels of uniform sampling after a concept change.",
    )

    # --- Learner / snapshots -----------------------------------------------------
    snapshot_every_labels: int = Field(default=100, ge=1)
    snapshot_every_seconds: float = Field(default=60.0, gt=0)
    snapshot_hmac_key: SecretStr = SecretStr("streamsift-dev-key-change-me")
    promotion_window_labels: int = Field(
        default=500,
        ge=1,
        description="Most recent labels on which the learner compares its model with the"
        " published one before publishing a snapshot.",
    )
    promotion_min_labels: int = Field(
        default=100,
        ge=1,
        description="Below this many recent labels a snapshot is published unjudged.",
    )
    promotion_max_drop: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="A snapshot less accurate than the published model by more than this"
        " (absolute) on the recent labels is withheld; 1 disables the gate.",
    )
    weight_clip: float | None = Field(
        default=1.0,
        ge=1.0,
        description="Largest importance weight p_mean/p; 1.0 trains unweighted (measured better"
        " for the default tree model, see docs/benchmarks.md).",
    )
    evidence_clip: float | None = Field(
        default=3.0,
        ge=1.0,
        description="Largest importance weight p_mean/p of a label in the default tree's"
        " leaves' choice between naive Bayes and the majority class (None: every label"
        " counts once); see core.sampler.Sampler.",
    )

    # --- Quality control ---------------------------------------------------------
    gold_rate: float = Field(default=0.02, ge=0, lt=1)
    gold_path: str | None = None
    redundancy_share: float = Field(default=0.10, ge=0, le=1)
    redundancy_k: int = Field(default=3, ge=2, le=16)
    contradiction_confidence: float = Field(default=0.9, gt=0.5, le=1)
    quality_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="How long a requested item waits for its labels (all k of a redundant"
        " item, or one more opinion) before the collector resolves it with what arrived;"
        " None: pending_ttl_seconds.",
    )
    quality_policy: Literal["downweight", "exclude"] = Field(
        default="downweight", description="What happens to the labels of a flagged annotator."
    )
    quality_gold_min_answers: int = Field(
        default=20, ge=1, description="Gold answers before an annotator can be flagged."
    )
    quality_flag_below: float = Field(
        default=0.8, gt=0, le=1, description="Flag an annotator whose accuracy is below this."
    )
    quality_min_confidence: float = Field(
        default=0.6, ge=0, le=1, description="Aggregates below this confidence ask again."
    )
    quality_max_extra_opinions: int = Field(
        default=1, ge=0, le=8, description="Extra opinions per item for ties / low confidence."
    )
    quality_ds_min_items: int = Field(
        default=50, ge=2, description="Multi-label items before Dawid-Skene replaces the vote."
    )
    metrics_max_annotators: int = Field(
        default=50, ge=1, description="Distinct annotator label values in quality metrics."
    )

    # --- Batching ----------------------------------------------------------------
    take_batch: int = Field(default=500, ge=1)
    take_within_seconds: float = Field(default=0.2, gt=0)

    # --- Stream service (streamsift.stream) ---------------------------------------
    topic_decisions: str = Field(
        default="streamsift.decisions",
        description="Decision log: one record per batch of decided events, co-partitioned"
        " with inference-events; rebuilds the dedupe set after a restart.",
    )
    topic_training: str = Field(
        default="streamsift.training", description="Joined labels for the learner (1 partition)."
    )
    topic_worker_rates: str = Field(
        default="streamsift.worker-rates",
        description="Compacted: each worker's measured event rate, for global capacity.",
    )
    model_name: str = Field(
        default="streamsift", min_length=1, description="Key of the model-snapshots topic."
    )
    worker_id: str | None = Field(
        default=None, description="Stable worker name; default host-pid (for worker-rates)."
    )
    store: str = Field(default="memory://", description="Faust table store URL.")
    commit_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often consumed offsets are committed."
    )
    session_timeout_seconds: float = Field(
        default=30.0,
        ge=6.0,
        le=300.0,
        description="Consumer-group session timeout: how long a killed worker keeps its"
        " partitions before the group moves them.",
    )
    heartbeat_interval_seconds: float = Field(
        default=3.0, gt=0, description="Consumer-group heartbeat period."
    )
    rate_publish_seconds: float = Field(
        default=2.0, gt=0, description="Period of the worker-rate publication."
    )
    rate_stale_seconds: float = Field(
        default=10.0, gt=0, description="A worker silent this long no longer counts as live."
    )
    expiry_check_seconds: float = Field(
        default=5.0, gt=0, description="Period of the pending-store expiry scan."
    )
    pending_tombstone_seconds: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="How long a joined/expired marker is kept to recognise duplicate and"
        " late labels.",
    )
    early_label_grace_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A label that arrives before its pending item waits this long in the"
        " pending store before it is dead-lettered as unknown.",
    )
    recovery_lookback_seconds: float = Field(
        default=120.0,
        gt=0,
        description="After a restart, label-requests older than the uncertain decisions by"
        " more than this are not searched.",
    )
    snapshot_tail_records: int = Field(
        default=8, ge=1, description="Snapshots read back on start to find the newest valid one."
    )
    snapshot_startup_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On start the scorer waits up to this long for the newest snapshot to be"
        " read back before it scores (0: no wait); past it, it scores with the model it has.",
    )
    metrics_max_features: int = Field(
        default=32, ge=1, description="Distinct feature label values in drift metrics."
    )

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.drift_psi_warn > self.drift_psi_alarm:
            raise ValueError("drift_psi_warn must not exceed drift_psi_alarm")
        if self.promotion_min_labels > self.promotion_window_labels:
            raise ValueError("promotion_min_labels must not exceed promotion_window_labels")
        if self.kafka_security_protocol.startswith("SASL") and not self.kafka_sasl_mechanism:
            raise ValueError("kafka_sasl_mechanism is required for a SASL security protocol")
        return self


#: Settings fields that name a topic (every topic the service reads or writes).
TOPIC_FIELDS: tuple[str, ...] = tuple(
    name
    for name, field in Settings.model_fields.items()
    if name.startswith("topic_") and field.annotation is str
)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides.

    Raises
    ------
    ConfigurationError
        Naming every offending setting (as its environment variable).
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        names = []
        for e in err.errors(include_url=False):
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            names.append(f"STREAMSIFT_{field.upper()} ({field}): {e['msg']}")
        raise ConfigurationError("invalid configuration: " + "; ".join(names)) from None


def env_snapshot() -> dict[str, str]:
    """The STREAMSIFT_ variables in the environment (for diagnostics; secrets masked)."""
    return {
        k: ("***" if any(s in k for s in ("PASSWORD", "KEY", "SECRET")) else v)
        for k, v in os.environ.items()
        if k.startswith("STREAMSIFT_")
    }
