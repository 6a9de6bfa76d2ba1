"""``/v6/jobs/``: create (queued at once), list with filters, detail, executions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from scale.api.deps import MAX_ID, ClockDep, DbDep, IdValue, parse_time
from scale.api.openapi import NOT_FOUND
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.jobs import (
    ExecutionDetailOut,
    ExecutionOut,
    JobDetailOut,
    JobIn,
    JobOut,
    JobRequeueIn,
    JobSelectionIn,
)
from scale.api.schemas.stats import ScaleFileOut
from scale.domain.states import ErrorCategory, ExecutionStatus, JobStatus
from scale.services import job_actions, jobs
from scale.services.jobs import DEFAULT_JOB_ORDER, ExecutionFilters, JobFilters

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Job id")]
ExeNum = Annotated[int, Path(ge=1, le=2**31 - 1, description="Execution number, from 1")]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.post(
    "/",
    status_code=201,
    responses={201: {"description": "The job, queued; `Location` is its URL"}, **NOT_FOUND},
)
def create_job(body: JobIn, response: Response, db: DbDep, clock: ClockDep) -> JobDetailOut:
    """Create a job and queue it at once. 404 for an unknown job type, 400 for bad input."""
    detail = jobs.create_job(db, job_type_id=body.job_type_id, data=body.input.to_data(), now=clock.now())
    response.headers["Location"] = f"/v6/jobs/{detail.summary.job.id}/"
    return JobDetailOut.from_detail(detail)


@router.post("/cancel/", status_code=202, response_class=Response)
def cancel_jobs(body: JobSelectionIn, db: DbDep, clock: ClockDep) -> Response:
    """Cancel the selected jobs (202). Queued ones leave the queue; running executions are killed
    by the scheduler within one status period and end CANCELED."""
    job_actions.cancel_jobs(db, _selection(body), now=clock.now())
    return Response(status_code=202)


@router.post("/requeue/", status_code=202, response_class=Response)
def requeue_jobs(body: JobRequeueIn, db: DbDep, clock: ClockDep) -> Response:
    """Queue the selected FAILED and CANCELED jobs again (202), optionally with a new priority."""
    job_actions.requeue_jobs(db, _selection(body), now=clock.now(), priority=body.priority)
    return Response(status_code=202)


def _selection(body: JobSelectionIn) -> job_actions.JobSelection:
    return job_actions.JobSelection(
        job_ids=tuple(body.job_ids),
        job_type_ids=tuple(body.job_type_ids),
        statuses=tuple(body.status),
        job_type_names=tuple(body.job_type_names),
        error_categories=tuple(body.error_categories),
        error_ids=tuple(body.error_ids),
        started=body.started,
        ended=body.ended,
    )


@router.get("/")
def list_jobs(
    request: Request,
    db: DbDep,
    clock: ClockDep,
    paging: PageDep,
    status: Annotated[list[JobStatus] | None, Query(description="Job status (repeatable)")] = None,
    job_id: Annotated[list[IdValue] | None, Query(description="Job id (repeatable)")] = None,
    job_type_id: Annotated[list[IdValue] | None, Query(description="Job type id (repeatable)")] = None,
    job_type_name: str | None = None,
    error_category: ErrorCategory | None = None,
    error_id: OptionalId = None,
    node_id: OptionalId = None,
    started: Annotated[str | None, Query(description="Earliest last_modified: datetime or duration")] = None,
    ended: Annotated[str | None, Query(description="Latest last_modified: datetime or duration")] = None,
    order: Annotated[list[str] | None, Query(description="Field, `-` for descending (repeatable)")] = None,
) -> Page[JobOut]:
    now = clock.now()
    filters = JobFilters(
        statuses=status or (),
        job_ids=job_id or (),
        job_type_ids=job_type_id or (),
        job_type_name=job_type_name,
        error_category=error_category,
        error_id=error_id,
        node_id=node_id,
        started=parse_time("started", started, now),
        ended=parse_time("ended", ended, now),
        order=order or DEFAULT_JOB_ORDER,
    )
    count, views = jobs.list_jobs(db, filters, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [JobOut.from_view(v) for v in views])


@router.get("/{job_id}/")
def read_job(job_id: JobId, db: DbDep) -> JobDetailOut:
    return JobDetailOut.from_detail(jobs.get_job(db, job_id))


@router.get("/{job_id}/executions/")
def list_job_executions(
    job_id: JobId,
    request: Request,
    db: DbDep,
    paging: PageDep,
    status: Annotated[list[ExecutionStatus] | None, Query(description="Status (repeatable)")] = None,
    node_id: OptionalId = None,
    error_id: OptionalId = None,
    error_category: ErrorCategory | None = None,
) -> Page[ExecutionOut]:
    """A job's executions, newest first."""
    filters = ExecutionFilters(
        statuses=status or (), node_id=node_id, error_id=error_id, error_category=error_category
    )
    count, views = jobs.list_executions(db, job_id, filters, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [ExecutionOut.from_view(v) for v in views])


@router.get("/{job_id}/executions/{exe_num}/")
def read_job_execution(job_id: JobId, exe_num: ExeNum, db: DbDep) -> ExecutionDetailOut:
    return ExecutionDetailOut.from_view(jobs.get_execution(db, job_id, exe_num))


@router.get("/{job_id}/input_files/")
def list_job_input_files(
    job_id: JobId,
    request: Request,
    db: DbDep,
    clock: ClockDep,
    paging: PageDep,
    started: Annotated[str | None, Query(description="Start of the range: datetime or duration")] = None,
    ended: Annotated[str | None, Query(description="End of the range: datetime or duration")] = None,
    file_name: str | None = None,
) -> Page[ScaleFileOut]:
    """The files a job took as input: always an empty page, since files are not stored here (a
    job's file inputs are ids it hands on); 404 for an unknown job."""
    now = clock.now()
    parse_time("started", started, now)
    parse_time("ended", ended, now)
    jobs.get_job(db, job_id)
    return make_page(request, paging, 0, [])
