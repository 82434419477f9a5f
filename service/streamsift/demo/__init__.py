"""``streamsift demo``: the whole loop on one machine, live, with a report.

The orchestration (:mod:`~streamsift.demo.runner`, :mod:`~streamsift.demo.session`)
starts a Kafka broker, the worker, the synthetic producer, the simulated labelling
team and a local Prometheus, watches the worker's ``/metrics`` every second
(:mod:`~streamsift.demo.promtext`, :mod:`~streamsift.demo.series`,
:mod:`~streamsift.demo.live`), stops everything, and writes ``report.md`` with PNG
plots (:mod:`~streamsift.demo.figures`, :mod:`~streamsift.demo.plots`,
:mod:`~streamsift.demo.report`); the savings against random sampling come from an
offline run of the same core on the same generator (:mod:`~streamsift.demo.offline`).
"""

from __future__ import annotations

from streamsift.demo.config import DemoConfig
from streamsift.demo.figures import Figures, compute_figures
from streamsift.demo.promtext import Sample, parse_metrics
from streamsift.demo.series import Recording

__all__ = ["DemoConfig", "Figures", "Recording", "Sample", "compute_figures", "parse_metrics"]
