"""The database side of a ``/metrics`` scrape: queue depth and age, executions finished.

Two grouped queries per scrape, whatever the size of the queue or the history; the API turns
the rows into Prometheus families (``api.metrics``) and never reads tables itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from scale.store.db import Database
from scale.store.tables import JobExecutionEndRow, JobTypeRow, QueueRow

_QUEUE = (
    select(JobTypeRow.name, JobTypeRow.version, func.count(), func.min(QueueRow.queued))
    .join(JobTypeRow, JobTypeRow.id == QueueRow.job_type_id)
    .where(QueueRow.is_canceled.is_(False))
    .group_by(JobTypeRow.name, JobTypeRow.version)
)
_FINISHED = (
    select(
        JobTypeRow.name,
        JobTypeRow.version,
        JobExecutionEndRow.status,
        JobExecutionEndRow.error_category,
        func.count(),
    )
    .join(JobTypeRow, JobTypeRow.id == JobExecutionEndRow.job_type_id)
    .group_by(
        JobTypeRow.name, JobTypeRow.version, JobExecutionEndRow.status, JobExecutionEndRow.error_category
    )
)


@dataclass(frozen=True)
class QueuedCount:
    """Jobs on the queue (not canceled) of one job type, and when the oldest was queued."""

    job_type: str
    version: str
    count: int
    oldest_queued: datetime | None


@dataclass(frozen=True)
class FinishedCount:
    """Executions that ended, per job type, status (COMPLETED/FAILED/CANCELED) and category."""

    job_type: str
    version: str
    status: str
    error_category: str | None
    count: int


def scrape_counts(db: Database) -> tuple[list[QueuedCount], list[FinishedCount]]:
    """Both counts from one read connection (the read replica where one is configured)."""
    with db.read_engine.connect() as conn:
        queued = [QueuedCount(n, v, int(c), q) for n, v, c, q in conn.execute(_QUEUE).all()]
        finished = [
            FinishedCount(n, v, str(s), cat, int(c)) for n, v, s, cat, c in conn.execute(_FINISHED).all()
        ]
    return queued, finished
