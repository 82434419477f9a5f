"""Tier 1: the benchmark's profile summary (py-spy raw stacks summed by stage)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from streamsift.bench.profile import STAGES, Profiler, find_py_spy, summarise
from streamsift.bench.report import render_profile

_P = 'process 7:"python -m streamsift.cli worker"'


def _line(frames: list[str], n: int) -> str:
    return ";".join([_P, *(f"{f} (x.py:{i})" for i, f in enumerate(frames))]) + f" {n}"


def test_each_sample_lands_in_the_first_stage_its_stack_names() -> None:
    lines = [
        # inside Scorer.process: the specific part wins over "rest of Scorer.process"
        _line(["run", "Scorer.process", "decode_core_event", "inference_fields"], 5),
        _line(
            [
                "run",
                "Scorer.process",
                "Scorer._decide",
                "Sampler.decisions",
                "OnlineModel.predict_proba_many",
                "CompiledHat._nb",
            ],
            4,
        ),
        _line(
            [
                "run",
                "Scorer.process",
                "Scorer._decide",
                "Sampler.decisions",
                "DriftMonitor.update_many",
            ],
            3,
        ),
        _line(["run", "Scorer.process", "Scorer._decide", "Sampler.decisions", "margin"], 2),
        _line(["run", "Scorer.process", "Scorer._decide", "Sampler._finishing"], 2),
        _line(["run", "Scorer.process", "encode_rows"], 1),
        _line(["run", "Scorer.process", "Dedupe.check"], 1),
        _line(["run", "Scorer.process", "uuid4"], 1),
        _line(["run", "GroupLoop.run", "AIOKafkaConsumer.getmany", "Fetcher.fetched_records"], 3),
        _line(["Handle._run", "Sender._send_produce_req"], 2),
        _line(["Handle._run", "RequestHandler._handle_request"], 1),
        _line(["run", "EpollSelector.select"], 4),
        _line(["Handle._run", "GroupCoordinator._do_commit_offsets"], 1),
        _P + " 2",  # a sample without any Python frame
        "garbage without a count",
        "",
    ]
    s = summarise(lines)
    got = {st.name: st.samples for st in s.stages}
    assert got == {
        "decode": 5,
        "online_model": 4,
        "drift": 3,
        "sampler_batch": 2,
        "selection": 2,
        "decision_log": 1,
        "dedupe": 1,
        "scorer_rest": 1,
        "kafka_fetch": 3,
        "kafka_produce": 2,
        "metrics_http": 1,
        "idle": 4,
        "native": 2,
        "other": 1,
    }
    assert s.samples == 32 and sum(got.values()) == 32
    assert [st.name for st in s.stages][: len(STAGES)] == [name for name, _, _ in STAGES]
    assert s.busy_share("decode") == pytest.approx(5 / 28)
    assert s.busy_share("idle") == pytest.approx(4 / 28)


def test_a_frame_that_only_starts_like_a_stage_does_not_match_it() -> None:
    s = summarise([_line(["run", "decode_core_events_elsewhere"], 3)])
    assert {st.name: st.samples for st in s.stages if st.samples} == {"other": 3}


def test_rendered_table_shares_the_busy_samples() -> None:
    s = summarise(
        [_line(["Scorer.process", "decode_core_event"], 3), _line(["EpollSelector.select"], 1)]
    )
    text = render_profile(asdict(s))
    assert "4 samples, not idle in 75% of them" in text
    assert "| decode + validate (`decode_core_event`) | 100.0% |" in text
    assert "idle (waiting" not in text  # shares are of the busy samples
    assert render_profile(None) == "" and render_profile({"samples": 0, "stages": []}) == ""


@pytest.mark.skipif(find_py_spy() is None, reason="py-spy not installed (the profile extra)")
def test_profiler_samples_a_running_python_process(tmp_path: Path) -> None:
    code = "import time\ndef spin():\n    t=time.time()\n    while time.time()-t<30: pass\nspin()\n"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        prof = Profiler(child.pid, tmp_path / "p.txt", rate=100)
        time.sleep(1.5)
        summary = prof.stop()
    finally:
        child.kill()
        child.wait()
    if summary is None and "ptrace" in (tmp_path / "p.log").read_text(errors="replace"):
        pytest.skip("this machine does not allow ptrace")
    assert summary is not None and summary.samples > 20
    assert {st.name: st.samples for st in summary.stages}["other"] == summary.samples
