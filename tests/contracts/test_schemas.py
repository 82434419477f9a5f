"""Topic contracts: exported JSON Schemas are current, examples validate as stated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamsift.commands.schemas import render, write_schemas
from streamsift.errors import SchemaError
from streamsift.schemas import MODELS, InferenceEvent, Limits, decode, export_json_schemas

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
EXAMPLES = SCHEMAS / "examples"


def test_exported_schemas_are_current(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert len(written) == len(MODELS)
    for path in written:
        committed = SCHEMAS / path.name
        assert committed.exists(), f"{committed} missing: run `streamsift schemas export`"
        assert committed.read_text() == path.read_text(), f"{path.name} is stale"


def test_every_schema_requires_schema_version_field() -> None:
    for name, schema in export_json_schemas().items():
        assert "schema_version" in schema["properties"], name
        json.loads(render(schema))


def _examples(kind: str) -> list[tuple[str, Path]]:
    return [(p.parent.parent.name, p) for p in sorted(EXAMPLES.glob(f"*/{kind}/*.json"))]


@pytest.mark.parametrize(("model", "path"), _examples("valid"), ids=lambda v: str(v)[-40:])
def test_valid_examples_pass(model: str, path: Path) -> None:
    decode(MODELS[model], path.read_bytes())


@pytest.mark.parametrize(("model", "path"), _examples("invalid"), ids=lambda v: str(v)[-40:])
def test_invalid_examples_fail_for_the_stated_reason(model: str, path: Path) -> None:
    expected = path.stem.split("--")[0]
    with pytest.raises(SchemaError) as info:
        decode(MODELS[model], path.read_bytes())
    assert info.value.reason == expected, info.value.detail


def test_examples_exist_for_both_kinds() -> None:
    assert len(_examples("valid")) >= 3
    assert len(_examples("invalid")) >= 8


def _event(**changes: object) -> bytes:
    base = json.loads((EXAMPLES / "inference_event/valid/probabilities.json").read_text())
    base.update(changes)
    return json.dumps(base).encode()


@pytest.mark.parametrize(
    ("changes", "limits", "reason"),
    [
        ({"features": {f"f{i}": i for i in range(11)}}, Limits(max_features=10), "oversized"),
        ({"embedding": [0.0] * 9}, Limits(max_embedding=8), "oversized"),
        ({"metadata": {"blob": "x" * 500}}, Limits(max_bytes=400), "oversized"),
        ({"features": {"x": 1e400}}, None, "non_finite"),
        ({"embedding": [1.0, float("inf")]}, None, "non_finite"),
        ({"schema_version": "one"}, None, "schema_violation"),
        ({"schema_version": "0.9"}, None, "unknown_schema_version"),
        ({"output": {}}, None, "bad_probabilities"),
        ({"output": {"probabilities": {}}}, None, "bad_probabilities"),
    ],
)
def test_rejections(changes: dict[str, object], limits: Limits | None, reason: str) -> None:
    raw = _event(**changes).replace(b"Infinity", b"1e999")
    with pytest.raises(SchemaError) as info:
        decode(InferenceEvent, raw, limits)
    assert info.value.reason == reason


def test_timestamps_are_normalised_to_utc() -> None:
    event = decode(InferenceEvent, _event(timestamp="2026-11-26T12:00:00+02:00"))
    assert event.timestamp.isoformat() == "2026-11-26T10:00:00+00:00"


def test_tombstone_is_a_violation() -> None:
    with pytest.raises(SchemaError) as info:
        decode(InferenceEvent, None)
    assert info.value.reason == "schema_violation"
