"""The drift monitor's false alarms on the demo's generator without a drift."""

from __future__ import annotations

import json

import pytest

from streamsift.bench.drift_alarms import AlarmCount, false_alarms, main


def test_the_demos_seed_has_two_false_alarms_on_channel() -> None:
    """The demo (seed 1, 180 s at 250 events/s, 500-event windows) shows one alarm in
    eu-west and one in us-east, which do not drift: two of its 93 stationary windows
    alarm on the categorical `channel`, as this replay without the drift shows."""
    r = false_alarms(seed=1)
    assert (r.windows, r.alarms, r.by_feature) == (93, 2, {"channel": 2})


def test_rate_and_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert AlarmCount(200, 1).rate == 0.005 and AlarmCount(0, 0).rate == 0.0
    assert main(["--seeds", "2-3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == 2 and out["windows"] == 186
    assert 0 <= out["alarms"] <= out["windows"] and out["rate"] == out["alarms"] / 186
