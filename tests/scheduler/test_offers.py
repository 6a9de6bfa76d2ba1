"""Resource accounting: offered + running + free + unavailable == total, and the watermark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scale.domain.resources import RESOURCE_NAMES, Resources
from scale.domain.tasks import Offer
from scale.scheduler.offers import AgentResources, sum_breakdowns

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOTAL = Resources(8, 16_000, 100_000, 1)


def offer(i: int, res: Resources) -> Offer:
    return Offer(f"o{i}", "a1", "host", res, T0)


def assert_sums_to_total(agent: AgentResources) -> None:
    b = agent.breakdown()
    for name in RESOURCE_NAMES:
        parts = sum(getattr(getattr(b, k), name) for k in ("offered", "running", "free", "unavailable"))
        assert parts == pytest.approx(getattr(b.total, name), abs=0.01)


def test_breakdown_adds_up_and_tracks_the_watermark() -> None:
    agent = AgentResources("a1", TOTAL, T0)
    agent.add_offer(offer(1, Resources(6, 12_000, 90_000, 1)))
    agent.refresh(Resources(), T0)
    b = agent.breakdown()
    assert b.offered == Resources(6, 12_000, 90_000, 1)
    assert b.unavailable == Resources(2, 4_000, 10_000, 0)
    assert b.free == Resources()
    assert_sums_to_total(agent)

    # Launch: the offer is consumed, the task runs with part of it
    agent.take_all_offers()
    agent.refresh(Resources(2, 1_000, 0, 0), T0 + timedelta(seconds=1))
    b = agent.breakdown()
    assert b.running == Resources(2, 1_000, 0, 0)
    assert b.free == Resources(4, 11_000, 90_000, 1)  # seen usable recently, not held now
    assert_sums_to_total(agent)


def test_watermark_rolls_over_after_ten_minutes() -> None:
    agent = AgentResources("a1", TOTAL, T0)
    agent.add_offer(offer(1, Resources(8, 16_000, 100_000, 1)))
    agent.refresh(Resources(), T0)
    agent.take_all_offers()
    agent.refresh(Resources(), T0 + timedelta(minutes=6))
    assert agent.breakdown().free.cpus == 8  # still remembered
    agent.refresh(Resources(), T0 + timedelta(minutes=12))
    assert agent.breakdown().free.cpus == 0
    assert agent.breakdown().unavailable.cpus == 8
    assert_sums_to_total(agent)


def test_watermark_never_exceeds_total() -> None:
    agent = AgentResources("a1", Resources(1, 100, 100, 0), T0)
    agent.add_offer(offer(1, Resources(2, 200, 200, 0)))
    agent.refresh(Resources(), T0)
    assert agent.watermark == Resources(1, 100, 100, 0)


def test_cluster_sum() -> None:
    a = AgentResources("a", TOTAL, T0)
    b = AgentResources("b", TOTAL, T0)
    total = sum_breakdowns([a.breakdown(), b.breakdown()])
    assert total.total == Resources(16, 32_000, 200_000, 2)
    assert total.to_status()["cpus"]["unavailable"] == 16
