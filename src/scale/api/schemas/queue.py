"""``/v6/queue/status/``: queued jobs per job type."""

from __future__ import annotations

from pydantic import BaseModel

from scale.api.schemas.common import UtcDateTime
from scale.services.queue import QueueStatusView
from scale.services.views import JobTypeView


class QueueJobTypeOut(BaseModel):
    id: int
    name: str
    version: str
    title: str | None
    description: str | None
    is_active: bool
    is_paused: bool
    icon_code: str | None

    @classmethod
    def from_row(cls, row: JobTypeView) -> QueueJobTypeOut:
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            title=row.title,
            description=row.description,
            is_active=row.is_active,
            is_paused=row.is_paused,
            icon_code=row.icon_code,
        )


class QueueStatusOut(BaseModel):
    job_type: QueueJobTypeOut
    count: int
    longest_queued: UtcDateTime
    highest_priority: int

    @classmethod
    def from_view(cls, view: QueueStatusView) -> QueueStatusOut:
        return cls(
            job_type=QueueJobTypeOut.from_row(view.job_type),
            count=view.count,
            longest_queued=view.longest_queued,
            highest_priority=view.highest_priority,
        )
