"""Putting a job on the queue: the one place a queue row is built from a job.

Used when a job is created, when a failure is retried, and when an operator requeues.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scale.domain.states import JobStatus, transition
from scale.store.tables import JobRow, QueueRow


def enqueue(session: Session, job: JobRow, now: datetime) -> None:
    """Queue the job's current execution (``job.num_exes``): insert its row or refresh it."""
    row = session.get(QueueRow, job.id)
    if row is None:
        session.add(
            QueueRow(
                job_id=job.id,
                job_type_id=job.job_type_id,
                exe_num=job.num_exes,
                priority=job.priority,
                queued=now,
                resources=job.resources,
            )
        )
        return
    row.exe_num, row.priority, row.queued = job.num_exes, job.priority, now
    row.is_canceled, row.unplaced_reasons = False, None


def requeue(session: Session, job: JobRow, now: datetime) -> None:
    """Give the job one more execution and put it back on the queue."""
    job.status = transition(job.status, JobStatus.QUEUED).value
    job.num_exes += 1
    job.queued = now
    job.last_status_change = now
    job.last_modified = now
    enqueue(session, job, now)
