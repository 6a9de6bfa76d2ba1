"""Message handlers: the bodies of Scale's command messages, applied to the database.

Every handler is idempotent and order-independent. A job change applies only while the job is
still on the execution the message is about (``job.num_exes == exe_num``) and in a state that
allows it, so a duplicate or a late message changes nothing.

Each handler takes its message class from ``domain.messages``, already validated by the worker
(``MessageWorker._apply``): every field is there and of its type, so nothing here reads a body
with defaults that would turn a wrong shape into a silent no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from scale.domain import messages as mt
from scale.domain.messages import CommandMessage
from scale.domain.states import JobStatus, can_transition, transition
from scale.messaging.worker import Handler
from scale.services.queueing import requeue
from scale.store.tables import ErrorRow, JobExecutionEndRow, JobRow


def _or_now(value: datetime | None, now: datetime) -> datetime:
    return value if value is not None else now


def _jobs_by_id(session: Session, ids: Iterable[int]) -> dict[int, JobRow]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(JobRow).where(JobRow.id.in_(wanted)).with_for_update())
    return {row.id: row for row in rows}


def _job_states(session: Session, ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """``{job id: (num_exes, status)}``, the rows locked: all the common handlers need to decide.

    The running and completed messages carry a whole scheduling pass each (about 1,000 jobs at
    1,000 nodes); loading and flushing ORM objects for them was half of the message handlers'
    time (BENCHMARKS.md, benchmark 1), so they read these two columns and write with one
    executemany UPDATE by primary key.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(JobRow.id, JobRow.num_exes, JobRow.status).where(JobRow.id.in_(wanted)).with_for_update()
    )
    return {job_id: (num_exes, status) for job_id, num_exes, status in rows}


def _update_jobs(session: Session, changes: list[dict[str, Any]]) -> None:
    """UPDATE ... WHERE id = :id for each dict (ORM bulk update by primary key: no objects)."""
    if changes:
        session.execute(update(JobRow), changes)


def handle_running_jobs(session: Session, message: mt.RunningJobs, now: datetime) -> list[CommandMessage]:
    entries = message.jobs
    states = _job_states(session, (e.job_id for e in entries))
    changes: list[dict[str, Any]] = []
    for entry in entries:
        state = states.get(entry.job_id)
        if state is None or state[0] != entry.exe_num or not can_transition(state[1], JobStatus.RUNNING):
            continue
        status = transition(state[1], JobStatus.RUNNING).value
        states[entry.job_id] = (entry.exe_num, status)  # a duplicate entry: once
        changes.append(
            {
                "id": entry.job_id,
                "status": status,
                "node_id": entry.node_id,
                "started": _or_now(entry.started, now),
                "last_status_change": now,
                "last_modified": now,
            }
        )
    _update_jobs(session, changes)
    return []


def handle_completed_jobs(session: Session, message: mt.CompletedJobs, now: datetime) -> list[CommandMessage]:
    entries = message.jobs
    states = _job_states(session, (e.job_id for e in entries))
    changes: list[dict[str, Any]] = []
    for entry in entries:
        state = states.get(entry.job_id)
        if state is None or state[0] != entry.exe_num or not can_transition(state[1], JobStatus.COMPLETED):
            continue
        status = transition(state[1], JobStatus.COMPLETED).value
        states[entry.job_id] = (entry.exe_num, status)
        change: dict[str, Any] = {
            "id": entry.job_id,
            "status": status,
            "ended": _or_now(entry.ended, now),
            "error_id": None,
            "last_status_change": now,
            "last_modified": now,
        }
        if entry.node_id is not None:
            change["node_id"] = entry.node_id
        if entry.output is not None:
            change["output"] = entry.output
        changes.append(change)
    _update_jobs(session, changes)
    return []


def fail_job(session: Session, job: JobRow, error: ErrorRow | None, ended: datetime, now: datetime) -> bool:
    """Fail the job's current execution: requeue it when the error allows a retry, else end it.

    Returns True when the job went back to the queue.
    """
    if error is not None and error.should_be_retried and job.num_exes < job.max_tries:
        job.error_id = error.id
        requeue(session, job, now)
        return True
    job.status = transition(job.status, JobStatus.FAILED).value
    job.error_id = error.id if error is not None else None
    job.ended = ended
    job.last_status_change = now
    job.last_modified = now
    return False


def handle_failed_jobs(session: Session, message: mt.FailedJobs, now: datetime) -> list[CommandMessage]:
    entries = message.jobs
    jobs = _jobs_by_id(session, (e.job_id for e in entries))
    error_ids = {e.error_id for e in entries if e.error_id is not None}
    errors = {r.id: r for r in session.scalars(select(ErrorRow).where(ErrorRow.id.in_(error_ids)))}
    for entry in entries:
        job = jobs.get(entry.job_id)
        if job is None or job.num_exes != entry.exe_num or not can_transition(job.status, JobStatus.FAILED):
            continue
        if entry.node_id is not None:
            job.node_id = entry.node_id
        error = errors.get(entry.error_id) if entry.error_id is not None else None
        fail_job(session, job, error, _or_now(entry.ended, now), now)
    return []


def handle_create_job_exe_ends(
    session: Session, message: mt.CreateJobExeEnds, now: datetime
) -> list[CommandMessage]:
    entries = message.exe_ends
    ids = [e.job_exe_id for e in entries]
    existing = set(
        session.scalars(select(JobExecutionEndRow.job_exe_id).where(JobExecutionEndRow.job_exe_id.in_(ids)))
    )
    rows: list[dict[str, Any]] = []
    for e in entries:
        if e.job_exe_id in existing:
            continue
        existing.add(e.job_exe_id)
        rows.append(
            {
                "job_exe_id": e.job_exe_id,
                "job_id": e.job_id,
                "exe_num": e.exe_num,
                "job_type_id": e.job_type_id,
                "node_id": e.node_id,
                "status": e.status,
                "error_id": e.error_id,
                "error_category": e.error_category,
                "exit_code": e.exit_code,
                "task_results": list(e.task_results),
                "started": _or_now(e.started, now),
                "ended": _or_now(e.ended, now),
                "created": now,
            }
        )
    if rows:
        # One multi-row INSERT from dicts: no ORM objects (20,000 constructors were seconds).
        session.execute(insert(JobExecutionEndRow), rows)
    return []


def handle_restart_scheduler(
    session: Session, message: mt.RestartScheduler, now: datetime
) -> list[CommandMessage]:
    """Mark a scheduler start. Nothing to change: the new scheduler settles the executions an
    earlier one left running itself (``Scheduler._adopt``): it adopts those whose tasks still
    run and ends the others with ``scheduler-lost`` through the ordinary messages. Failing them
    all here, as the original does, would rerun work that is still running."""
    return []


HANDLERS: dict[str, Handler] = {
    mt.RUNNING_JOBS: handle_running_jobs,
    mt.COMPLETED_JOBS: handle_completed_jobs,
    mt.FAILED_JOBS: handle_failed_jobs,
    mt.CREATE_JOB_EXE_ENDS: handle_create_job_exe_ends,
    mt.RESTART_SCHEDULER: handle_restart_scheduler,
}
