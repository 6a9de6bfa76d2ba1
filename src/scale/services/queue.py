"""The queue's status: waiting jobs grouped by job type (Scale's ``/v6/queue/status/``).

Canceled queue rows are left out. ``highest_priority`` is the *smallest* priority number (a
lower number runs first); ``longest_queued`` is the oldest ``queued`` time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from scale.store.db import Database
from scale.store.tables import JobTypeRow, QueueRow


@dataclass(frozen=True, slots=True)
class QueueStatusView:
    job_type: JobTypeRow
    count: int
    longest_queued: datetime
    highest_priority: int


def queue_status(db: Database, *, offset: int, limit: int) -> tuple[int, list[QueueStatusView]]:
    """One entry per job type with queued jobs, paused types last, then by best priority, then
    by the oldest queued job (job type id breaks ties so pages are stable)."""
    groups = (
        select(
            QueueRow.job_type_id.label("job_type_id"),
            func.count().label("count"),
            func.min(QueueRow.queued).label("longest_queued"),
            func.min(QueueRow.priority).label("highest_priority"),
        )
        .where(QueueRow.is_canceled.is_(False))
        .group_by(QueueRow.job_type_id)
        .subquery()
    )
    query = select(JobTypeRow, groups.c.count, groups.c.longest_queued, groups.c.highest_priority).join(
        groups, groups.c.job_type_id == JobTypeRow.id
    )
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(groups)) or 0
        rows = session.execute(
            query.order_by(
                JobTypeRow.is_paused.asc(),
                groups.c.highest_priority.asc(),
                groups.c.longest_queued.asc(),
                JobTypeRow.id.asc(),
            )
            .offset(offset)
            .limit(limit)
        ).all()
        return count, [_view(r) for r in rows]


def _view(row: Any) -> QueueStatusView:
    job_type, count, longest, highest = row
    return QueueStatusView(job_type, int(count), longest, int(highest))
