"""Labelled streams for the offline simulator.

A stream spec is one of:

- ``river:NAME``: a dataset bundled with River (``Bananas``, ``Phishing``,
  ``ImageSegments``); datasets River would have to download are refused, since
  the simulator must run offline.
- ``synth:NAME``: seeded synthetic streams with known drift: ``sea`` (abrupt concept
  drift mid-stream), ``agrawal`` (abrupt), ``hyperplane`` (gradual), ``regional``
  (four producer regions, only ``r2`` drifts mid-stream).
- ``csv:PATH`` with a target column (numeric and categorical columns, optional
  region column).

Examples
--------
>>> s = load_stream("synth:sea", n=1000, seed=7)
>>> len(s.events), s.drift_at, sorted(s.classes)
(1000, 500, [False, True])
>>> s.events[0].x == load_stream("synth:sea", n=1000, seed=7).events[0].x
True
"""

from __future__ import annotations

import csv
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from streamsift.core.types import FeatureValue, Label
from streamsift.errors import ConfigurationError

__all__ = ["BUNDLED", "SYNTHETIC", "LabelledEvent", "Stream", "load_stream"]

#: River datasets that ship inside the river wheel (no download needed).
BUNDLED = ("Bananas", "Phishing", "ImageSegments")
#: Synthetic stream names.
SYNTHETIC = ("sea", "agrawal", "hyperplane", "regional")
DEFAULT_EVENTS = 20_000


@dataclass(frozen=True, slots=True)
class LabelledEvent:
    """One event of a replayed stream, with its true label."""

    x: dict[str, FeatureValue]
    y: Label
    region: str | None = None


@dataclass(frozen=True)
class Stream:
    """A materialised labelled stream.

    ``drift_at`` is the index of the first event after an abrupt drift (None when
    the stream has none or drifts gradually).
    """

    name: str
    events: list[LabelledEvent]
    drift_at: int | None = None
    classes: frozenset[Label] = field(default_factory=frozenset)


def _take(pairs: Iterable[tuple[dict, Label]], n: int | None) -> list[LabelledEvent]:
    it: Iterator[tuple[dict, Label]] = iter(pairs)
    if n is not None:
        it = itertools.islice(it, n)
    return [LabelledEvent(dict(x), y) for x, y in it]


def _river(name: str, n: int | None) -> Stream:
    from river import datasets

    if name not in BUNDLED:
        raise ConfigurationError(
            f"stream river:{name}: only datasets bundled with river can be replayed offline "
            f"({', '.join(BUNDLED)})"
        )
    ds = getattr(datasets, name)()
    events = _take(ds, n)
    return Stream(f"river:{name}", events, None, frozenset(e.y for e in events))


def _concept_drift(first: Iterable, second: Iterable, n: int) -> list[LabelledEvent]:
    half = n // 2
    return _take(first, half) + _take(second, n - half)


def _synth(name: str, n: int, seed: int) -> Stream:
    from river.datasets import synth

    drift_at: int | None = n // 2
    if name == "sea":
        events = _concept_drift(
            synth.SEA(variant=0, noise=0.05, seed=seed),
            synth.SEA(variant=3, noise=0.05, seed=seed + 1),
            n,
        )
    elif name == "agrawal":
        events = _concept_drift(
            synth.Agrawal(classification_function=0, seed=seed, perturbation=0.05),
            synth.Agrawal(classification_function=2, seed=seed + 1, perturbation=0.05),
            n,
        )
    elif name == "hyperplane":
        drift_at = None
        events = _take(
            synth.Hyperplane(
                seed=seed, n_features=10, n_drift_features=3, mag_change=0.001, sigma=0.1
            ),
            n,
        )
    elif name == "regional":
        events = list(_regional(n, seed))
    else:
        raise ConfigurationError(
            f"stream synth:{name}: unknown synthetic stream (known: {', '.join(SYNTHETIC)})"
        )
    return Stream(f"synth:{name}", events, drift_at, frozenset(e.y for e in events))


#: Region centres of the ``synth:regional`` stream.
_REGIONS = {"r0": (-2.0, 0.0), "r1": (2.0, 0.0), "r2": (0.0, 2.0), "r3": (0.0, -2.0)}


def _regional(n: int, seed: int) -> Iterator[LabelledEvent]:
    """Four regions; from n/2 on, region r2's inputs shift and its concept flips.

    The concept is a nonlinear boundary in (x0, x1) shared by all regions, with a
    region-specific categorical nuisance feature; after the drift, r2's points move
    by one unit along x2 and its boundary rotates, so a model must relearn there.
    """
    rng = random.Random(seed)
    names = list(_REGIONS)
    for i in range(n):
        region = rng.choice(names)
        cx, cy = _REGIONS[region]
        x0, x1, x2 = rng.gauss(cx, 1.0), rng.gauss(cy, 1.0), rng.gauss(0.0, 1.0)
        drifted = region == "r2" and i >= n // 2
        if drifted:
            x2 += 1.0
            x0 += 0.75
        boundary = math.sin(x0) + 0.5 * x1 - 0.3 * x2
        y = boundary > 0.0
        if drifted:
            y = (math.cos(x1) + 0.5 * x0 + 0.3 * x2) > 0.5
        if rng.random() < 0.05:
            y = not y
        x: dict[str, FeatureValue] = {
            "x0": x0,
            "x1": x1,
            "x2": x2,
            "channel": rng.choice(("web", "app", "store")),
        }
        yield LabelledEvent(x, y, region)


def _parse(value: str) -> FeatureValue:
    if value == "":
        return None
    try:
        f = float(value)
    except ValueError:
        return value
    return f if math.isfinite(f) else None


def _csv(path: str, target: str | None, region: str | None, n: int | None) -> Stream:
    if not target:
        raise ConfigurationError("stream csv:PATH needs --target COLUMN")
    p = Path(path)
    if not p.is_file():
        raise ConfigurationError(f"stream csv:{path}: no such file")
    events: list[LabelledEvent] = []
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for needed, flag in ((target, "--target"), (region, "--region")):
            if needed and needed not in cols:
                raise ConfigurationError(f"{flag} {needed!r} is not a column of {path}: {cols}")
        for row in itertools.islice(reader, n):
            y_raw = row.pop(target)
            r = row.pop(region) if region else None
            events.append(LabelledEvent({k: _parse(v) for k, v in row.items()}, y_raw, r))
    return Stream(f"csv:{p.name}", events, None, frozenset(e.y for e in events))


def load_stream(
    spec: str,
    *,
    n: int | None = DEFAULT_EVENTS,
    seed: int = 0,
    target: str | None = None,
    region: str | None = None,
) -> Stream:
    """Materialise a labelled stream from its spec.

    Parameters
    ----------
    spec
        ``river:NAME``, ``synth:NAME`` or ``csv:PATH``.
    n
        Number of events (synthetic streams: exactly; bundled and CSV: at most).
    seed
        Seed of synthetic streams.
    target, region
        CSV columns of the label and of the region key.
    """
    kind, _, name = spec.partition(":")
    if kind == "river":
        return _river(name, n)
    if kind == "synth":
        return _synth(name, n or DEFAULT_EVENTS, seed)
    if kind == "csv":
        return _csv(name, target, region, n)
    raise ConfigurationError(f"--stream {spec!r}: expected river:NAME, synth:NAME or csv:PATH")
