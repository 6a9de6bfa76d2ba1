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

    def replace_group(self, prefix: str, current: list[tuple[str, str, str]], now: datetime) -> None:
        """Make the warnings named ``prefix...`` exactly ``current`` (name, title, description):
        for conditions the scheduler re-checks every pass, which end when their cause does."""
        names = {name for name, _, _ in current}
        for name in [n for n in self._active if n.startswith(prefix) and n not in names]:
            del self._active[name]
        for name, title, description in current:
            self.raise_warning(name, title, description, now)

    def active(self, now: datetime) -> list[Condition]:
        self._active = {k: w for k, w in self._active.items() if now - w.last_updated <= EXPIRY}
        return sorted(self._active.values(), key=lambda w: w.name)
