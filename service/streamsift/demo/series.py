"""Time series derived from the scrapes of one demo run.

A :class:`Recording` holds the :class:`~streamsift.demo.promtext.Sample` of every
scrape (about one a second) and a few marks (``drift``: when the first drifted
event was consumed). Rates and shares are computed over a trailing window from
counter differences; a counter that goes down (a restarted worker) counts as 0.

Examples
--------
>>> from streamsift.demo.promtext import Sample
>>> K = "streamsift_scorer_decisions_total"
>>> def s(t, eu, us):
...     return Sample(t, {(K, (("arm", "active"), ("region", "eu"))): eu,
...                       (K, (("arm", "none"), ("region", "us"))): 99.0 * t,
...                       (K, (("arm", "active"), ("region", "us"))): us})
>>> rec = Recording([s(0, 0, 0), s(1, 2, 2), s(2, 4, 4), s(3, 10, 4)])
>>> rec.rate("streamsift_scorer_decisions_total", window=1.0, arm="active")
[(1, 4.0), (2, 4.0), (3, 6.0)]
>>> [(t, round(sh["eu"], 2)) for t, sh in rec.shares(K, "region", window=2.0, exclude_arm="none")]
[(2, 0.5), (3, 0.8)]
>>> rec.crossing("streamsift_scorer_decisions_total", 7.0, arm="active", region="eu")
2.5
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from streamsift.demo.promtext import Sample

__all__ = ["Point", "Recording"]

#: ``(t, value)`` with ``t`` in seconds since the traffic started.
Point = tuple[float, float]


@dataclass
class Recording:
    """The scrapes of one run, in time order, and named instants."""

    samples: list[Sample] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)

    def add(self, sample: Sample) -> None:
        """Append a scrape (kept in time order)."""
        if self.samples and sample.t < self.samples[-1].t:
            raise ValueError("samples must be added in time order")
        self.samples.append(sample)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def last(self) -> Sample | None:
        """The latest scrape."""
        return self.samples[-1] if self.samples else None

    @property
    def span(self) -> float:
        """Seconds between the first and last scrape."""
        return self.samples[-1].t - self.samples[0].t if len(self.samples) > 1 else 0.0

    def gauge(self, name: str, **labels: str) -> list[Point]:
        """Values of one sample (exact labels) over time; missing scrapes skipped."""
        out: list[Point] = []
        for s in self.samples:
            v = s.value(name, **labels)
            if v is not None:
                out.append((s.t, v))
        return out

    def totals(self, name: str, **match: str) -> list[Point]:
        """Sum over the matching samples of ``name``, over time."""
        return [(s.t, s.total(name, **match)) for s in self.samples]

    def _pairs(
        self, window: float, min_window: float | None = None
    ) -> Iterator[tuple[Sample, Sample]]:
        """(earlier, later) pairs: the latest scrape at least ``window`` s before each.

        With ``min_window``, a scrape with no such predecessor is paired with the first
        scrape when that one is at least ``min_window`` s earlier (a shorter window at
        the start of the recording).
        """
        j = 0
        for s in self.samples:
            while j + 1 < len(self.samples) and self.samples[j + 1].t <= s.t - window:
                j += 1
            gap = s.t - self.samples[j].t
            if gap >= window or (min_window is not None and gap >= min_window and j == 0):
                yield self.samples[j], s

    def rate(
        self, name: str, window: float = 5.0, min_window: float | None = None, **match: str
    ) -> list[Point]:
        """Per-second increase of a counter (summed over matching samples).

        ``min_window`` (seconds) also gives rates at the start, over shorter windows.
        """
        return self.rate_of(lambda s: s.total(name, **match), window, min_window)

    def rate_of(
        self, value: Callable[[Sample], float], window: float = 5.0, min_window: float | None = None
    ) -> list[Point]:
        """Per-second increase of ``value(sample)``, a counter derived from several."""
        return [
            (b.t, max(0.0, value(b) - value(a)) / (b.t - a.t))
            for a, b in self._pairs(window, min_window)
        ]

    def shares(
        self, name: str, label: str, window: float = 10.0, exclude_arm: str | None = None
    ) -> list[tuple[float, dict[str, float]]]:
        """Share of a counter's increase per value of ``label`` over a trailing window.

        ``exclude_arm`` leaves out samples whose ``arm`` label has that value (``none``:
        decisions that selected nothing). Windows without any increase are skipped.
        """

        def counts(s: Sample) -> dict[str, float]:
            out: dict[str, float] = {}
            for (n, labels), v in s.values.items():
                d = dict(labels)
                if n != name or label not in d or (exclude_arm and d.get("arm") == exclude_arm):
                    continue
                out[d[label]] = out.get(d[label], 0.0) + v
            return out

        result: list[tuple[float, dict[str, float]]] = []
        for a, b in self._pairs(window):
            ca, cb = counts(a), counts(b)
            diff = {k: max(0.0, v - ca.get(k, 0.0)) for k, v in cb.items()}
            total = sum(diff.values())
            if total > 0:
                result.append((b.t, {k: v / total for k, v in sorted(diff.items())}))
        return result

    def increases(self, name: str, label: str, **match: str) -> list[tuple[float, str]]:
        """``(t, label value)`` each time a matching counter went up between scrapes."""
        out: list[tuple[float, str]] = []
        prev: dict[str, float] = {}
        for s in self.samples:
            now = s.by(name, label, **match)
            for key, v in sorted(now.items()):
                if v > prev.get(key, 0.0):
                    out.append((s.t, key))
            prev = now
        return out

    def crossing(self, name: str, threshold: float, **match: str) -> float | None:
        """First time the summed counter reaches ``threshold`` (linear interpolation)."""
        prev: Point | None = None
        for t, v in self.totals(name, **match):
            if v >= threshold:
                if prev is None or v == prev[1]:
                    return t
                t0, v0 = prev
                return t0 + (threshold - v0) / (v - v0) * (t - t0)
            prev = (t, v)
        return None
