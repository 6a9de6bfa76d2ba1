"""Scheduler warnings (Scale HEAD's ``scheduler.warnings``): conditions that expire an hour
after their last raise."""

from __future__ import annotations

from datetime import datetime, timedelta

from scale.scheduler.conditions import Condition, raise_condition

EXPIRY = timedelta(hours=1)


class SchedulerWarnings:
    def __init__(self) -> None:
        self._active: dict[str, Condition] = {}

    def raise_warning(self, name: str, title: str, description: str, now: datetime) -> None:
        raise_condition(self._active, name, title, description, now)

    def active(self, now: datetime) -> list[Condition]:
        self._active = {k: w for k, w in self._active.items() if now - w.last_updated <= EXPIRY}
        return sorted(self._active.values(), key=lambda w: w.name)
