"""One scrape of the worker's ``/metrics``, flattened into a :class:`Sample`.

The Prometheus text exposition is parsed with ``prometheus_client``'s own parser;
every sample of a ``streamsift_`` metric is kept under ``(name, sorted labels)``
(histogram buckets are dropped: the demo reads counters and gauges only).

Examples
--------
>>> text = '''
... # TYPE streamsift_scorer_label_requests_total counter
... streamsift_scorer_label_requests_total{arm="active"} 40.0
... streamsift_scorer_label_requests_total{arm="control"} 5.0
... # TYPE streamsift_model_version gauge
... streamsift_model_version 3.0
... # TYPE process_cpu_seconds_total counter
... process_cpu_seconds_total 1.5
... '''
>>> s = Sample(2.0, parse_metrics(text))
>>> s.total("streamsift_scorer_label_requests_total"), s.value("streamsift_model_version")
(45.0, 3.0)
>>> s.by("streamsift_scorer_label_requests_total", "arm")
{'active': 40.0, 'control': 5.0}
>>> s.value("process_cpu_seconds_total") is None
True
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Key", "Sample", "parse_metrics", "scrape"]

#: ``(sample name, ((label, value), ...))`` with labels sorted by name.
Key = tuple[str, tuple[tuple[str, str], ...]]


def parse_metrics(text: str, prefix: str = "streamsift_") -> dict[Key, float]:
    """Every sample of the metrics named ``prefix...`` (histogram buckets left out).

    Parameters
    ----------
    text
        A Prometheus text exposition.
    prefix
        Only sample names starting with it are kept.
    """
    out: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.startswith(prefix) or s.name.endswith("_bucket"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


def scrape(url: str, timeout: float = 2.0) -> dict[Key, float] | None:
    """Fetch and parse ``url``; ``None`` when the endpoint does not answer 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            if resp.status != 200:
                return None
            body = resp.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError):
        return None
    try:
        return parse_metrics(body)
    except ValueError:  # a truncated or malformed exposition
        return None


def _matches(labels: tuple[tuple[str, str], ...], match: Mapping[str, str]) -> bool:
    if not match:
        return True
    have = dict(labels)
    return all(have.get(k) == v for k, v in match.items())


@dataclass(frozen=True)
class Sample:
    """The worker's metrics at time ``t`` (seconds since the traffic started)."""

    t: float
    values: Mapping[Key, float]

    def value(self, name: str, **labels: str) -> float | None:
        """The sample with exactly these labels, or ``None`` (NaN counts as missing)."""
        v = self.values.get((name, tuple(sorted(labels.items()))))
        return None if v is None or math.isnan(v) else v

    def total(self, name: str, **match: str) -> float:
        """Sum of every sample of ``name`` whose labels include ``match``."""
        return sum(
            v
            for (n, labels), v in self.values.items()
            if n == name and not math.isnan(v) and _matches(labels, match)
        )

    def by(self, name: str, label: str, **match: str) -> dict[str, float]:
        """Samples of ``name`` (labels including ``match``) summed per value of ``label``."""
        out: dict[str, float] = {}
        for (n, labels), v in self.values.items():
            if n != name or math.isnan(v) or not _matches(labels, match):
                continue
            key = dict(labels).get(label)
            if key is not None:
                out[key] = out.get(key, 0.0) + v
        return out
