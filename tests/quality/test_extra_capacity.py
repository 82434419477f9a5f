"""Extra labels (quality control) draw from the same capacity as selections.

``Selector.has_capacity`` looks at the token bucket and the money budget without
taking anything; ``Sampler.take_extra`` takes one token for an extra label (recording
it like a confirmed selection) or refuses and changes nothing.
"""

from __future__ import annotations

from streamsift.core.sampler import Sampler
from streamsift.core.selection import Selection, Selector
from streamsift.core.types import Decision


def _decision() -> Decision:
    return Decision(
        event_id="e1", selected=True, arm="active", score=0.5, p=0.1, region="eu",
        reason="selected", model_version=0,
    )  # fmt: skip


def test_has_capacity_follows_the_token_bucket_and_takes_nothing() -> None:
    sel = Selector(capacity_per_hour=3600.0, bucket_burst=2.0, seed=1)  # 1 label/s, burst 2
    # a fresh bucket holds one second's refill (at least one token), not the burst
    assert sel.has_capacity(0.0) and not sel.has_capacity(0.0, n=2)
    assert sel.has_capacity(0.0)  # looking took nothing
    sel.record(Selection(True, "active", 0.1, "selected", 0.0, 0.1, 0.5), now=0.0)
    assert not sel.has_capacity(0.5)
    assert sel.has_capacity(2.0, n=2) and not sel.has_capacity(2.0, n=3)  # refilled to burst
    assert sel.has_capacity(2.0, n=2)


def test_has_capacity_follows_the_money_budget() -> None:
    sel = Selector(
        capacity_per_hour=1e9, cost_per_label=1.0, budget_per_day=1.0, bucket_burst=100.0, seed=1
    )
    assert sel.has_capacity(10.0)
    sel.record(Selection(True, "active", 0.1, "selected", 0.0, 0.1, 0.5), now=10.0)
    # the day's whole budget is spent
    assert not sel.has_capacity(10.0)
    assert sel.has_capacity(86_400.0 + 10.0)  # a new day


def test_fraction_mode_has_no_bucket() -> None:
    assert Selector.for_fraction(0.1, seed=1).has_capacity(0.0, n=1_000)


def test_take_extra_grants_while_tokens_last_then_refuses_without_side_effects() -> None:
    sampler = Sampler(capacity_per_hour=600.0, seed=1)  # a label per 6 s, burst 10
    d = _decision()
    granted = [sampler.take_extra(d, 0.0) for _ in range(3)]
    assert granted == [True, False, False]  # a fresh bucket holds one token here
    assert sampler.state.pending == 1  # only the granted one is pending
    assert sampler.state.selected_by_arm["active"] == 1
    assert not sampler.take_extra(d, 3.0)  # half a token refilled: not enough
    assert sampler.take_extra(d, 6.0)  # one token refilled
    assert sampler.state.pending == 2
    granted = [sampler.take_extra(d, 66.0) for _ in range(12)]  # 60 s: refilled to 10
    assert granted == [True] * 10 + [False] * 2


def test_take_extra_counts_against_the_same_bucket_as_confirmed_selections() -> None:
    sampler = Sampler(capacity_per_hour=600.0, seed=1)  # burst 10
    d = _decision()
    for _ in range(10):  # selections sent and confirmed took what the bucket held
        sampler.confirm(d, 0.0)
    assert not sampler.take_extra(d, 0.0)
    assert not sampler.take_extra(d, 53.0)  # the ten confirmed left a debt of nine
    assert sampler.take_extra(d, 60.0)  # repaid (54 s) plus one token
    assert sampler.state.pending == 11
