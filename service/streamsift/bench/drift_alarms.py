"""False alarms of the drift monitor on the demo's generator without a drift.

Issue 3's drift target: on stationary streams at most 1 % of windows raise an alarm
(after the correction across features). This tool replays seeded
:class:`~streamsift.tools.synthetic.SyntheticStream`\\ s with no drift through a
:class:`~streamsift.core.drift.DriftMonitor`, fed as the Sampler feeds it when
events carry the production model's probabilities (its predicted class and
entropy, by the Sampler's own ``_drift_inputs``), and counts the windows that alarm
after each region's reference window, with the features that alarmed. The default
windows are the demo's (500 events or 10 s at 250 events/s), so the figure says how
often the demo's stationary regions should show an alarm.

Run::

    python -m streamsift.bench.drift_alarms --seeds 1-100 --jobs 2

Examples
--------
>>> r = false_alarms(seed=3, events=6_000)
>>> r.windows, r.alarms
(8, 0)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import cast

from streamsift.commands.args import seed_list
from streamsift.core.drift import DriftMonitor
from streamsift.core.sampler import _drift_inputs
from streamsift.core.types import Proba
from streamsift.tools.synthetic import SyntheticStream

__all__ = ["AlarmCount", "false_alarms", "main"]


@dataclass(frozen=True)
class AlarmCount:
    """Windows compared with a reference, those that alarmed, and by which feature."""

    windows: int
    alarms: int
    by_feature: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Share of the compared windows that alarmed."""
        return self.alarms / self.windows if self.windows else 0.0


def false_alarms(
    seed: int,
    events: int = 45_000,
    window_size: int = 500,
    window_seconds: float | None = 10.0,
    rate: float = 250.0,
) -> AlarmCount:
    """Replay ``events`` stationary events of ``seed`` and count the alarmed windows."""
    stream = SyntheticStream(seed=seed, rate=rate)
    monitor = DriftMonitor(window_size=window_size, window_seconds=window_seconds)
    windows = alarms = 0
    features: Counter[str] = Counter()
    for ev in stream.take(events):
        top, uncertainty = _drift_inputs(cast("Proba", ev.proba), None, 0.0)
        for result in monitor.update(ev.region, ev.features, uncertainty, top, ev.timestamp):
            if result.new_region:
                continue
            windows += 1
            if result.drifted:
                alarms += 1
                features.update(f.feature for f in result.features if f.level == "alarm")
    return AlarmCount(windows, alarms, dict(features))


def _one(seed: int) -> AlarmCount:
    return false_alarms(seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the false-alarm rate over seeds, as one JSON line."""
    p = argparse.ArgumentParser(prog="python -m streamsift.bench.drift_alarms")
    p.add_argument("--seeds", type=seed_list, default=list(range(1, 21)), help="e.g. 1-100")
    p.add_argument("--jobs", type=int, default=1, help="processes (1)")
    args = p.parse_args(argv)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            counts = list(pool.map(_one, args.seeds))
    else:
        counts = [_one(s) for s in args.seeds]
    windows = sum(c.windows for c in counts)
    alarms = sum(c.alarms for c in counts)
    features: Counter[str] = Counter()
    for c in counts:
        features.update(c.by_feature)
    out = {
        "seeds": len(counts),
        "windows": windows,
        "alarms": alarms,
        "rate": alarms / windows if windows else 0.0,
        "seeds_with_alarms": sum(1 for c in counts if c.alarms),
        "by_feature": dict(features.most_common()),
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
