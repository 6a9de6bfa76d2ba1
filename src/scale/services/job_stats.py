"""Counts over jobs for Scale's dashboards: job types' status, running and pending counts, and the
job load over time. Everything is computed from the job and execution rows when asked.

* ``job_type_status``: per job type, jobs whose last status change is in the time range (default
  the last 3 hours), grouped by status and (for FAILED) error category, each with its most recent
  status change; RUNNING jobs count whatever the range (Scale's ``/job-types/status/``).
* ``job_types_running`` / ``job_types_pending``: per job type, how many jobs are RUNNING (PENDING)
  now and since when the oldest one has been.
* ``job_load``: at each hour in the range, how many jobs were PENDING, QUEUED and RUNNING, from
  the executions' queued/started/ended times and the jobs that are queued now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select

from scale.domain.states import JobStatus
from scale.exceptions import FieldProblem, InvalidRequest
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobExecutionEndRow, JobExecutionRow, JobRow, JobTypeRow

#: The default range of ``job_type_status`` and the widest ``job_load`` range (Scale's limits).
STATUS_DEFAULT_RANGE = timedelta(hours=3)
LOAD_DEFAULT_RANGE = timedelta(days=7)
LOAD_MAX_RANGE = timedelta(days=31)
LOAD_STEP = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class JobCount:
    status: str
    count: int
    most_recent: datetime
    category: str | None


@dataclass(frozen=True, slots=True)
class JobTypeStatusView:
    job_type: JobTypeRow
    job_counts: list[JobCount]


@dataclass(frozen=True, slots=True)
class JobTypeCountView:
    job_type: JobTypeRow
    count: int
    oldest: datetime


@dataclass(frozen=True, slots=True)
class LoadPoint:
    time: datetime
    pending_count: int
    queued_count: int
    running_count: int


def check_range(started: datetime | None, ended: datetime | None) -> None:
    if started is not None and ended is not None and started > ended:
        raise InvalidRequest([FieldProblem("started", "must not be after ended")])


def job_type_status(
    db: Database,
    *,
    now: datetime,
    started: datetime | None,
    ended: datetime | None,
    is_active: bool | None,
    offset: int,
    limit: int,
) -> tuple[int, list[JobTypeStatusView]]:
    """One page of job types (by name, version) with their recent job counts."""
    started = started if started is not None else now - STATUS_DEFAULT_RANGE
    check_range(started, ended)
    types = select(JobTypeRow)
    if is_active is not None:
        types = types.where(JobTypeRow.is_active.is_(is_active))
    changed = func.coalesce(JobRow.last_status_change, JobRow.last_modified)
    in_range: list[ColumnElement[bool]] = [changed >= started]
    if ended is not None:
        in_range.append(changed <= ended)
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(types.subquery())) or 0
        ordered = types.order_by(JobTypeRow.name, JobTypeRow.version, JobTypeRow.id)
        rows = list(session.scalars(ordered.offset(offset).limit(limit)))
        ids = [r.id for r in rows]
        counts: dict[int, list[JobCount]] = defaultdict(list)
        if ids:
            grouped = session.execute(
                select(
                    JobRow.job_type_id,
                    JobRow.status,
                    ErrorRow.category,
                    func.count(),
                    func.max(changed),
                )
                .outerjoin(ErrorRow, ErrorRow.id == JobRow.error_id)
                .where(
                    JobRow.job_type_id.in_(ids),
                    or_(JobRow.status == JobStatus.RUNNING.value, and_(*in_range)),
                )
                .group_by(JobRow.job_type_id, JobRow.status, ErrorRow.category)
                .order_by(JobRow.job_type_id, JobRow.status, ErrorRow.category)
            ).all()
            for type_id, status, category, n, most_recent in grouped:
                cat = category if status == JobStatus.FAILED.value else None
                counts[type_id].append(JobCount(status, int(n), most_recent, cat))
        return count, [JobTypeStatusView(r, _merge(counts[r.id])) for r in rows]


def _merge(counts: list[JobCount]) -> list[JobCount]:
    """One entry per (status, category): a non-FAILED status grouped by several categories (a
    COMPLETED job keeps the error of an earlier try) is summed into one."""
    merged: dict[tuple[str, str | None], JobCount] = {}
    for c in counts:
        key = (c.status, c.category)
        old = merged.get(key)
        merged[key] = (
            c
            if old is None
            else JobCount(c.status, old.count + c.count, max(old.most_recent, c.most_recent), c.category)
        )
    return list(merged.values())


def job_types_in_status(
    db: Database, status: JobStatus, *, offset: int, limit: int
) -> tuple[int, list[JobTypeCountView]]:
    """Job types with jobs in ``status`` (RUNNING or PENDING) now: how many and the oldest
    (its ``started`` for RUNNING, ``created`` for PENDING), the longest-waiting type first."""
    since = JobRow.started if status is JobStatus.RUNNING else JobRow.created
    groups = (
        select(
            JobRow.job_type_id.label("job_type_id"),
            func.count().label("count"),
            func.min(func.coalesce(since, JobRow.created)).label("oldest"),
        )
        .where(JobRow.status == status.value)
        .group_by(JobRow.job_type_id)
        .subquery()
    )
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(groups)) or 0
        rows = session.execute(
            select(JobTypeRow, groups.c.count, groups.c.oldest)
            .join(groups, groups.c.job_type_id == JobTypeRow.id)
            .order_by(groups.c.oldest.asc(), JobTypeRow.id.asc())
            .offset(offset)
            .limit(limit)
        ).all()
        return count, [JobTypeCountView(jt, int(n), oldest) for jt, n, oldest in rows]


def job_load(
    db: Database,
    *,
    now: datetime,
    started: datetime | None,
    ended: datetime | None,
    job_type_ids: Sequence[int] = (),
    job_type_names: Sequence[str] = (),
) -> list[LoadPoint]:
    """The load at each whole hour from ``started`` (default a week ago) to ``ended`` (default
    now); InvalidRequest naming ``started`` for a range over 31 days or backwards."""
    ended = ended if ended is not None else now
    started = started if started is not None else ended - LOAD_DEFAULT_RANGE
    check_range(started, ended)
    if ended - started > LOAD_MAX_RANGE:
        raise InvalidRequest([FieldProblem("started", "the time range must be at most 31 days")])
    first = started.replace(minute=0, second=0, microsecond=0)
    if first < started:
        first += LOAD_STEP
    times: list[datetime] = []
    t = first
    while t <= ended:
        times.append(t)
        t += LOAD_STEP
    if not times:
        return []
    type_filter: list[ColumnElement[bool]] = []
    if job_type_ids:
        type_filter.append(JobTypeRow.id.in_(list(job_type_ids)))
    if job_type_names:
        type_filter.append(JobTypeRow.name.in_(list(job_type_names)))
    lo, hi = times[0], times[-1]
    with db.read() as session:
        # Each execution was QUEUED from its queued time to its start and RUNNING until its end.
        exes = session.execute(
            select(JobExecutionRow.queued, JobExecutionRow.started, JobExecutionEndRow.ended)
            .join(JobTypeRow, JobTypeRow.id == JobExecutionRow.job_type_id)
            .outerjoin(JobExecutionEndRow, JobExecutionEndRow.job_exe_id == JobExecutionRow.id)
            .where(
                JobExecutionRow.queued <= hi,
                or_(JobExecutionEndRow.ended.is_(None), JobExecutionEndRow.ended > lo),
                *type_filter,
            )
        ).all()
        # A job queued now has no execution for its current try yet.
        waiting = session.execute(
            select(JobRow.status, JobRow.queued, JobRow.created)
            .join(JobTypeRow, JobTypeRow.id == JobRow.job_type_id)
            .where(
                JobRow.status.in_([JobStatus.QUEUED.value, JobStatus.PENDING.value]),
                JobRow.created <= hi,
                *type_filter,
            )
        ).all()
    # Each interval adds one to the hours it covers: a difference array over the hours, so the
    # cost is one pass over the rows plus one over the hours (not rows x hours).
    size = len(times)
    queued_d, running_d, pending_d = [0] * (size + 1), [0] * (size + 1), [0] * (size + 1)

    def cover(diff: list[int], start: datetime, end: datetime | None) -> None:
        """Count the interval [start, end) (end None: open) at every hour inside it."""
        first_i = _first_at_or_after(lo, start, size)
        last_i = size if end is None else _first_at_or_after(lo, end, size)
        if first_i < last_i:
            diff[first_i] += 1
            diff[last_i] -= 1

    for exe_queued, exe_started, exe_ended in exes:
        cover(queued_d, exe_queued, exe_started)
        cover(running_d, exe_started, exe_ended)
    for status, queued_at, created in waiting:
        if status == JobStatus.PENDING.value:
            cover(pending_d, created, None)
        elif queued_at is not None:
            cover(queued_d, queued_at, None)
    points: list[LoadPoint] = []
    queued = running = pending = 0
    for i, t in enumerate(times):
        queued, running, pending = queued + queued_d[i], running + running_d[i], pending + pending_d[i]
        points.append(LoadPoint(t, pending, queued, running))
    return points


def _first_at_or_after(first: datetime, when: datetime, size: int) -> int:
    """The index of the first hour (``first + i`` hours) at or after ``when``, within 0..size."""
    if when <= first:
        return 0
    steps = (when - first) / LOAD_STEP
    index = int(steps) if steps == int(steps) else int(steps) + 1
    return min(index, size)
