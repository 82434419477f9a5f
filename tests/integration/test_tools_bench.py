"""Tier 3: ``streamsift bench`` completes on a small run and writes the required figures.

Speed is never asserted here (the figures live in docs/benchmarks.md); this only
checks that every phase ran against the real worker and produced its numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from streamsift.cli import main

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]

REQUIRED = (
    "raw_consumer_rate",
    "pipeline_rate",
    "p50_latency_seconds",
    "p99_latency_seconds",
    "rss_bytes_10pct",
    "rss_bytes_100pct",
)


def test_bench_small_run_writes_every_figure(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--bootstrap",
            kafka_bootstrap,
            "--events",
            "3000",
            "--latency-seconds",
            "3",
            "--json",
            str(out),
            "--out-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    for key in REQUIRED:
        value = result[key]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, key
    assert result["p99_latency_seconds"] >= result["p50_latency_seconds"]
    assert result["latency_samples"] > 0
    assert result["worker_consumed_total"] >= 3000
    assert result["worker_exit_code"] == 0
    # the worker scored with the trained model published before it started
    assert result["warm_model"]["labels_seen"] == 2000 and result["warm_model"]["warm"]
    assert result["worker_model_version"] == result["warm_model"]["model_version"] == 1
    assert set(result["targets"]) == {
        "pipeline_at_least_half_raw",
        "pipeline_at_least_20k_per_worker",
        "p99_under_250ms",
        "rss_within_1_2x",
    }
