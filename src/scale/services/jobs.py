"""Jobs: create a job (queued at once) and read jobs and their executions.

A new job skips PENDING/BLOCKED: there are no recipes, so its input is complete when it is
posted. The job row and its queue row are written in one transaction, so the scheduler never
sees one without the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, defer

from scale.domain import seed
from scale.domain.states import ErrorCategory, ExecutionStatus, JobStatus
from scale.exceptions import FieldProblem, InvalidRequest, NotFound
from scale.services.job_types import DEFAULT_PRIORITY, MAX_INT32
from scale.services.queueing import enqueue
from scale.store.db import Database
from scale.store.tables import (
    ErrorRow,
    JobExecutionEndRow,
    JobExecutionRow,
    JobRow,
    JobTypeRevisionRow,
    JobTypeRow,
    NodeRow,
    QueueRow,
)

#: ``order`` values a job list accepts (each may start with ``-`` for descending).
JOB_ORDER_FIELDS: Mapping[str, Any] = {
    "id": JobRow.id,
    "status": JobRow.status,
    "priority": JobRow.priority,
    "num_exes": JobRow.num_exes,
    "job_type_id": JobRow.job_type_id,
    "created": JobRow.created,
    "queued": JobRow.queued,
    "started": JobRow.started,
    "ended": JobRow.ended,
    "last_status_change": JobRow.last_status_change,
    "last_modified": JobRow.last_modified,
}
DEFAULT_JOB_ORDER: tuple[str, ...] = ("-last_modified",)


@dataclass(frozen=True, slots=True)
class JobFilters:
    statuses: Sequence[JobStatus] = ()
    job_ids: Sequence[int] = ()
    job_type_ids: Sequence[int] = ()
    job_type_name: str | None = None
    error_category: ErrorCategory | None = None
    error_id: int | None = None
    node_id: int | None = None
    started: datetime | None = None
    ended: datetime | None = None
    order: Sequence[str] = DEFAULT_JOB_ORDER


@dataclass(frozen=True, slots=True)
class ExecutionFilters:
    statuses: Sequence[ExecutionStatus] = ()
    node_id: int | None = None
    error_id: int | None = None
    error_category: ErrorCategory | None = None


@dataclass(frozen=True, slots=True)
class JobView:
    """A job with the rows its summary names."""

    job: JobRow
    job_type: JobTypeRow
    revision: JobTypeRevisionRow | None
    node: NodeRow | None
    error: ErrorRow | None
    #: The latest execution, if the job has run.
    execution: ExecutionView | None = None


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """An execution and, once it ended, its end record. No end record means it is RUNNING."""

    exe: JobExecutionRow
    end: JobExecutionEndRow | None
    node: NodeRow | None
    job_type: JobTypeRow
    error: ErrorRow | None

    @property
    def status(self) -> ExecutionStatus:
        return ExecutionStatus.RUNNING if self.end is None else ExecutionStatus(self.end.status)


@dataclass(frozen=True, slots=True)
class JobDetailView:
    summary: JobView
    execution: ExecutionView | None
    queue_reasons: dict[str, Any] | None


# --------------------------------------------------------------------------- create


def _input_problems(
    job_type: JobTypeRow, data: Mapping[str, Any]
) -> tuple[seed.SeedManifest | None, list[FieldProblem]]:
    try:
        manifest = seed.parse_manifest(job_type.manifest)
    except seed.ManifestError as exc:
        reasons = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        return None, [FieldProblem("job_type_id", f"the job type's manifest is not valid ({reasons})")]
    problems = [
        FieldProblem(e.field, e.message) for e in seed.validate_job_input(manifest, dict(data), root="input")
    ]
    return manifest, problems


def _current_revision_id(session: Session, job_type: JobTypeRow) -> int | None:
    return session.scalar(
        select(JobTypeRevisionRow.id).where(
            JobTypeRevisionRow.job_type_id == job_type.id,
            JobTypeRevisionRow.revision_num == job_type.revision_num,
        )
    )


def create_job(db: Database, *, job_type_id: int, data: Mapping[str, Any], now: datetime) -> JobDetailView:
    """Create a job of ``job_type_id`` with input ``data`` ({json, files}) directly QUEUED.

    NotFound for an unknown job type; InvalidRequest (nothing written) for an inactive job type or
    input the manifest rejects.
    """
    with db.session() as session:
        job_type = session.get(JobTypeRow, job_type_id) if 0 < job_type_id <= MAX_INT32 else None
        if job_type is None:
            raise NotFound(f"job type {job_type_id} does not exist")
        if not job_type.is_active:
            raise InvalidRequest(
                [FieldProblem("job_type_id", f"job type {job_type.name} {job_type.version} is not active")]
            )
        manifest, problems = _input_problems(job_type, data)
        if problems or manifest is None:
            raise InvalidRequest(problems)
        priority = int(job_type.configuration.get("priority", DEFAULT_PRIORITY))
        resources = manifest.resources.to_dict()
        job = JobRow(
            job_type_id=job_type.id,
            job_type_rev_id=_current_revision_id(session, job_type),
            status=JobStatus.QUEUED.value,
            priority=priority,
            input={"json": dict(data.get("json") or {}), "files": dict(data.get("files") or {})},
            output=None,
            resources=resources,
            num_exes=1,
            max_tries=job_type.max_tries,
            timeout=manifest.timeout,
            created=now,
            queued=now,
            last_status_change=now,
            last_modified=now,
        )
        session.add(job)
        session.flush()
        enqueue(session, job, now)
        session.flush()
        return _detail(session, job.id)


# --------------------------------------------------------------------------- jobs


def _job_query() -> Select[JobRow, JobTypeRow, JobTypeRevisionRow, NodeRow, ErrorRow]:
    return (
        select(JobRow, JobTypeRow, JobTypeRevisionRow, NodeRow, ErrorRow)
        .join(JobTypeRow, JobTypeRow.id == JobRow.job_type_id)
        .outerjoin(JobTypeRevisionRow, JobTypeRevisionRow.id == JobRow.job_type_rev_id)
        .outerjoin(NodeRow, NodeRow.id == JobRow.node_id)
        .outerjoin(ErrorRow, ErrorRow.id == JobRow.error_id)
    )


def _job_conditions(filters: JobFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.statuses:
        conditions.append(JobRow.status.in_([s.value for s in filters.statuses]))
    if filters.job_ids:
        conditions.append(JobRow.id.in_(list(filters.job_ids)))
    if filters.job_type_ids:
        conditions.append(JobRow.job_type_id.in_(list(filters.job_type_ids)))
    if filters.job_type_name is not None:
        conditions.append(JobTypeRow.name == filters.job_type_name)
    if filters.error_category is not None:
        conditions.append(ErrorRow.category == filters.error_category.value)
    if filters.error_id is not None:
        conditions.append(JobRow.error_id == filters.error_id)
    if filters.node_id is not None:
        conditions.append(JobRow.node_id == filters.node_id)
    if filters.started is not None:
        conditions.append(JobRow.last_modified >= filters.started)
    if filters.ended is not None:
        conditions.append(JobRow.last_modified <= filters.ended)
    return conditions


def job_ordering(order: Sequence[str]) -> list[Any]:
    """ORDER BY clauses for ``order`` (``-`` = descending), ending with id for a stable order.

    InvalidRequest naming ``order`` for a field that cannot be ordered by.
    """
    clauses: list[Any] = []
    unknown = [o for o in order if o.removeprefix("-") not in JOB_ORDER_FIELDS]
    if unknown:
        allowed = ", ".join(JOB_ORDER_FIELDS)
        raise InvalidRequest([FieldProblem("order", f"cannot order by {', '.join(unknown)}; use {allowed}")])
    descending_last = True
    for item in order:
        column = JOB_ORDER_FIELDS[item.removeprefix("-")]
        descending_last = item.startswith("-")
        clauses.append(column.desc().nulls_last() if descending_last else column.asc().nulls_last())
    if not any(o.removeprefix("-") == "id" for o in order):
        clauses.append(JobRow.id.desc() if descending_last else JobRow.id.asc())
    return clauses


def _job_view(row: Any, execution: ExecutionView | None = None) -> JobView:
    job, job_type, revision, node, error = row
    return JobView(job, job_type, revision, node, error, execution)


def _latest_executions(session: Session, job_ids: Sequence[int]) -> dict[int, ExecutionView]:
    """The latest execution of each of ``job_ids`` that has one (one query for a whole page)."""
    if not job_ids:
        return {}
    latest = (
        select(JobExecutionRow.job_id.label("job_id"), func.max(JobExecutionRow.exe_num).label("exe_num"))
        .where(JobExecutionRow.job_id.in_(list(job_ids)))
        .group_by(JobExecutionRow.job_id)
        .subquery()
    )
    rows = session.execute(
        _execution_query()
        .options(
            defer(JobTypeRow.manifest, raiseload=True),
            defer(JobTypeRow.configuration, raiseload=True),
            defer(JobExecutionRow.resources, raiseload=True),
        )
        .join(
            latest,
            (latest.c.job_id == JobExecutionRow.job_id) & (latest.c.exe_num == JobExecutionRow.exe_num),
        )
    ).all()
    views = [_execution_view(r) for r in rows]
    return {v.exe.job_id: v for v in views}


#: JSON columns a job list does not show: the job's data and resources, and the job type's
#: manifest and configuration (twice: type and revision). Parsing them was most of the cost of a
#: page (four ``json.loads`` per job); ``raiseload`` makes a use of one in a list fail loudly.
_NOT_IN_LISTS = (
    defer(JobRow.input, raiseload=True),
    defer(JobRow.output, raiseload=True),
    defer(JobRow.resources, raiseload=True),
    defer(JobTypeRow.manifest, raiseload=True),
    defer(JobTypeRow.configuration, raiseload=True),
    defer(JobTypeRevisionRow.manifest, raiseload=True),
)


def list_jobs(db: Database, filters: JobFilters, *, offset: int, limit: int) -> tuple[int, list[JobView]]:
    ordering = job_ordering(filters.order or DEFAULT_JOB_ORDER)
    query = _job_query().where(*_job_conditions(filters))
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page = query.options(*_NOT_IN_LISTS).order_by(*ordering).offset(offset).limit(limit)
        rows = session.execute(page).all()
        latest = _latest_executions(session, [r[0].id for r in rows])
        return count, [_job_view(r, latest.get(r[0].id)) for r in rows]


def _detail(session: Session, job_id: int) -> JobDetailView:
    row = session.execute(_job_query().where(JobRow.id == job_id)).one_or_none()
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    latest = session.execute(
        _execution_query().where(JobExecutionRow.job_id == job_id).order_by(JobExecutionRow.exe_num.desc())
    ).first()
    summary = _job_view(row, _execution_view(latest) if latest is not None else None)
    reasons: dict[str, Any] | None = None
    if summary.job.status == JobStatus.QUEUED.value:
        stored = session.scalar(select(QueueRow.unplaced_reasons).where(QueueRow.job_id == job_id))
        reasons = dict(stored) if stored else None
    return JobDetailView(summary, _execution_view(latest) if latest is not None else None, reasons)


def get_job(db: Database, job_id: int) -> JobDetailView:
    with db.read() as session:
        return _detail(session, job_id)


# --------------------------------------------------------------------------- executions


def _execution_query() -> Select[JobExecutionRow, JobExecutionEndRow, NodeRow, JobTypeRow, ErrorRow]:
    return (
        select(JobExecutionRow, JobExecutionEndRow, NodeRow, JobTypeRow, ErrorRow)
        .outerjoin(JobExecutionEndRow, JobExecutionEndRow.job_exe_id == JobExecutionRow.id)
        .outerjoin(NodeRow, NodeRow.id == JobExecutionRow.node_id)
        .join(JobTypeRow, JobTypeRow.id == JobExecutionRow.job_type_id)
        .outerjoin(ErrorRow, ErrorRow.id == JobExecutionEndRow.error_id)
    )


def _execution_view(row: Any) -> ExecutionView:
    exe, end, node, job_type, error = row
    return ExecutionView(exe, end, node, job_type, error)


def _execution_conditions(filters: ExecutionFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.statuses:
        ended = [s.value for s in filters.statuses if s is not ExecutionStatus.RUNNING]
        options: list[ColumnElement[bool]] = []
        if ended:
            options.append(JobExecutionEndRow.status.in_(ended))
        if ExecutionStatus.RUNNING in filters.statuses:
            options.append(JobExecutionEndRow.job_exe_id.is_(None))
        conditions.append(or_(*options))
    if filters.node_id is not None:
        conditions.append(JobExecutionRow.node_id == filters.node_id)
    if filters.error_id is not None:
        conditions.append(JobExecutionEndRow.error_id == filters.error_id)
    if filters.error_category is not None:
        conditions.append(ErrorRow.category == filters.error_category.value)
    return conditions


def _require_job(session: Session, job_id: int) -> None:
    if session.scalar(select(JobRow.id).where(JobRow.id == job_id)) is None:
        raise NotFound(f"job {job_id} does not exist")


def list_executions(
    db: Database, job_id: int, filters: ExecutionFilters, *, offset: int, limit: int
) -> tuple[int, list[ExecutionView]]:
    """A job's executions, newest first; NotFound for an unknown job."""
    query = _execution_query().where(JobExecutionRow.job_id == job_id, *_execution_conditions(filters))
    with db.read() as session:
        _require_job(session, job_id)
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(JobExecutionRow.exe_num.desc()).offset(offset).limit(limit)
        ).all()
        return count, [_execution_view(r) for r in rows]


def get_execution(db: Database, job_id: int, exe_num: int) -> ExecutionView:
    with db.read() as session:
        _require_job(session, job_id)
        row = session.execute(
            _execution_query().where(JobExecutionRow.job_id == job_id, JobExecutionRow.exe_num == exe_num)
        ).one_or_none()
        if row is None:
            raise NotFound(f"job {job_id} has no execution {exe_num}")
        return _execution_view(row)
