"""The core-speed benchmark's harness (figures are not asserted: they depend on the machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamsift.sim.speed import SpeedLine, _alternate, decide_lines, main, markdown


def test_alternate_times_figure_and_baseline_in_turn_and_keeps_the_best() -> None:
    calls: list[str] = []
    figures = iter([3.0, 1.0, 2.0])
    baselines = iter([5.0, 4.0, 6.0])

    def figure() -> float:
        calls.append("figure")
        return next(figures)

    def baseline() -> float:
        calls.append("baseline")
        return next(baselines)

    assert _alternate(figure, baseline, 3) == (1.0, 4.0)
    assert calls == ["baseline", "figure"] * 3


def test_markdown_table_has_the_ratio() -> None:
    line = SpeedLine("decide, x", 30.0, "µs/event", "predict", 20.0)
    assert line.ratio == 1.5
    assert "| decide, x | 30.0 µs/event | predict | 20.0 µs/event | 1.50x |" in markdown([line])


def test_decide_lines_on_a_short_run_with_the_cpu_clock() -> None:
    import time

    lines = decide_lines(events=40, repeats=1, committee_size=2, clock=time.process_time)
    assert [ln.name for ln in lines][:2] == [
        "decide, production-margin",
        "decide, production-entropy",
    ]
    assert all(ln.value > 0 and ln.baseline_value > 0 for ln in lines)
    assert len({ln.baseline for ln in lines}) == 1


def test_main_writes_the_table_and_the_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "speed.md"
    assert (
        main(
            [
                "--events",
                "30",
                "--sim-events",
                "300",
                "--repeats",
                "1",
                "--cpu",
                "--markdown",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text(encoding="utf-8")
    assert text.count("\n") == 2 + 6
    printed = capsys.readouterr().out
    assert "clock: process CPU time; load average" in printed
    assert any(row.startswith("| simulator, ") for row in text.splitlines())
