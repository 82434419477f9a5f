"""Summarise ``streamsift compare`` runs over several seeds: the default against the peers.

Issue 3 asks whether the default strategy's accuracy beats every peer's at equal
labels. On one seed the answer is mostly luck: on the short river datasets the
default's accuracy moves by 0.1-0.4 between seeds while its gap to the best peer
is 0.01-0.03. This module reads the ``compare.json`` of several seeds and compares
means, with per-seed counts and spreads beside them.

**Rule.** For each stream, at one budget: the peers (``river-entropy`` and
``skactiveml-*``) whose mean labelled fraction is within ``tolerance`` (20 %) of the
default's are "at equal labels"; the best of them by mean accuracy is the one to
beat. The per-seed count applies the same rule within each seed.

Run::

    python -m streamsift.sim.peers_summary reports/compare-s*/compare.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["StreamSummary", "is_peer", "markdown", "summarise"]


def is_peer(policy: str) -> bool:
    """Whether ``policy`` is one of the peers (not a streamsift strategy nor random)."""
    return policy == "river-entropy" or policy.startswith("skactiveml-")


@dataclass(frozen=True)
class StreamSummary:
    """The default against the best peer at equal labels on one stream.

    Examples
    --------
    >>> rows = {
    ...     0: [{"stream": "s", "budget": 0.05, "policy": "online-margin",
    ...          "accuracy": 0.8, "labelled_fraction": 0.05},
    ...         {"stream": "s", "budget": 0.05, "policy": "skactiveml-Split",
    ...          "accuracy": 0.7, "labelled_fraction": 0.055},
    ...         {"stream": "s", "budget": 0.05, "policy": "river-entropy",
    ...          "accuracy": 0.9, "labelled_fraction": 0.001}],
    ...     1: [{"stream": "s", "budget": 0.05, "policy": "online-margin",
    ...          "accuracy": 0.6, "labelled_fraction": 0.05},
    ...         {"stream": "s", "budget": 0.05, "policy": "skactiveml-Split",
    ...          "accuracy": 0.72, "labelled_fraction": 0.05},
    ...         {"stream": "s", "budget": 0.05, "policy": "river-entropy",
    ...          "accuracy": 0.9, "labelled_fraction": 0.001}]}
    >>> [s] = summarise(rows)
    >>> s.best_peer, round(s.accuracy, 2), round(s.peer_accuracy, 2), s.won, s.seed_wins
    ('skactiveml-Split', 0.7, 0.71, False, 1)
    """

    stream: str
    seeds: int
    accuracy: float
    labelled: float
    accuracy_min: float
    accuracy_max: float
    best_peer: str | None
    peer_accuracy: float
    peer_labelled: float
    peer_min: float
    peer_max: float
    won: bool
    seed_wins: int


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _best_at_equal_labels(
    labelled: float, peers: Mapping[str, tuple[float, float]], tolerance: float
) -> str | None:
    equal = {p: acc for p, (acc, lab) in peers.items() if abs(lab / labelled - 1.0) <= tolerance}
    return max(equal, key=equal.__getitem__) if equal else None


def summarise(
    runs: Mapping[int, Sequence[Mapping[str, Any]]],
    *,
    policy: str = "online-margin",
    budget: float = 0.05,
    tolerance: float = 0.2,
) -> list[StreamSummary]:
    """One :class:`StreamSummary` per stream present in every seed's rows."""
    seeds = sorted(runs)
    by: dict[tuple[int, str, str], tuple[float, float]] = {}
    for seed in seeds:
        for r in runs[seed]:
            if abs(float(r["budget"]) - budget) < 1e-9:
                by[seed, r["stream"], r["policy"]] = (
                    float(r["accuracy"]),
                    float(r["labelled_fraction"]),
                )
    streams = [
        s for s in dict.fromkeys(k[1] for k in by) if all((seed, s, policy) in by for seed in seeds)
    ]
    out: list[StreamSummary] = []
    for stream in streams:
        ours = [by[seed, stream, policy] for seed in seeds]
        names = [
            p
            for p in dict.fromkeys(k[2] for k in by if k[1] == stream)
            if is_peer(p) and all((seed, stream, p) in by for seed in seeds)
        ]
        peer_runs = {p: [by[seed, stream, p] for seed in seeds] for p in names}
        acc, lab = _mean([a for a, _ in ours]), _mean([f for _, f in ours])
        means = {
            p: (_mean([a for a, _ in v]), _mean([f for _, f in v])) for p, v in peer_runs.items()
        }
        best = _best_at_equal_labels(lab, means, tolerance)
        wins = 0
        for i in range(len(seeds)):
            one = {p: v[i] for p, v in peer_runs.items()}
            rival = _best_at_equal_labels(ours[i][1], one, tolerance)
            wins += rival is None or ours[i][0] > one[rival][0]
        best_accs = [a for a, _ in peer_runs[best]] if best else [float("nan")]
        out.append(
            StreamSummary(
                stream=stream,
                seeds=len(seeds),
                accuracy=acc,
                labelled=lab,
                accuracy_min=min(a for a, _ in ours),
                accuracy_max=max(a for a, _ in ours),
                best_peer=best,
                peer_accuracy=means[best][0] if best else float("nan"),
                peer_labelled=means[best][1] if best else float("nan"),
                peer_min=min(best_accs),
                peer_max=max(best_accs),
                won=best is None or acc > means[best][0],
                seed_wins=wins,
            )
        )
    return out


def markdown(rows: Sequence[StreamSummary], policy: str = "online-margin") -> str:
    """A markdown table of the summaries and the count of streams won."""
    lines = [
        f"| stream | {policy}: mean accuracy (labelled) [min-max] | best peer at equal labels:"
        " mean (labelled) [min-max] | default ahead on the mean | seeds the default is ahead |",
        "|---|---|---|---|---|",
    ]
    for s in rows:
        peer = (
            f"{s.best_peer.removeprefix('skactiveml-')} {s.peer_accuracy:.4f}"
            f" ({s.peer_labelled:.1%}) [{s.peer_min:.3f}-{s.peer_max:.3f}]"
            if s.best_peer
            else "none at equal labels"
        )
        lines.append(
            f"| {s.stream} | {s.accuracy:.4f} ({s.labelled:.1%})"
            f" [{s.accuracy_min:.3f}-{s.accuracy_max:.3f}] | {peer}"
            f" | {'**yes**' if s.won else 'no'} | {s.seed_wins} of {s.seeds} |"
        )
    won = sum(s.won for s in rows)
    lines.append("")
    lines.append(f"Ahead of every peer at equal labels on the mean: {won} of {len(rows)} streams.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Summarise ``compare.json`` files (one per seed; the seed is their order)."""
    parser = argparse.ArgumentParser(prog="python -m streamsift.sim.peers_summary")
    parser.add_argument("files", nargs="+", type=Path, help="compare.json of each seed")
    parser.add_argument("--policy", default="online-margin")
    parser.add_argument("--budget", type=float, default=0.05)
    parser.add_argument("--json", type=Path, help="write the summaries here too")
    args = parser.parse_args(argv)
    runs = {i: json.loads(f.read_text())["rows"] for i, f in enumerate(args.files)}
    rows = summarise(runs, policy=args.policy, budget=args.budget)
    print(markdown(rows, args.policy))
    if args.json:
        args.json.write_text(json.dumps([s.__dict__ for s in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
