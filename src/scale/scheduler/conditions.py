"""Named conditions (node errors and warnings, scheduler warnings) with ``started`` (first raised)
and ``last_updated`` (latest raise), as the status reports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Condition:
    name: str
    title: str
    description: str
    started: datetime
    last_updated: datetime

    def to_json(self, fmt: Callable[[datetime], str]) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "started": fmt(self.started),
            "last_updated": fmt(self.last_updated),
        }


def raise_condition(
    table: dict[str, Condition], name: str, title: str, description: str, now: datetime
) -> None:
    """Activate ``name`` in ``table``: a new one starts now; an active one keeps its start."""
    current = table.get(name)
    if current is None:
        table[name] = Condition(name, title, description, now, now)
    else:
        current.title, current.description, current.last_updated = title, description, now
