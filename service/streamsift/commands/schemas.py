"""``streamsift schemas export``: write the JSON Schema of every topic model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from streamsift.schemas import export_json_schemas

__all__ = ["register", "render", "write_schemas"]


def render(schema: dict[str, object]) -> str:
    """Serialise one schema deterministically (sorted keys, trailing newline)."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(out: Path) -> list[Path]:
    """Write ``<name>.schema.json`` for every topic model into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in export_json_schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def _run(args: argparse.Namespace) -> int:
    for path in write_schemas(Path(args.out)):
        print(path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    """Add the ``schemas`` command."""
    p = sub.add_parser("schemas", help="JSON Schema of every topic contract")
    inner = p.add_subparsers(dest="schemas_command", required=True)
    exp = inner.add_parser("export", help="write schemas/*.schema.json")
    exp.add_argument("--out", default="schemas", help="output folder (default: schemas)")
    exp.set_defaults(func=_run)
