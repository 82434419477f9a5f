"""GoldMixer's warm-up: a qualification phase at a higher gold rate, then the usual one."""

from __future__ import annotations

import pytest

from streamsift.core.quality import GoldItem, GoldMixer, GoldSet
from streamsift.errors import ConfigurationError

GOLD = GoldSet([GoldItem("g1", {"x": 1.0}, True), GoldItem("g2", {"x": 2.0}, False)])


def test_warmup_requests_carry_gold_at_the_warmup_rate_then_at_the_rate() -> None:
    mixer = GoldMixer(GOLD, rate=0.02, seed=3, warmup_requests=2_000, warmup_rate=0.5)
    warm = sum(mixer.draw() is not None for _ in range(2_000))
    after = sum(mixer.draw() is not None for _ in range(20_000))
    assert 900 < warm < 1_100  # 50% of the first 2,000
    assert 320 < after < 480  # 2% of the next 20,000
    assert mixer.n_requests == 22_000 and mixer.n_injected == warm + after


def test_no_warmup_by_default_and_the_same_draws_as_before() -> None:
    a = GoldMixer(GOLD, rate=0.5, seed=1)
    b = GoldMixer(GOLD, rate=0.5, seed=1, warmup_requests=0, warmup_rate=0.9)
    assert [a.draw() for _ in range(50)] == [b.draw() for _ in range(50)]


@pytest.mark.parametrize("kwargs", [{"warmup_requests": -1}, {"warmup_rate": 1.5}])
def test_bad_warmup(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        GoldMixer(GOLD, **kwargs)  # type: ignore[arg-type]
