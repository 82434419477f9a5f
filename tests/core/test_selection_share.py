"""Selector.set_capacity_share: workers splitting one team's capacity."""

from __future__ import annotations

import pytest

from streamsift.core.selection import LabelBudget, Selector, TokenBucket
from streamsift.errors import ConfigurationError


def _run(selector: Selector, events: int, rate: float) -> int:
    picked = 0
    for i in range(events):
        now = i / rate
        s = selector.decide(score=(i * 37 % 100) / 100, boost=1.0, now=now, cold=False)
        if s.selected:
            selector.record(s, now)
            selector.label_arrived(now)
            picked += 1
    return picked


def test_half_share_halves_the_label_rate() -> None:
    # 100 events/s for 10 minutes, capacity 3,600 labels/h = 1/s -> 600 labels alone.
    alone = _run(Selector(3600.0, seed=1), 60_000, 100.0)
    half = Selector(3600.0, seed=1)
    half.set_capacity_share(0.5, now=0.0)
    shared = _run(half, 60_000, 100.0)
    assert 540 <= alone <= 660
    assert 0.45 * alone <= shared <= 0.55 * alone
    assert half.capacity_share == 0.5


def test_share_scales_money_and_pending() -> None:
    budget = LabelBudget(3600.0, cost_per_label=1.0, budget_per_day=10.0)
    budget.set_share(0.5)
    for _ in range(5):
        assert budget.can_afford(0.0)
        budget.charge(0.0)
    assert not budget.can_afford(0.0)
    sel = Selector(3600.0, max_pending=10, seed=0)
    sel.set_capacity_share(0.3, now=0.0)
    assert sel._pending_limit == 3


def test_bucket_rescale_keeps_level_within_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=100.0)
    bucket.rescale(0.0, rate=1.0, burst=5.0)
    assert bucket.available(0.0) == 5.0
    assert bucket.available(2.0) == 5.0
    bucket.consume(2.0, 5.0)
    assert bucket.available(3.0) == pytest.approx(1.0)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_share_validation(share: float) -> None:
    with pytest.raises(ConfigurationError):
        Selector(3600.0).set_capacity_share(share, now=0.0)


def test_sampler_delegates_the_share() -> None:
    from streamsift.core.sampler import Sampler

    sampler = Sampler(capacity_per_hour=3600.0, seed=0)
    assert sampler.capacity_share == 1.0
    sampler.set_capacity_share(0.25)
    assert sampler.capacity_share == 0.25
