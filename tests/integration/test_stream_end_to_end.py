"""Tier 3 (a): the whole loop on a real broker.

``streamsift produce-synthetic`` sends 20,000 events with a covariate drift in one
region from event 10,000; one ``streamsift worker`` scores them; ``streamsift
label-sim`` answers the requests; the worker joins the labels, learns, snapshots.
Checks: requests within capacity, the drifted region's share of requests rises,
drift events name that region, labels come back and are joined, the model version
advances, and the snapshots of the online model's second half are more accurate, on
average, on fresh events of the drifted stream than the one taken when bootstrap ended.
"""

from __future__ import annotations

import collections
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from streamsift.core.online import OnlineModel
from streamsift.stream.snapshots import load_snapshot
from streamsift.tools import SyntheticStream
from tests.stream.workers import REPO, read_topic, running, stream_env, topic, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

N = 20_000
DRIFT_AT = 10_000
RATE = 1_000.0  # events per second
CAPACITY_PER_HOUR = 108_000.0  # 30 labels per second
DRIFTED = "ap-south"
WARM_UP = 5.0  # seconds
MIN_LABELS = 100


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


def _index(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


def test_end_to_end_drift_capacity_labels_and_learning(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = stream_env(
        kafka_bootstrap,
        capacity_per_hour=CAPACITY_PER_HOUR,
        min_labels=MIN_LABELS,
        control_share=0.1,
        snapshot_every_labels=50,
        snapshot_every_seconds=2,
        drift_window_events=400,
        drift_boost=4.0,
        drift_boost_decay_windows=10,
    )
    with running(env, tmp_path) as worker:
        worker.wait_ready()
        sim = _tool(
            ["label-sim", "--annotators", "4", "--labels-per-hour", "100000",
             "--delay-median", "0.3", "--delay-sigma", "0.2", "--no-progress", "--seed", "3"],
            env, tmp_path / "label-sim.log",
        )  # fmt: skip
        prod = _tool(
            ["produce-synthetic", "--rate", str(RATE), "--count", str(N), "--seed", "1",
             "--drift-at", str(DRIFT_AT), "--drift-regions", DRIFTED, "--no-progress"],
            env, tmp_path / "producer.log",
        )  # fmt: skip

        def progress() -> bool:
            return worker.metric("streamsift_scorer_events_valid_total") >= N

        try:
            assert prod.wait(timeout=120) == 0, (tmp_path / "producer.log").read_text()
            wait_for(progress, timeout=120, what=f"{N} events scored", every=1.0)

            # Answers processed: joined, or held out by quality control (a label that
            # contradicts a confident model when no capacity is left for a second
            # opinion: 11 and 38 of ~490 items in two runs of 2026-11-27).
            def answered() -> bool:
                m = worker.metrics()
                arms = ("active", "control", "bootstrap")

                def get(name: str, **labels: str) -> float:
                    return m.get((name, tuple(sorted(labels.items()))), 0.0)

                joined = sum(get("streamsift_join_labels_joined_total", arm=a) for a in arms)
                held = sum(v for (n, _), v in m.items() if n == "streamsift_quality_held_out_total")
                asked = sum(get("streamsift_scorer_label_requests_total", arm=a) for a in arms)
                return joined + held >= 0.9 * asked

            wait_for(
                answered,
                timeout=60,
                what="label-sim answers joined or held out",
                every=1.0,
            )
            time.sleep(3)  # a last snapshot
        finally:
            for proc in (prod, sim):
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=30)

        requests = [
            json.loads(r.value) for r in read_topic(kafka_bootstrap, topic(env, "label-requests"))
        ]
        assert requests
        # Capacity, in steady state: the requests' own timestamps after a warm-up of
        # WARM_UP seconds (the rate estimate starts from nothing; the token bucket
        # allows a burst of a minute's capacity).
        times = sorted(datetime.fromisoformat(r["requested_at"]).timestamp() for r in requests)
        steady = [t for t in times if t >= times[0] + WARM_UP]
        span = max(steady[-1] - steady[0], 1.0)
        allowed = CAPACITY_PER_HOUR / 3600.0 * span
        assert len(steady) <= 1.1 * allowed, (len(steady), allowed)
        # Drift: the drifted region's share of requests at least doubles after the drift.
        assert any(r["arm"] == "active" for r in requests), "the model never warmed up"
        # Drift: drift events name the drifted region, and once it is detected that
        # region's share of the requests is at least twice what it was before the drift.
        drift = [
            json.loads(r.value) for r in read_topic(kafka_bootstrap, topic(env, "drift-events"))
        ]
        drifted = collections.Counter(d["region"] for d in drift if d["drifted"])
        assert drifted and drifted.most_common(1)[0][0] == DRIFTED, drifted
        detected = min(
            datetime.fromisoformat(d["detected_at"]).timestamp()
            for d in drift
            if d["drifted"] and d["region"] == DRIFTED
        )
        before = [r for r in requests if _index(r["event_id"]) < DRIFT_AT]
        after = [
            r
            for r in requests
            if _index(r["event_id"]) >= DRIFT_AT
            and datetime.fromisoformat(r["requested_at"]).timestamp() > detected
        ]
        share_before = sum(r["region"] == DRIFTED for r in before) / max(1, len(before))
        share_after = sum(r["region"] == DRIFTED for r in after) / max(1, len(after))
        assert len(after) >= 50 and share_after >= 2 * share_before, (share_before, share_after)
        # Labels came back, were joined and learned; the model moved on.
        assert read_topic(kafka_bootstrap, topic(env, "labels"))
        assert worker.metric("streamsift_learner_labels_learned_total") > MIN_LABELS
        assert worker.metric("streamsift_model_version") >= 2
        # The model learned: on fresh events of the drifted stream, the snapshots of the
        # second half of the run (by labels seen) beat, in their median, the one taken
        # when bootstrap ended (the first with MIN_LABELS labels). The median, not the
        # last one alone nor the mean: a snapshot of an adaptive tree trained on a few
        # hundred actively chosen labels can predict one class for a moment (a replay of
        # one run's 623 labels: 4 of 10 tree seeds, 0.28 against 0.79; 2026-11-27, in 3
        # of ~20 runs one or two second-half snapshots at 0.23-0.29 or 0.56 between
        # others at 0.78-0.84, which pulled the mean below the bootstrap-end snapshot).
        # 2 of those ~20 runs stayed collapsed to the end and failed. The learner now
        # publishes through a promotion gate (docs/stream.md, "Learner"), which holds
        # such snapshots back: 10 of 10 runs passed after it, median above the
        # bootstrap-end snapshot by 0.02-0.14, 0-4 snapshots withheld per run. A CI run
        # later failed (0.787 -> 0.698): river's leaf naive Bayes let a class seen once
        # in a leaf win every event there; with core.leaf_bayes the in-process replay
        # of this setting passes 40 of 40 seeds (1 of 40 failed before; margin 0.01-0.17).
        key = env["STREAMSIFT_SNAPSHOT_HMAC_KEY"].encode()
        snaps = [
            load_snapshot(r.value, key=key, model_name="streamsift")
            for r in read_topic(kafka_bootstrap, topic(env, "model-snapshots"))
        ]
        fresh = SyntheticStream(seed=1, drift_at=DRIFT_AT, drift_regions=(DRIFTED,))
        held_out = [fresh.event_at(i) for i in range(N, N + 4_000)]

        def accuracy(model: OnlineModel) -> float:
            hits = sum(model.predict_one(e.features) == e.label for e in held_out)
            return hits / len(held_out)

        warm = next(m for h, m in snaps if h.labels_seen >= MIN_LABELS)
        seen = snaps[-1][0].labels_seen
        late = [accuracy(m) for h, m in snaps if h.labels_seen >= seen / 2]
        warm_accuracy, final = accuracy(warm), statistics.median(late)
        print(
            f"requests={len(requests)} steady={len(steady)} allowed={allowed:.0f}"
            f" share_before={share_before:.3f} share_after={share_after:.3f}"
            f" drifted={dict(drifted)} accuracy={warm_accuracy:.3f} -> median {final:.3f}"
            f" (second half: {[round(a, 3) for a in late]}; withheld"
            f" {worker.metric('streamsift_learner_snapshots_withheld_total'):.0f})"
        )
        assert final > warm_accuracy, (warm_accuracy, late)
        assert worker.stop() == 0
