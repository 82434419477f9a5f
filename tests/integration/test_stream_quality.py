"""Tier 3: label quality control on a real broker.

One ``streamsift worker`` with a gold file, a high gold rate and redundancy;
``produce-synthetic`` feeds it; ``label-sim`` answers with five annotators of whom
two (annotator-3, annotator-4) give a wrong class 30% of the time. Checks: the
noisy annotators end up flagged in /metrics and the clean ones do not, aggregated
labels reach the training topic, and no gold item ever does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stream.workers import (
    REPO,
    gold_file,
    read_topic,
    running,
    stream_env,
    topic,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(180)]

N = 8_000
RATE = 1_000.0
NOISY = ("annotator-3", "annotator-4")
CLEAN = ("annotator-0", "annotator-1", "annotator-2")


def _tool(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    full.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "streamsift.cli", *args],
        cwd=REPO,
        env=full,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_noisy_annotators_are_flagged_and_gold_never_trains(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(
        kafka_bootstrap,
        capacity_per_hour=720_000.0,  # 200 labels per second, gold and redundancy included
        min_labels=100,
        gold_path=gold_file(tmp_path / "gold.jsonl"),
        gold_rate=0.5,
        redundancy_share=0.5,
        redundancy_k=3,
        quality_gold_min_answers=25,
        # Clean annotators score 1.0 on gold, noisy ones 0.7: a 0.9 bar keeps a noisy
        # annotator from passing by luck (P(>= 0.8 of 20 at 0.7) is about 0.24).
        quality_flag_below=0.9,
        quality_ds_min_items=30,
        quality_timeout_seconds=20,
        expiry_check_seconds=1,
    )
    with running(env, tmp_path) as worker:
        worker.wait_ready()
        sim = _tool(
            ["label-sim", "--annotators", "5", "--labels-per-hour", "200000",
             "--noise", "0,0,0,0.3,0.3", "--delay-median", "0.2", "--delay-sigma", "0.2",
             "--max-backlog", "5000", "--no-progress", "--seed", "5"],
            env, tmp_path / "label-sim.log",
        )  # fmt: skip
        prod = _tool(
            ["produce-synthetic", "--rate", str(RATE), "--count", str(N), "--seed", "2",
             "--no-progress"],
            env, tmp_path / "producer.log",
        )  # fmt: skip

        def flagged() -> bool:
            return all(
                worker.metric("streamsift_quality_annotator_flagged", annotator=a) == 1
                for a in NOISY
            )

        try:
            assert prod.wait(timeout=60) == 0, (tmp_path / "producer.log").read_text()
            wait_for(
                lambda: worker.metric("streamsift_scorer_events_valid_total") >= N,
                timeout=60,
                what=f"{N} events scored",
                every=1.0,
            )
            wait_for(flagged, timeout=45, what="noisy annotators flagged", every=1.0)
        finally:
            if sim.poll() is None:
                sim.terminate()
                sim.wait(timeout=30)

        for a in CLEAN:
            assert worker.metric("streamsift_quality_annotator_flagged", annotator=a) == 0, a
        gold_ids = {
            p["event_id"]
            for p in (
                json.loads(r.value) for r in read_topic(kafka_bootstrap, topic(env, "pending"))
            )
            if p.get("gold_label") is not None
        }
        trained = [
            json.loads(r.value)["event_id"]
            for r in read_topic(kafka_bootstrap, topic(env, "training"))
        ]
        aggregated = sum(
            worker.metric("streamsift_quality_aggregated_total", method=m)
            for m in ("majority", "dawid_skene")
        )
        gold_answers = sum(
            worker.metric("streamsift_quality_gold_answers_total", annotator=a, result=r)
            for a in (*CLEAN, *NOISY)
            for r in ("correct", "wrong")
        )
        kinds = ("gold", "redundancy", "second_opinion", "extra_opinion")
        extra = {k: worker.metric("streamsift_quality_extra_labels_total", kind=k) for k in kinds}
        print(
            f"gold requests={len(gold_ids)} gold answers={gold_answers:.0f}"
            f" trained={len(trained)} multi-label aggregates={aggregated:.0f} extra={extra}"
        )
        assert gold_ids and gold_answers > 0
        assert trained and aggregated > 0
        assert not gold_ids & set(trained)  # gold never trains
        assert len(trained) == len(set(trained))
        assert worker.stop() == 0
