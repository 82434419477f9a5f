"""A pure, seeded generator of realistic inference events with a scripted drift.

Each event is a payment scored by a production fraud model: five numeric features
(``amount``, ``tenure_months``, ``sessions_7d``, ``device_trust``, ``hour``), two
categorical ones (``plan``, ``channel``), a ``region``, the true class of
:func:`~streamsift.tools.concept.true_label` and the production model's class
probabilities. The production model is linear in the features with a calibrated
logistic link (fitted once on pre-drift data), so it misses the concept's
interactions; its input noise grows by region (``eu-west`` best, ``sa-east``
worst), which makes it less accurate, and over-confident, there.

From event index ``drift_at`` on, events of the ``drift_regions`` undergo a
covariate shift of size ``drift_shift``: larger amounts (log-mean up by
``0.9 * drift_shift``), lower device trust (scaled by ``1 - 0.25 * drift_shift``)
and more partner traffic (a share ``0.3 * drift_shift`` moved to ``partner``); the
production model's logistic scale is multiplied by ``drift_temperature`` there, so
its confidence drops. Other regions, and every event before ``drift_at``, are
identical with or without the drift.

Event ``i`` is a pure function of ``(seed, i)`` and the constructor arguments:
randomness is drawn per block of :data:`BLOCK` events from
``numpy.random.default_rng([seed, block])``, so the stream reads the same however
it is chunked, and :meth:`SyntheticStream.event_at` gives random access.

Examples
--------
>>> stream = SyntheticStream(seed=7, drift_at=2, drift_regions=("ap-south",))
>>> for ev in stream.take(4):
...     top = max(ev.proba, key=ev.proba.get)
...     print(ev.event_id, ev.region, ev.features["amount"], ev.label, ev.drifted, top)
syn7-0000000000 us-east 10.42 legit False legit
syn7-0000000001 ap-south 23.01 legit False legit
syn7-0000000002 ap-south 115.12 fraud True fraud
syn7-0000000003 eu-west 26.07 legit False legit
>>> undrifted = SyntheticStream(seed=7)
>>> stream.event_at(1) == undrifted.event_at(1), stream.event_at(2) == undrifted.event_at(2)
(True, False)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np

from streamsift.core.types import CoreEvent, FeatureValue, Label
from streamsift.errors import ConfigurationError
from streamsift.schemas import SCHEMA_VERSION, InferenceEvent
from streamsift.tools._blocks import Block, draw_block
from streamsift.tools.concept import true_label

__all__ = ["BLOCK", "DEFAULT_REGIONS", "SyntheticEvent", "SyntheticStream"]

#: Events per block of randomness.
BLOCK: Final = 2048
#: Default regions and their traffic shares.
DEFAULT_REGIONS: Final = {"eu-west": 0.35, "us-east": 0.35, "ap-south": 0.2, "sa-east": 0.1}
#: 2026-01-01T00:00:00Z, the default timestamp of event 0.
DEFAULT_START: Final = 1_767_225_600.0


@dataclass(frozen=True, slots=True)
class SyntheticEvent:
    """One generated event, with its true label (never sent on the wire)."""

    index: int
    event_id: str
    region: str
    features: dict[str, FeatureValue]
    proba: dict[str, float]
    label: str
    drifted: bool
    timestamp: float
    model_id: str = "fraud-risk"
    model_version: str = "prod-1"

    def to_message(self, timestamp: float | None = None) -> dict[str, Any]:
        """The JSON-ready :class:`~streamsift.schemas.InferenceEvent` payload.

        Parameters
        ----------
        timestamp
            Seconds since the epoch to stamp instead of the generated time (live
            producers stamp the send time).
        """
        ts = self.timestamp if timestamp is None else timestamp
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "timestamp": datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds"),
            "features": self.features,
            "output": {"probabilities": self.proba},
            "region": self.region,
        }

    def to_json(self, timestamp: float | None = None) -> bytes:
        """The message as compact UTF-8 JSON bytes."""
        return json.dumps(self.to_message(timestamp), separators=(",", ":")).encode()

    def to_inference_event(self) -> InferenceEvent:
        """The validated pydantic message."""
        return InferenceEvent.model_validate(self.to_message())

    def to_core_event(self) -> CoreEvent:
        """The event as the sampling core sees it."""
        proba: dict[Label, float] = {k: v for k, v in self.proba.items()}
        return CoreEvent(
            event_id=self.event_id,
            features=self.features,
            timestamp=self.timestamp,
            proba=proba,
            region=self.region,
        )


class SyntheticStream:
    """Seeded stream of :class:`SyntheticEvent` with a scripted covariate drift.

    Parameters
    ----------
    seed
        Seed of every random draw.
    regions
        Region name to traffic share (normalised); default :data:`DEFAULT_REGIONS`.
    drift_at
        Index of the first drifted event; ``None`` for no drift.
    drift_regions
        Regions that drift from ``drift_at`` on.
    drift_shift
        Size of the covariate shift (0 is none, 1 the documented default, at most 3).
    drift_temperature
        Factor on the production model's logistic scale in drifted events (>= 1
        lowers its confidence).
    rate
        Events per second of the generated timestamps.
    start_time
        Timestamp of event 0, seconds since the epoch.
    id_prefix
        Event ids are ``f"{id_prefix}-{index:010d}"``; default ``f"syn{seed}"``.
    """

    def __init__(
        self,
        seed: int = 0,
        regions: Mapping[str, float] | None = None,
        drift_at: int | None = None,
        drift_regions: Sequence[str] = (),
        drift_shift: float = 1.0,
        drift_temperature: float = 2.0,
        rate: float = 100.0,
        start_time: float = DEFAULT_START,
        id_prefix: str | None = None,
    ) -> None:
        self.seed = seed
        self.regions = dict(DEFAULT_REGIONS if regions is None else regions)
        self.drift_at = drift_at
        self.drift_regions = tuple(drift_regions)
        self.drift_shift = drift_shift
        self.drift_temperature = drift_temperature
        self.rate = rate
        self.start_time = start_time
        self.id_prefix = f"syn{seed}" if id_prefix is None else id_prefix
        if not self.regions or any(not (w > 0 and math.isfinite(w)) for w in self.regions.values()):
            raise ConfigurationError("regions: need at least one region, each share > 0")
        unknown = sorted(set(self.drift_regions) - set(self.regions))
        if unknown:
            raise ConfigurationError(f"drift_regions: unknown region(s) {unknown}")
        if drift_at is not None and drift_at < 0:
            raise ConfigurationError("drift_at must be >= 0 or None")
        if not 0.0 <= drift_shift <= 3.0:
            raise ConfigurationError("drift_shift must be in [0, 3]")
        if not drift_temperature >= 1.0:
            raise ConfigurationError("drift_temperature must be >= 1")
        if not rate > 0:
            raise ConfigurationError("rate must be > 0")
        self._reset()

    def _reset(self) -> None:
        self._position = 0
        self._cache: tuple[int, Block] | None = None
        names = list(self.regions)
        self._names = names
        weights = np.array([self.regions[n] for n in names], dtype=float)
        self._cdf = np.cumsum(weights / weights.sum())
        self._drift_mask = np.array([n in self.drift_regions for n in names])

    def clone(self) -> SyntheticStream:
        """A fresh stream with the same parameters, positioned at event 0."""
        return SyntheticStream(
            seed=self.seed,
            regions=self.regions,
            drift_at=self.drift_at,
            drift_regions=self.drift_regions,
            drift_shift=self.drift_shift,
            drift_temperature=self.drift_temperature,
            rate=self.rate,
            start_time=self.start_time,
            id_prefix=self.id_prefix,
        )

    @property
    def position(self) -> int:
        """Index of the next event :meth:`take` returns."""
        return self._position

    def seek(self, index: int) -> None:
        """Move the read position to ``index``."""
        if index < 0:
            raise ValueError("index must be >= 0")
        self._position = index

    def _block(self, number: int) -> Block:
        if self._cache is None or self._cache[0] != number:
            block = draw_block(
                seed=self.seed,
                number=number,
                size=BLOCK,
                region_cdf=self._cdf,
                region_names=self._names,
                drift_mask=self._drift_mask,
                drift_from=None if self.drift_at is None else self.drift_at - number * BLOCK,
                drift_shift=self.drift_shift,
                drift_temperature=self.drift_temperature,
            )
            self._cache = (number, block)
        return self._cache[1]

    def _event(self, index: int, block: Block) -> SyntheticEvent:
        j = index % BLOCK
        features = block.features(j)
        return SyntheticEvent(
            index=index,
            event_id=f"{self.id_prefix}-{index:010d}",
            region=block.regions[j],
            features=features,
            proba=block.proba(j),
            label=true_label(features),
            drifted=block.drifted[j],
            timestamp=self.start_time + index / self.rate,
        )

    def event_at(self, index: int) -> SyntheticEvent:
        """Event ``index`` (random access; does not move the read position)."""
        if index < 0:
            raise ValueError("index must be >= 0")
        return self._event(index, self._block(index // BLOCK))

    def take(self, n: int) -> list[SyntheticEvent]:
        """The next ``n`` events, advancing the read position."""
        start = self._position
        out = [self._event(i, self._block(i // BLOCK)) for i in range(start, start + n)]
        self._position = start + n
        return out

    def __iter__(self) -> Iterator[SyntheticEvent]:
        while True:
            yield from self.take(BLOCK - self._position % BLOCK)
