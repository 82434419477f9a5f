"""Per-region drift monitor over tumbling windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from streamsift.core.drift._checks import check_choice, check_float, check_int
from streamsift.core.drift.boost import RegionBoost
from streamsift.core.drift.correction import Correction, correct
from streamsift.core.drift.reference import RawTest, Reference
from streamsift.core.drift.results import DriftResult, FeatureDrift, Level
from streamsift.core.drift.window import Columns, WindowBuffer
from streamsift.core.types import Features, Label
from streamsift.errors import ConfigurationError

__all__ = ["DriftMonitor"]


@dataclass(slots=True)
class _RegionState:
    window: WindowBuffer = field(default_factory=WindowBuffer)
    reference: Reference | None = None
    candidate: Reference | None = None
    settled: int = 0
    n_windows: int = 0


class DriftMonitor:
    """Tumbling-window drift detection per region, with a decaying sampling boost.

    Each region's events are buffered until its window holds ``window_size`` events or
    spans ``window_seconds`` (whichever comes first; a time-closed window needs at least
    ``min_events`` events, else it keeps filling). The first window of a region is its
    reference (``new_region=True``); every later window is compared with it: KS and PSI
    (reference-quantile bins) per numeric feature and on the uncertainty score,
    chi-square and PSI (category shares, unseen bucket) per categorical feature and on
    the predicted-class mix. The p-values of one window are corrected together.

    **Verdict rule.** A feature is at level ``alarm`` when its corrected p-value is below
    ``ks_alpha``; ``warn`` when it is not but its PSI exceeds ``psi_warn``; ``ok``
    otherwise. A window has ``drifted`` when any feature alarms, and is ``severe`` when
    an alarmed feature's PSI also exceeds ``psi_alarm``. PSI is severity only: its
    small-sample bias (about ``(bins - 1)(1/n_ref + 1/n_win)`` on stationary data, 0.095
    for a 100-event window) would make a PSI-only verdict fire on stationary data, while
    the corrected tests keep the per-window false-alarm rate at most ``ks_alpha``.

    **Re-basing.** After a drifted window, later windows are also compared with the
    first drifted window (re-anchored whenever they differ from it). After
    ``settle_windows`` consecutive windows that agree with it, the region's reference is
    replaced by the latest window (``rebased=True``), so a lasting shift stops firing.

    **Boost.** A new region is boosted from its first event, a drifted region from the
    window that drifted; the multiplier decays as described in :class:`RegionBoost`.

    Parameters
    ----------
    window_size
        Events per window (default 2000: a 0.25 sd mean shift in one of a dozen
        features is detected within two windows with probability above 0.99).
    window_seconds
        Longest window span in seconds (default 600; ``None`` for count-only windows).
    min_events
        Fewest events for a time-closed window (default 100; capped at
        ``window_size``).
    correction
        ``"bh"`` (Benjamini-Hochberg, default) or ``"bonferroni"``.
    ks_alpha
        Corrected p-value below which a feature alarms (default 0.01); applies to the
        chi-square tests of categorical features and the prediction mix too.
    psi_warn, psi_alarm
        PSI thresholds for ``warn`` and ``severe`` (defaults 0.1 and 0.2).
    n_bins
        Quantile bins for numeric PSI (default 10).
    epsilon
        Additive smoothing of PSI shares (default 1e-4).
    min_category_count
        Categories rarer than this (pooled) share one chi-square bucket (default 5).
    settle_windows
        Agreeing windows after a drift before the reference is re-based (default 3).
    boost_factor, decay_windows
        Boost multiplier and its decay length in windows (defaults 3.0 and 5).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> m = DriftMonitor(window_size=200, window_seconds=None)
    >>> verdicts = []
    >>> for t in range(1000):
    ...     x = rng.gauss(1.0 if t >= 600 else 0.0, 1.0)
    ...     for r in m.update("eu", {"x": x}, 0.5, None, float(t)):
    ...         verdicts.append((r.window_index, r.new_region, r.drifted))
    >>> verdicts
    [(0, True, False), (1, False, False), (2, False, False), (3, False, True), (4, False, True)]
    >>> round(m.boost("eu"), 3)
    3.0
    """

    def __init__(
        self,
        window_size: int = 2000,
        window_seconds: float | None = 600.0,
        min_events: int = 100,
        correction: Correction = "bh",
        ks_alpha: float = 0.01,
        psi_warn: float = 0.1,
        psi_alarm: float = 0.2,
        n_bins: int = 10,
        epsilon: float = 1e-4,
        min_category_count: int = 5,
        settle_windows: int = 3,
        boost_factor: float = 3.0,
        decay_windows: int = 5,
    ) -> None:
        self.window_size = check_int("window_size", window_size, 2)
        if window_seconds is not None:
            check_float("window_seconds", window_seconds, 0.0)
        self.window_seconds = window_seconds
        self.min_events = check_int("min_events", min_events, 2)
        self.correction: Correction = check_choice(  # type: ignore[assignment]
            "correction", correction, ("bonferroni", "bh")
        )
        self.ks_alpha = check_float("ks_alpha", ks_alpha, 0.0, 1.0, high_open=True)
        self.psi_warn = check_float("psi_warn", psi_warn, 0.0)
        self.psi_alarm = check_float("psi_alarm", psi_alarm, 0.0)
        if psi_alarm < psi_warn:
            raise ConfigurationError(f"psi_alarm must be >= psi_warn, got {psi_alarm!r}")
        self.n_bins = check_int("n_bins", n_bins, 2)
        self.epsilon = check_float("epsilon", epsilon, 0.0, 1.0, high_open=True)
        self.min_category_count = check_int("min_category_count", min_category_count, 1)
        self.settle_windows = check_int("settle_windows", settle_windows, 1)
        self.boost_factor = check_float("boost_factor", boost_factor, 1.0, low_open=False)
        self.decay_windows = check_int("decay_windows", decay_windows, 1)
        self._reset()

    def _reset(self) -> None:
        self._min_events = min(self.min_events, self.window_size)
        self._regions: dict[str, _RegionState] = {}
        self._boost = RegionBoost(self.boost_factor, self.decay_windows)
        self._windows_closed = 0

    def _params(self) -> dict[str, object]:
        code = DriftMonitor.__init__.__code__
        return {name: getattr(self, name) for name in code.co_varnames[1 : code.co_argcount]}

    def clone(self) -> DriftMonitor:
        """A fresh monitor with the same parameters."""
        return DriftMonitor(**self._params())  # type: ignore[arg-type]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"DriftMonitor({args})"

    # -- hot path ------------------------------------------------------------------

    def update(
        self,
        region: str,
        features: Features,
        score: float,
        predicted: Label | None,
        timestamp: float,
    ) -> list[DriftResult]:
        """Add one event; return the results of the windows this event closed (usually none).

        ``features`` is kept by reference until the window closes and must not be
        mutated afterwards.
        """
        state = self._regions.get(region)
        if state is None:
            state = self._regions[region] = _RegionState()
            self._boost.trigger(region)
        window = state.window
        rows = window.features
        n = len(rows)
        results: list[DriftResult] = []
        if (
            n >= self._min_events
            and self.window_seconds is not None
            and timestamp - window.start >= self.window_seconds
        ):
            results.append(self._close(region, state))
            window = state.window
            rows = window.features
            n = 0
        # WindowBuffer.append inlined (the one per-event cost of the monitor).
        if not n:
            window.start = timestamp
        rows.append(features)
        window.scores.append(score)
        window.predictions.append(predicted)
        window.end = timestamp
        if n + 1 >= self.window_size:
            results.append(self._close(region, state))
        return results

    def update_many(
        self,
        regions: Sequence[str | None],
        features: Sequence[Features],
        scores: Sequence[float],
        predicted: Sequence[Label | None],
        timestamps: Sequence[float],
    ) -> list[tuple[list[DriftResult], float] | Exception]:
        """:meth:`update` then :meth:`boost` of each event in order (an event whose
        region is ``None`` is skipped: ``([], 1.0)``). An event whose update raised
        gets the exception in place of its results, and the loop goes on.

        Examples
        --------
        >>> one, many = DriftMonitor(window_size=50), DriftMonitor(window_size=50)
        >>> xs = [{"x": float(i % 7)} for i in range(240)]
        >>> regions = ["a" if i % 3 else "b" for i in range(240)]
        >>> ts = [float(i) for i in range(240)]
        >>> got = many.update_many(regions, xs, [0.5] * 240, [None] * 240, ts)
        >>> want = []
        >>> for r, x, t in zip(regions, xs, ts):
        ...     want.append((one.update(r, x, 0.5, None, t), one.boost(r)))
        >>> repr(got) == repr(want), sum(len(d) for d, _ in got)
        (True, 4)
        """
        out: list[tuple[list[DriftResult], float] | Exception] = []
        append = out.append
        update = self.update
        boost = self.boost
        for region, x, score, label, timestamp in zip(  # noqa: B905 (equal lengths)
            regions, features, scores, predicted, timestamps
        ):
            if region is None:
                append(([], 1.0))
                continue
            try:
                append((update(region, x, score, label, timestamp), boost(region)))
            except Exception as exc:
                append(exc)
        return out

    def boost(self, region: str) -> float:
        """The region's sampling multiplier (O(1); 1.0 when not boosted)."""
        return self._boost.boost(region)

    def flush(self, timestamp: float) -> list[DriftResult]:
        """Close every window that has spanned ``window_seconds`` by ``timestamp``.

        For a timer in the service: regions that went quiet still get their windows
        evaluated. Windows with fewer than ``min_events`` events stay open.
        """
        if self.window_seconds is None:
            return []
        return [
            self._close(region, state)
            for region, state in self._regions.items()
            if len(state.window) >= self._min_events
            and timestamp - state.window.start >= self.window_seconds
        ]

    # -- read-only state -----------------------------------------------------------

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions seen so far, in order of appearance."""
        return tuple(self._regions)

    @property
    def windows_closed(self) -> int:
        """Windows closed so far, over all regions."""
        return self._windows_closed

    def buffered(self, region: str) -> int:
        """Events in ``region``'s open window (never more than ``window_size``)."""
        state = self._regions.get(region)
        return len(state.window) if state is not None else 0

    def reference_size(self, region: str) -> int:
        """Events in ``region``'s reference (0 before its first window closes)."""
        state = self._regions.get(region)
        return state.reference.n if state is not None and state.reference is not None else 0

    # -- window close --------------------------------------------------------------

    def _summarise(self, columns: Columns) -> Reference:
        return Reference(columns, self.n_bins, self.epsilon, self.min_category_count)

    def _judge(self, tests: list[RawTest]) -> tuple[FeatureDrift, ...]:
        tested = [i for i, t in enumerate(tests) if t.p_value is not None]
        corrected: dict[int, float] = {}
        if tested:
            adjusted = correct(np.array([tests[i].p_value for i in tested]), self.correction)
            corrected = {i: float(a) for i, a in zip(tested, adjusted, strict=True)}
        out = []
        for i, t in enumerate(tests):
            cp = corrected.get(i)
            level: Level = "ok"
            if cp is not None and cp < self.ks_alpha:
                level = "alarm"
            elif t.psi > self.psi_warn:
                level = "warn"
            out.append(FeatureDrift(t.feature, t.kind, t.ks_statistic, t.p_value, cp, t.psi, level))
        return tuple(out)

    def _differs(self, reference: Reference, columns: Columns) -> bool:
        return any(f.level == "alarm" for f in self._judge(reference.compare(columns)))

    def _close(self, region: str, state: _RegionState) -> DriftResult:
        window = state.window
        state.window = WindowBuffer()
        columns = Columns(window)
        index = state.n_windows
        state.n_windows += 1
        self._windows_closed += 1
        reference = state.reference
        if reference is None:
            state.reference = self._summarise(columns)
            self._boost.step(region)
            return DriftResult(region, index, window.end, 0, columns.n, (), False, True)
        features = self._judge(reference.compare(columns))
        drifted = any(f.level == "alarm" for f in features)
        severe = any(f.level == "alarm" and f.psi > self.psi_alarm for f in features)
        rebased = False
        if not drifted:
            state.candidate, state.settled = None, 0
            self._boost.step(region)
        else:
            self._boost.trigger(region)
            if state.candidate is None or self._differs(state.candidate, columns):
                state.candidate, state.settled = self._summarise(columns), 0
            else:
                state.settled += 1
                if state.settled >= self.settle_windows:
                    state.reference = self._summarise(columns)
                    state.candidate, state.settled, rebased = None, 0, True
        return DriftResult(
            region,
            index,
            window.end,
            reference.n,
            columns.n,
            features,
            drifted,
            False,
            rebased,
            severe,
        )
