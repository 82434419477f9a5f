"""``streamsift quality-report`` on labels from a simulated team with two noisy annotators."""

from __future__ import annotations

import json
import random
from pathlib import Path

from streamsift.cli import main
from streamsift.quality_report import build_report
from streamsift.sim.crowd import Team

CLASSES = ["cat", "dog", "bird"]


def _write(tmp: Path) -> tuple[Path, Path]:
    team = Team((0.0, 0.0, 0.0, 0.3, 0.3), seed=1)
    rng = random.Random(2)
    labels, gold = tmp / "labels.jsonl", tmp / "gold.jsonl"
    with labels.open("w") as f, gold.open("w") as g:
        for i in range(400):
            truth = rng.choice(CLASSES)
            if i % 10 == 0:
                g.write(json.dumps({"id": f"e{i}", "features": {}, "label": truth}) + "\n")
            for a in team.pick(3) if i % 3 == 0 else team.pick(1):
                f.write(
                    json.dumps(
                        {
                            "schema_version": "1.0",
                            "event_id": f"e{i}",
                            "label": team.label(a, truth, CLASSES),
                            "annotator_id": a,
                            "labelled_at": "2026-11-26T10:00:00Z",
                        }
                    )
                    + "\n"
                )
    return labels, gold


def test_report_flags_the_noisy_annotators(tmp_path: Path) -> None:
    labels, gold = _write(tmp_path)
    out = tmp_path / "out"
    assert main(["quality-report", "--labels", str(labels), "--gold", str(gold),
                 "--out", str(out), "--json", str(tmp_path / "q.json")]) == 0  # fmt: skip
    figures = json.loads((tmp_path / "q.json").read_text())
    flagged = {a["annotator"] for a in figures["annotators"] if a["flagged"]}
    assert flagged == {"ann-3", "ann-4"}
    assert 0.4 < figures["fleiss_kappa"] < 0.8
    md = (out / "report.md").read_text()
    assert "| ann-3 |" in md and "annotators.png" in md
    assert (out / "annotators.png").stat().st_size > 10_000


def test_perfect_agreement() -> None:
    labels = [(f"i{i}", a, i % 2) for i in range(10) for a in ("a", "b", "c")]
    r = build_report(labels)
    assert r.fleiss.value == 1.0 and r.krippendorff.value == 1.0
    assert all(k.value == 1.0 for _, _, k in r.cohen)
    assert not any(row.flagged for row in r.annotators)
