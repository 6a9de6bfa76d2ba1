"""Bulk job actions: cancel and requeue, selected by the same kind of filters as the job list.

Cancel ends a job at once (CANCELED) and takes it off the queue; a running execution of it is
killed by the scheduler, which sees the cancellation within one status period and ends the
execution CANCELED. Requeue takes FAILED and CANCELED jobs back to the queue with one more
execution, and enough tries left for the job type's usual retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, select

from scale.domain.states import ErrorCategory, JobStatus, transition
from scale.services.queueing import requeue
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobRow, JobTypeRow, QueueRow

CANCELABLE = (JobStatus.PENDING, JobStatus.BLOCKED, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)
REQUEUEABLE = (JobStatus.FAILED, JobStatus.CANCELED)


@dataclass(frozen=True)
class JobSelection:
    """Which jobs an action applies to: every filter given must hold (Scale v6's body fields).

    ``started``/``ended`` bound the job's last modification, as the job list's filters do.
    """

    job_ids: Sequence[int] = ()
    job_type_ids: Sequence[int] = ()
    statuses: Sequence[JobStatus] = ()
    job_type_names: Sequence[str] = ()
    error_categories: Sequence[ErrorCategory] = ()
    error_ids: Sequence[int] = ()
    started: datetime | None = None
    ended: datetime | None = None


def _select(selection: JobSelection, allowed: Sequence[JobStatus]) -> Select[JobRow]:
    statuses = [s.value for s in (selection.statuses or allowed) if s in allowed]
    query = select(JobRow).where(JobRow.status.in_(statuses)).order_by(JobRow.id).with_for_update()
    if selection.job_ids:
        query = query.where(JobRow.id.in_(list(selection.job_ids)))
    if selection.job_type_ids:
        query = query.where(JobRow.job_type_id.in_(list(selection.job_type_ids)))
    if selection.job_type_names:
        named = select(JobTypeRow.id).where(JobTypeRow.name.in_(list(selection.job_type_names)))
        query = query.where(JobRow.job_type_id.in_(named))
    if selection.error_categories:
        categories = [c.value for c in selection.error_categories]
        query = query.where(JobRow.error_id.in_(select(ErrorRow.id).where(ErrorRow.category.in_(categories))))
    if selection.error_ids:
        query = query.where(JobRow.error_id.in_(list(selection.error_ids)))
    if selection.started is not None:
        query = query.where(JobRow.last_modified >= selection.started)
    if selection.ended is not None:
        query = query.where(JobRow.last_modified <= selection.ended)
    return query


def cancel_jobs(db: Database, selection: JobSelection, *, now: datetime) -> int:
    """Cancel every selected job that is not already COMPLETED or CANCELED; returns how many."""
    with db.session() as session:
        jobs = list(session.scalars(_select(selection, CANCELABLE)))
        for job in jobs:
            job.status = transition(job.status, JobStatus.CANCELED).value
            job.ended = now
            job.last_status_change = now
            job.last_modified = now
        if jobs:
            session.execute(delete(QueueRow).where(QueueRow.job_id.in_([j.id for j in jobs])))
        return len(jobs)


def requeue_jobs(db: Database, selection: JobSelection, *, now: datetime, priority: int | None = None) -> int:
    """Queue every selected FAILED or CANCELED job again; returns how many."""
    with db.session() as session:
        jobs = list(session.scalars(_select(selection, REQUEUEABLE)))
        tries = dict(
            session.execute(
                select(JobTypeRow.id, JobTypeRow.max_tries).where(
                    JobTypeRow.id.in_({j.job_type_id for j in jobs})
                )
            ).all()
        )
        for job in jobs:
            if priority is not None:
                job.priority = priority
            job.error_id = None
            job.ended = None
            requeue(session, job, now)
            job.max_tries = job.num_exes + tries.get(job.job_type_id, 3) - 1
        return len(jobs)
