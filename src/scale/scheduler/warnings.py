"""Scheduler warnings (Scale HEAD's ``scheduler.warnings``): named conditions with ``started``
(first raised) and ``last_updated`` (latest raise) that expire an hour after their last raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

EXPIRY = timedelta(hours=1)


@dataclass
class ActiveWarning:
    name: str
    title: str
    description: str
    started: datetime
    last_updated: datetime


class SchedulerWarnings:
    def __init__(self) -> None:
        self._active: dict[str, ActiveWarning] = {}

    def raise_warning(self, name: str, title: str, description: str, now: datetime) -> None:
        current = self._active.get(name)
        if current is None:
            self._active[name] = ActiveWarning(name, title, description, now, now)
        else:
            current.title, current.description, current.last_updated = title, description, now

    def active(self, now: datetime) -> list[ActiveWarning]:
        self._active = {k: w for k, w in self._active.items() if now - w.last_updated <= EXPIRY}
        return sorted(self._active.values(), key=lambda w: w.name)


def warning_json(warning: ActiveWarning, fmt: Any) -> dict[str, Any]:
    return {
        "name": warning.name,
        "title": warning.title,
        "description": warning.description,
        "started": fmt(warning.started),
        "last_updated": fmt(warning.last_updated),
    }
