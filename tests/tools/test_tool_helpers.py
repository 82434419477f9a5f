"""Tier 1: pure helpers of the tool commands and of the benchmark (no broker, no timing)."""

from __future__ import annotations

import argparse

import pytest

from streamsift.bench.broker_bench import _quantile
from streamsift.bench.core_bench import render_markdown
from streamsift.bench.report import BEGIN, END, render_broker, replace_section
from streamsift.bench.worker_proc import TOPIC_FIELDS, parse_metrics, topic_env
from streamsift.cli import build_parser
from streamsift.commands.label_sim import parse_floats
from streamsift.commands.produce_synthetic import _build_stream, parse_regions
from streamsift.config import Settings
from streamsift.errors import ConfigurationError
from streamsift.tools.kafka_io import ProduceStats, StopFlag, produce_synthetic
from streamsift.tools.synthetic import DEFAULT_REGIONS, SyntheticStream


def test_parse_regions() -> None:
    assert parse_regions(None) == DEFAULT_REGIONS
    assert parse_regions("a=1,b=3") == {"a": 1.0, "b": 3.0}
    assert parse_regions("north, south") == {"north": 1.0, "south": 1.0}
    with pytest.raises(ConfigurationError):
        parse_regions("a=x")


def test_parse_floats() -> None:
    assert parse_floats("0.3", "--noise") == 0.3
    assert parse_floats("0,0,0.3", "--noise") == (0.0, 0.0, 0.3)
    for bad in ("", "a,b"):
        with pytest.raises(ConfigurationError):
            parse_floats(bad, "--noise")


def _args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(["produce-synthetic", *argv])


def test_cli_flags_build_the_stream() -> None:
    args = _args(["--seed", "4", "--drift-at", "10", "--drift-regions", "eu-west,sa-east"])
    stream = _build_stream(args)
    assert (stream.seed, stream.drift_at, stream.drift_regions) == (4, 10, ("eu-west", "sa-east"))
    after = _build_stream(
        _args(["--rate", "50", "--drift-after", "2", "--drift-regions", "eu-west"])
    )
    assert after.drift_at == 100
    assert _build_stream(_args(["--start-index", "7"])).position == 7
    with pytest.raises(ConfigurationError):
        _build_stream(_args(["--drift-at", "5"]))
    with pytest.raises(ConfigurationError):
        _build_stream(_args(["--rate", "0", "--drift-after", "1", "--drift-regions", "a"]))


def test_every_tool_command_is_registered() -> None:
    parser = build_parser()
    for cmd in (["label-sim"], ["bench"], ["produce-synthetic"]):
        assert callable(parser.parse_args(cmd).func)


class _FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.flushed = 0

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None:
        self.flushed += 1


def test_produce_loop_sends_keyed_events_and_flushes() -> None:
    producer = _FakeProducer()
    stream = SyntheticStream(seed=1)
    stats = produce_synthetic(producer, "t", stream, count=1234, live_timestamps=False)
    assert stats.sent == 1234 == len(producer.sent) and producer.flushed == 1
    expected = SyntheticStream(seed=1).take(1234)
    assert [k for _, k, _ in producer.sent] == [e.event_id.encode() for e in expected]
    assert producer.sent[5][2] == expected[5].to_json()
    assert stream.position == 1234


def test_produce_loop_stops_on_flag() -> None:
    producer = _FakeProducer()
    flag = StopFlag()
    seen: list[int] = []

    def progress(n: int) -> None:
        seen.append(n)
        if sum(seen) >= 1000:
            flag.set()

    stats = produce_synthetic(
        producer, "t", SyntheticStream(), count=None, stop=flag, on_progress=progress, chunk=500
    )
    assert stats.sent == 1000 and producer.flushed == 1
    assert ProduceStats().rate == 0.0


def test_topic_env_names_every_topic_uniquely() -> None:
    env = topic_env("abc")
    assert len(env) == len(TOPIC_FIELDS) == len(set(env.values()))
    fields: dict[str, object] = {k.removeprefix("STREAMSIFT_").lower(): v for k, v in env.items()}
    settings = Settings.model_validate(fields)
    assert settings.topic_inference_events == "bench-abc.inference_events"
    assert all(v.startswith("bench-abc.") for v in env.values())


def test_parse_metrics_sums_labelled_samples() -> None:
    text = (
        "# HELP x\n# TYPE streamsift_scorer_events_consumed_total counter\n"
        "streamsift_scorer_events_consumed_total 1234.0\n"
        'streamsift_scorer_label_requests_total{arm="active"} 3.0\n'
        'streamsift_scorer_label_requests_total{arm="control"} 1.0\n'
    )
    m = parse_metrics(text)
    assert m["streamsift_scorer_events_consumed_total"] == 1234.0
    assert m["streamsift_scorer_label_requests_total"] == 4.0


def test_quantile() -> None:
    assert _quantile([], 0.5) is None
    assert _quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert _quantile([0.0, 10.0], 0.99) == pytest.approx(9.9)


def test_reports_render() -> None:
    core = {
        "lines": [
            {
                "name": "decide x",
                "value": 12.0,
                "unit": "µs/event",
                "baseline": "json.loads",
                "baseline_value": 4.0,
                "ratio": 3.0,
                "note": "warm",
            }
        ]
    }
    assert "| decide x | 12.00 µs/event | json.loads: 4.00 | 3.00x | warm |" in render_markdown(
        core
    )
    broker = {
        "raw_consumer_rate": 40_000.0,
        "pipeline_rate": 21_000.0,
        "pipeline_to_raw_ratio": 0.525,
        "p99_latency_seconds": 0.3,
        "targets": {"pipeline_at_least_20k_per_worker": True, "p99_under_250ms": False},
        "config": {"events": 1000, "partitions": 4, "capacity_per_hour": 1.0},
    }
    text = render_broker(broker)
    assert "21,000 events/s | >= 20,000: met" in text
    assert "300 ms | < 250 ms: **not met**" in text
    assert "n/a" in text  # figures that were not measured


def test_replace_section_appends_then_replaces() -> None:
    doc = replace_section("# B\n", "one\n")
    assert doc == f"# B\n\n{BEGIN}\none\n{END}\n"
    assert replace_section(doc + "\nkept\n", "two") == f"# B\n\n{BEGIN}\ntwo\n{END}\n\nkept\n"
