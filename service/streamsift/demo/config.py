"""What one demo run does: traffic, drift, labelling team, worker settings.

Everything the orchestration starts is derived from one :class:`DemoConfig`, so the
report can state exactly what ran. The labelling team works in *simulated* time:
``time_scale`` simulated seconds pass per real second (default 60, so a 3-minute
demo plays three hours of a five-person team). The worker's capacity is the team's
capacity on the wall clock (``team labels/hour x time_scale``), which is what the
worker measures against.

Examples
--------
>>> cfg = DemoConfig(minutes=0.5, rate=250.0)
>>> cfg.duration_s, cfg.drift_after_s, cfg.team_labels_per_hour
(30.0, 12.0, 600.0)
>>> cfg.capacity_per_hour, round(cfg.capacity_per_s, 3), round(cfg.target_fraction, 4)
(36000.0, 10.0, 0.04)
>>> cfg.noise_by_annotator, cfg.offline_events, DemoConfig(minutes=3).offline_events
((0.0, 0.0, 0.0, 0.0, 0.3), 4000, 20000)
>>> sorted(cfg.worker_env("demo-x")).count("STREAMSIFT_CAPACITY_PER_HOUR")
1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from streamsift.config import TOPIC_FIELDS
from streamsift.errors import ConfigurationError

__all__ = ["TOPIC_FIELDS", "DemoConfig"]


@dataclass(frozen=True)
class DemoConfig:
    """Parameters of one ``streamsift demo`` run (the command's flags).

    Parameters
    ----------
    minutes
        Traffic duration (fractional allowed); start-up and shut-down come on top.
    out
        Folder under which ``demo-<timestamp>/`` is written.
    cost_per_label
        Money per label, for the spend and savings figures.
    rate
        Inference events per second sent by the synthetic producer.
    seed
        Seed of the generator, the team and the worker.
    drift_region, drift_fraction, drift_shift
        Region that drifts, when (share of the run) and how strongly (0-3).
    annotators, labels_per_hour, noisy_annotator_noise
        The team: ``annotators`` people labelling ``labels_per_hour`` each (simulated
        time); the last one gives a wrong class with probability
        ``noisy_annotator_noise``.
    delay_median_s
        Median turnaround of a label after the work is done, simulated seconds.
    time_scale
        Simulated seconds per real second for the team.
    control_share
        Share of the label budget spent on uniform control picks.
    gold_rate, gold_items
        Share of requests that carry a gold item (known answer), and how many distinct
        gold items there are; the worker flags annotators who get them wrong.
    min_labels
        Labels before the worker leaves its uniform cold start.
    kafka_port
        Port of the local broker the demo starts (None: a free port).
    bootstrap
        An existing cluster to use instead of starting a broker.
    prometheus
        Start a local Prometheus when the binary is installed.
    live
        Show the live terminal view (otherwise a line every few seconds).
    sim_events, sim_seeds
        Size of the offline savings simulation (0 events: skip it; None: scaled with
        ``minutes``, see :attr:`offline_events`).
    keep_topics
        Keep the run's topics on an existing cluster (a local broker is discarded).
    """

    minutes: float = 3.0
    out: Path = field(default_factory=lambda: Path("reports"))
    cost_per_label: float = 0.5
    rate: float = 250.0
    seed: int = 1
    drift_region: str = "ap-south"
    drift_fraction: float = 0.4
    drift_shift: float = 1.5
    annotators: int = 5
    labels_per_hour: float = 120.0
    noisy_annotator_noise: float = 0.3
    delay_median_s: float = 60.0
    time_scale: float = 60.0
    control_share: float = 0.1
    gold_rate: float = 0.08
    gold_items: int = 200
    min_labels: int = 150
    kafka_port: int | None = None
    bootstrap: str | None = None
    prometheus: bool = True
    live: bool = True
    sim_events: int | None = None
    sim_seeds: int = 3
    keep_topics: bool = False

    def __post_init__(self) -> None:
        checks = (
            ("minutes", self.minutes > 0),
            ("cost_per_label", self.cost_per_label >= 0),
            ("rate", self.rate > 0),
            ("drift_fraction", 0 < self.drift_fraction < 1),
            ("drift_shift", 0 <= self.drift_shift <= 3),
            ("annotators", 1 <= self.annotators <= 64),
            ("labels_per_hour", self.labels_per_hour > 0),
            ("noisy_annotator_noise", 0 <= self.noisy_annotator_noise <= 1),
            ("delay_median_s", self.delay_median_s >= 0),
            ("time_scale", self.time_scale > 0),
            ("control_share", 0 <= self.control_share < 1),
            ("gold_rate", 0 <= self.gold_rate < 1),
            ("gold_items", self.gold_items >= 1),
            ("min_labels", self.min_labels >= 0),
            ("kafka_port", self.kafka_port is None or 0 < self.kafka_port < 65536),
            ("sim_events", self.sim_events is None or self.sim_events >= 0),
            ("sim_seeds", self.sim_seeds >= 1),
        )
        for name, ok in checks:
            if not ok:
                raise ConfigurationError(f"demo: invalid {name}: {getattr(self, name)!r}")

    # --- derived figures ----------------------------------------------------------
    @property
    def duration_s(self) -> float:
        """Seconds of traffic."""
        return self.minutes * 60.0

    @property
    def drift_after_s(self) -> float:
        """Seconds of traffic before the scripted drift."""
        return round(self.duration_s * self.drift_fraction, 3)

    @property
    def drift_index(self) -> int:
        """Index of the first drifted event (the producer paces at ``rate``)."""
        return int(self.drift_after_s * self.rate)

    @property
    def team_labels_per_hour(self) -> float:
        """The team's capacity in simulated time."""
        return self.annotators * self.labels_per_hour

    @property
    def capacity_per_hour(self) -> float:
        """The worker's configured capacity: the team's, on the wall clock."""
        return self.team_labels_per_hour * self.time_scale

    @property
    def capacity_per_s(self) -> float:
        """Capacity in labels per real second."""
        return self.capacity_per_hour / 3600.0

    @property
    def target_fraction(self) -> float:
        """Share of events the capacity allows at the configured rate."""
        return min(1.0, self.capacity_per_s / self.rate)

    @property
    def offline_events(self) -> int:
        """Events of the offline savings run: ``sim_events``, or 20,000 for a 3-minute
        demo, scaled with its length (4,000 to 20,000) so it ends with the live part."""
        if self.sim_events is not None:
            return self.sim_events
        return min(20_000, max(4_000, round(20 * self.minutes / 3) * 1_000))

    @property
    def noise_by_annotator(self) -> tuple[float, ...]:
        """Wrong-label rate of each annotator (the last one is the noisy one)."""
        return (0.0,) * (self.annotators - 1) + (self.noisy_annotator_noise,)

    @property
    def label_delay_s(self) -> float:
        """Typical real seconds from request to label (work plus median turnaround)."""
        return (3600.0 / self.labels_per_hour + self.delay_median_s) / self.time_scale

    # --- command lines and environment of the started processes ---------------------
    def label_sim_args(
        self, summary: Path, ready: Path | None = None, flags_url: str | None = None
    ) -> list[str]:
        """``streamsift label-sim`` arguments: the team, its noise, speed and summary file;
        the file it writes once its partitions are assigned, the worker's ``/metrics``
        whose flagged annotators it stops giving work."""
        noise = ",".join(f"{n:g}" for n in self.noise_by_annotator)
        args = [
            "label-sim", "--annotators", str(self.annotators),
            "--labels-per-hour", f"{self.labels_per_hour:g}", "--noise", noise,
            "--delay-median", f"{self.delay_median_s:g}", "--delay-sigma", "0.5",
            "--time-scale", f"{self.time_scale:g}", "--seed", str(self.seed),
            "--summary-json", str(summary), "--no-progress",
        ]  # fmt: skip
        if ready is not None:
            args += ["--ready-file", str(ready)]
        if flags_url is not None:
            args += ["--flags-from", flags_url]
        return args

    def producer_args(self) -> list[str]:
        """``streamsift produce-synthetic`` arguments: endless, with the scripted drift."""
        return [
            "produce-synthetic", "--rate", f"{self.rate:g}", "--count", "0",
            "--seed", str(self.seed), "--drift-after", f"{self.drift_after_s:g}",
            "--drift-regions", self.drift_region, "--drift-shift", f"{self.drift_shift:g}",
            "--no-progress",
        ]  # fmt: skip

    def topic_names(self, run_id: str) -> dict[str, str]:
        """Settings field to this run's topic name."""
        return {f: f"{run_id}.{f.removeprefix('topic_').replace('_', '-')}" for f in TOPIC_FIELDS}

    def worker_env(self, run_id: str) -> dict[str, str]:
        """``STREAMSIFT_*`` settings shared by the worker, producer and label-sim."""
        env = {
            "STREAMSIFT_APP_ID": run_id,
            "STREAMSIFT_WORKER_ID": f"{run_id}-worker",
            "STREAMSIFT_TOPIC_PARTITIONS": "2",
            "STREAMSIFT_CAPACITY_PER_HOUR": f"{self.capacity_per_hour:g}",
            "STREAMSIFT_COST_PER_LABEL": f"{self.cost_per_label:g}",
            "STREAMSIFT_CONTROL_SHARE": f"{self.control_share:g}",
            "STREAMSIFT_MIN_LABELS": str(self.min_labels),
            "STREAMSIFT_GOLD_RATE": f"{self.gold_rate:g}",
            "STREAMSIFT_QUALITY_GOLD_MIN_ANSWERS": "10",
            "STREAMSIFT_SEED": str(self.seed),
            "STREAMSIFT_TAKE_BATCH": "200",
            "STREAMSIFT_TAKE_WITHIN_SECONDS": "0.1",
            "STREAMSIFT_SESSION_TIMEOUT_SECONDS": "6",
            "STREAMSIFT_HEARTBEAT_INTERVAL_SECONDS": "1",
            "STREAMSIFT_RATE_PUBLISH_SECONDS": "1",
            "STREAMSIFT_EXPIRY_CHECK_SECONDS": "2",
            "STREAMSIFT_PENDING_TTL_SECONDS": "900",
            "STREAMSIFT_DRIFT_WINDOW_EVENTS": "500",
            "STREAMSIFT_DRIFT_WINDOW_SECONDS": "10",
            "STREAMSIFT_SNAPSHOT_EVERY_LABELS": "50",
            "STREAMSIFT_SNAPSHOT_EVERY_SECONDS": "5",
            "STREAMSIFT_SNAPSHOT_HMAC_KEY": f"{run_id}-snapshot-key",
        }
        for name, topic in self.topic_names(run_id).items():
            env[f"STREAMSIFT_{name.upper()}"] = topic
        return env
