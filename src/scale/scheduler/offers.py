"""Per-agent resource accounting: held offers, running tasks, the watermark, and the five
numbers the status reports for every resource (DESIGN §9, reference §3.2).

    running     = resources of our tasks launched and not yet ended
    offered     = offers we hold now
    watermark   = rolling maximum of (offered + running) over 5–10 min, clamped to total
    free        = watermark − running − offered
    unavailable = total − watermark

so ``offered + running + free + unavailable == total`` holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scale.domain.resources import ZERO, Resources, total
from scale.domain.tasks import Offer

WATERMARK_RESET_PERIOD = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ResourceBreakdown:
    offered: Resources
    running: Resources
    free: Resources
    unavailable: Resources
    total: Resources

    def to_status(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name in ("cpus", "mem", "disk", "gpus"):
            out[name] = {
                "offered": round(getattr(self.offered, name), 2),
                "total": round(getattr(self.total, name), 2),
                "running": round(getattr(self.running, name), 2),
                "free": round(getattr(self.free, name), 2),
                "unavailable": round(getattr(self.unavailable, name), 2),
            }
        return out


EMPTY_BREAKDOWN = ResourceBreakdown(ZERO, ZERO, ZERO, ZERO, ZERO)


class AgentResources:
    """Offers held for one agent plus its watermark. Owned by the scheduling thread."""

    def __init__(self, agent_id: str, total_resources: Resources, now: datetime) -> None:
        self.agent_id = agent_id
        self.total = total_resources
        self.offers: dict[str, Offer] = {}
        self.running = ZERO
        self.watermark = ZERO
        self._recent_watermark = ZERO
        self._reset_at = now + WATERMARK_RESET_PERIOD

    @property
    def offered(self) -> Resources:
        return total(o.resources for o in self.offers.values())

    def add_offer(self, offer: Offer) -> None:
        self.offers[offer.offer_id] = offer

    def remove_offer(self, offer_id: str) -> Offer | None:
        return self.offers.pop(offer_id, None)

    def take_all_offers(self) -> list[str]:
        ids = list(self.offers)
        self.offers.clear()
        return ids

    def refresh(self, running: Resources, now: datetime) -> None:
        """Record what runs here now and move the watermark (called every scheduling pass)."""
        self.running = running
        if now >= self._reset_at:
            self.watermark = self._recent_watermark
            self._recent_watermark = ZERO
            self._reset_at = now + WATERMARK_RESET_PERIOD
        used = self.offered + running
        self.watermark = self.watermark.max_with(used).min_with(self.total)
        self._recent_watermark = self._recent_watermark.max_with(used).min_with(self.total)

    def breakdown(self) -> ResourceBreakdown:
        offered = self.offered
        watermark = self.watermark.max_with(offered + self.running).min_with(self.total)
        return ResourceBreakdown(
            offered=offered,
            running=self.running,
            free=watermark - self.running - offered,
            unavailable=self.total - watermark,
            total=self.total,
        )


def sum_breakdowns(parts: list[ResourceBreakdown]) -> ResourceBreakdown:
    return ResourceBreakdown(
        offered=total(p.offered for p in parts),
        running=total(p.running for p in parts),
        free=total(p.free for p in parts),
        unavailable=total(p.unavailable for p in parts),
        total=total(p.total for p in parts),
    )
