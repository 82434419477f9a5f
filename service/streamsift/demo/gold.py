"""The demo's gold set: items of the same synthetic generator with their true class.

The worker mixes them into the label requests (``gold_rate``) and measures each
annotator's accuracy on them, which is how the team's noisy annotator gets flagged.
They come from another seed than the live traffic, so no gold item is also a live
event.

Examples
--------
>>> import json, tempfile
>>> from pathlib import Path
>>> path = write_gold_set(Path(tempfile.mkdtemp()) / "gold.jsonl", seed=1, n=3)
>>> rows = [json.loads(line) for line in path.read_text().splitlines()]
>>> len(rows), sorted(rows[0]), rows[0]["id"]
(3, ['features', 'id', 'label'], 'gold-0000000000')
"""

from __future__ import annotations

import json
from pathlib import Path

from streamsift.tools.synthetic import SyntheticStream

__all__ = ["GOLD_SEED_OFFSET", "write_gold_set"]

#: Added to the demo's seed for the gold items (never the live traffic's seed).
GOLD_SEED_OFFSET = 1_000_003


def write_gold_set(path: Path, seed: int, n: int) -> Path:
    """Write ``n`` gold items as JSON lines (``{"id", "features", "label"}``) to ``path``."""
    stream = SyntheticStream(seed=seed + GOLD_SEED_OFFSET, id_prefix="gold")
    lines = [
        json.dumps({"id": ev.event_id, "features": ev.features, "label": ev.label})
        for ev in stream.take(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
