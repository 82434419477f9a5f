"""Tier 1: the promotion replay (the end-to-end setting in process) runs and is seeded."""

from __future__ import annotations

import math
from typing import Any

import pytest

from streamsift.bench.promotion_replay import main, replay
from streamsift.core.promotion import PromotionGate, PromotionVerdict


def test_replay_is_seeded_and_the_gated_mode_publishes_only_what_passes() -> None:
    kw = {"events": 3_000, "drift_at": 1_500, "held_out": 300, "snapshot_every": 20,
          "min_labels": 30}  # fmt: skip
    a = replay(0, "gated", **kw)  # type: ignore[arg-type]
    assert a == replay(0, "gated", **kw)  # type: ignore[arg-type]
    assert a.labels > 60 and len(a.published) >= 3
    assert all(0 <= acc <= 1 for _, acc in a.published)
    assert [n for n, _ in a.published] == sorted(n for n, _ in a.published)
    # In place every snapshot is published (the gate only watches); gated, exactly
    # the ones the gate refuses are not, and the sampler keeps the last published model.
    inplace = replay(1, "in-place", gate=Refuse(), **kw)  # type: ignore[arg-type]
    assert len(inplace.published) == inplace.labels // 20
    assert len(inplace.flagged) == len(inplace.published) - 1
    gated = replay(1, "gated", gate=Refuse(), **kw)  # type: ignore[arg-type]
    assert len(gated.published) == 1
    assert len(gated.flagged) == gated.labels // 20 - 1


class Refuse(PromotionGate):
    """Lets the first snapshot through, refuses every later one."""

    def judge(self, candidate: Any, published: Any) -> PromotionVerdict:
        if published is None:
            return PromotionVerdict(True, "first", 0, math.nan, math.nan)
        return PromotionVerdict(False, "worse", len(self), 0.0, 1.0)


def test_main_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "0", "--events", "2000"]) == 0
    out = capsys.readouterr().out
    assert out.count("| 0 | ") == 2 and "second-half median" in out
