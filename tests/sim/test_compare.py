"""``streamsift compare --quick``: a table, JSON and PNGs in the output folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsift.cli import main
from streamsift.sim.compare import compare, markdown
from streamsift.sim.peers import skactiveml_available


def test_compare_quick_writes_table_json_and_pngs(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            "--quick",
            "--quiet",
            "--stream",
            "synth:sea",
            "--events",
            "700",
            "--strategies",
            "online-margin,production-entropy,committee-bald",
            "--peers",
            "river-entropy",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = (out / "compare.md").read_text(encoding="utf-8")
    for policy in ("online-margin", "production-entropy", "committee-bald", "random"):
        assert f"| {policy} |" in table
    assert "| river-entropy |" in table
    rows = json.loads((out / "compare.json").read_text(encoding="utf-8"))["rows"]
    assert {r["budget"] for r in rows} == {0.1}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["budgets_synth_sea.png", "curves_synth_sea_10pct.png"]
    assert all((out / p).stat().st_size > 10_000 for p in pngs)


@pytest.mark.skipif(not skactiveml_available(), reason="scikit-activeml not installed")
def test_scikit_activeml_peer_runs_on_the_same_protocol() -> None:
    result = compare(
        ["synth:hyperplane"],
        budgets=(0.1,),
        strategies=["online-margin"],
        peers=["skactiveml-VariableUncertainty"],
        events=400,
        random_seeds=1,
    )
    policies = {r["policy"] for r in result.rows}
    assert policies == {"online-margin", "random", "skactiveml-VariableUncertainty"}
    peer = next(r for r in result.rows if r["policy"].startswith("skactiveml"))
    assert 0 < peer["labels_used"] < 400
    assert "skactiveml-VariableUncertainty" in markdown(result)


def test_missing_skactiveml_is_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamsift.sim.compare as mod

    monkeypatch.setattr(mod, "skactiveml_available", lambda: False)
    result = compare(
        ["synth:sea"],
        budgets=(0.2,),
        strategies=["online-margin"],
        peers=["skactiveml-Split"],
        events=300,
        random_seeds=1,
    )
    assert any("scikit-activeml is not importable" in n for n in result.notes)
    assert {r["policy"] for r in result.rows} == {"online-margin", "random"}


def test_compare_seeds_writes_one_folder_per_seed_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["compare", "--quick", "--quiet", "--stream", "synth:sea", "--events", "500",
            "--strategies", "online-margin", "--peers", "river-entropy", "--seeds", "3-4",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    for seed in (3, 4):
        rows = json.loads((out / f"seed-{seed}" / "compare.json").read_text())["rows"]
        assert {r["policy"] for r in rows} == {"online-margin", "random", "river-entropy"}
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("Seeds 3, 4.")
    assert "### online-margin at 10%" in summary and "| synth:sea |" in summary
    assert "of 2 |" in summary  # the per-seed count
    with pytest.raises(SystemExit):
        main(["compare", "--seeds", "x-y"])
