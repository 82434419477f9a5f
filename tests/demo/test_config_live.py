"""Tier 1: demo configuration, the live view, the command's arguments."""

from __future__ import annotations

import pytest
from rich.console import Console

from streamsift.cli import build_parser
from streamsift.demo.config import TOPIC_FIELDS, DemoConfig
from streamsift.demo.live import live_status, render, status_line
from streamsift.demo.prom import prometheus_config
from streamsift.demo.series import Recording
from streamsift.errors import ConfigurationError
from tests.demo import canned


def test_capacity_is_the_team_on_the_wall_clock() -> None:
    cfg = DemoConfig(annotators=4, labels_per_hour=90, time_scale=30)
    assert cfg.team_labels_per_hour == 360
    assert cfg.capacity_per_hour == 10_800
    assert cfg.capacity_per_s == pytest.approx(3.0)
    assert cfg.noise_by_annotator == (0.0, 0.0, 0.0, cfg.noisy_annotator_noise)


def test_fractional_minutes_and_drift_timing() -> None:
    cfg = DemoConfig(minutes=0.5, rate=200, drift_fraction=0.5)
    assert cfg.duration_s == 30.0
    assert cfg.drift_after_s == 15.0
    assert cfg.drift_index == 3000


@pytest.mark.parametrize(
    "kwargs",
    [{"minutes": 0}, {"rate": -1}, {"drift_fraction": 1.0}, {"annotators": 0},
     {"kafka_port": 70000}, {"control_share": 1.0}],
)  # fmt: skip
def test_invalid_settings_name_the_parameter(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        DemoConfig(**kwargs)  # type: ignore[arg-type]


def test_worker_env_gives_every_topic_a_run_specific_name() -> None:
    env = DemoConfig().worker_env("demo-abc")
    topics = [env[f"STREAMSIFT_{f.upper()}"] for f in TOPIC_FIELDS]
    assert len(set(topics)) == len(TOPIC_FIELDS)
    assert all(t.startswith("demo-abc.") for t in topics)
    assert env["STREAMSIFT_APP_ID"] == "demo-abc"
    assert env["STREAMSIFT_CAPACITY_PER_HOUR"] == "36000"


def test_live_view_renders_the_numbers() -> None:
    cfg = DemoConfig(minutes=1.0)
    st = live_status(canned.recording(), cfg, elapsed=60.0, links={"prometheus": "http://p"})
    assert st.events_per_s == pytest.approx(250.0)
    assert st.requests_per_s == pytest.approx(9.0)
    assert st.model_version == 6
    assert st.alarms == {"ap-south": 1}
    assert st.labels_per_s == pytest.approx(10.8)
    assert st.extra_labels == 108
    assert st.flagged == ("annotator-4",)
    console = Console(record=True, width=140)
    console.print(render(st))
    text = console.export_text()
    for needle in ("250/s", "10.8/s of capacity 10.0/s", "+108 quality-control labels",
                   "ap-south: 1", "online 80.0%", "model version", "http://p",
                   "lowest gold accuracy annotator-4 70%; flagged: annotator-4"):  # fmt: skip
        assert needle in text
    assert "events 250/s" in status_line(st)
    assert "flagged annotator-4" in status_line(st)


def test_live_view_before_the_first_scrape() -> None:
    st = live_status(Recording(), DemoConfig(), elapsed=0.0)
    assert st.events == 0 and st.online is None
    Console(record=True).print(render(st))


def test_prometheus_config_keeps_the_job_name() -> None:
    cfg = prometheus_config("127.0.0.1:1234", None)
    assert cfg["scrape_configs"][0]["job_name"] == "streamsift"
    assert cfg["rule_files"] == []


def test_demo_command_arguments() -> None:
    args = build_parser().parse_args(
        ["demo", "--minutes", "0.5", "--out", "r", "--cost-per-label", "0.25"]
    )
    assert (args.minutes, args.out, args.cost_per_label) == (0.5, "r", 0.25)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--minutes", "0"])
