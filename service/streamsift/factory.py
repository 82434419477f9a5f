"""Build core objects from settings (the one place that maps configuration to the core)."""

from __future__ import annotations

from streamsift.config import Settings
from streamsift.core.models import DEFAULT_BASE_MODEL
from streamsift.core.sampler import Sampler

__all__ = ["build_sampler"]


def build_sampler(settings: Settings) -> Sampler:
    """The Sampler a worker runs, as configured.

    Examples
    --------
    >>> s = build_sampler(Settings(capacity_per_hour=120, strategy="online-entropy"))
    >>> s.strategy, s.capacity_per_hour
    ('online-entropy', 120.0)
    """
    base = DEFAULT_BASE_MODEL if settings.base_model == "default" else settings.base_model
    return Sampler(
        strategy=settings.strategy,
        base_model=base,
        committee_size=settings.committee_size,
        capacity_per_hour=settings.capacity_per_hour,
        cost_per_label=settings.cost_per_label,
        budget_per_day=settings.budget_per_day,
        control_share=settings.control_share,
        p_floor=settings.p_floor,
        max_pending=settings.max_pending,
        min_labels=settings.min_labels,
        weight_clip=settings.weight_clip,
        evidence_clip=settings.evidence_clip,
        drift_window=settings.drift_window_events,
        drift_window_seconds=settings.drift_window_seconds,
        drift_correction=settings.drift_correction,
        ks_alpha=settings.drift_ks_alpha,
        psi_warn=settings.drift_psi_warn,
        psi_alarm=settings.drift_psi_alarm,
        drift_boost=settings.drift_boost,
        boost_decay_windows=settings.drift_boost_decay_windows,
        max_regions=settings.max_regions,
        concept_delta=settings.concept_delta,
        relearn_labels=settings.relearn_labels,
        seed=settings.seed,
    )
