"""``/v6/job-types/status/``, ``/running/`` and ``/pending/``: counts of jobs per job type for
Scale's dashboard and its Running Jobs page. Mounted before ``/v6/job-types/{name}/``, as in Scale,
so these names are not read as job type names."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from scale.api.deps import ClockDep, DbDep, parse_time
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.stats import JobTypePendingOut, JobTypeRunningOut, JobTypeStatusOut
from scale.domain.states import JobStatus
from scale.services import job_stats

router = APIRouter(prefix="/job-types", tags=["job types"])


@router.get("/status/")
def job_types_status(
    request: Request,
    db: DbDep,
    clock: ClockDep,
    paging: PageDep,
    started: Annotated[
        str | None, Query(description="Earliest status change counted (default 3 h ago)")
    ] = None,
    ended: Annotated[str | None, Query(description="Latest status change counted (default now)")] = None,
    is_active: bool | None = None,
) -> Page[JobTypeStatusOut]:
    """Each job type (by name, version) with its jobs whose status changed in the time range,
    counted by status and, for FAILED, error category, each with the most recent change. RUNNING
    jobs are counted whatever the range."""
    now = clock.now()
    count, views = job_stats.job_type_status(
        db,
        now=now,
        started=parse_time("started", started, now),
        ended=parse_time("ended", ended, now),
        is_active=is_active,
        offset=paging.offset,
        limit=paging.limit,
    )
    return make_page(request, paging, count, [JobTypeStatusOut.from_view(v) for v in views])


@router.get("/running/")
def job_types_running(request: Request, db: DbDep, paging: PageDep) -> Page[JobTypeRunningOut]:
    """Job types with RUNNING jobs: how many, and when the longest-running one started (the
    longest-running type first)."""
    count, views = job_stats.job_types_in_status(
        db, JobStatus.RUNNING, offset=paging.offset, limit=paging.limit
    )
    return make_page(request, paging, count, [JobTypeRunningOut.from_view(v) for v in views])


@router.get("/pending/")
def job_types_pending(request: Request, db: DbDep, paging: PageDep) -> Page[JobTypePendingOut]:
    """Job types with PENDING jobs: how many, and when the oldest was created. Jobs posted to the
    API are queued at once, so this is empty unless a job waits on something."""
    count, views = job_stats.job_types_in_status(
        db, JobStatus.PENDING, offset=paging.offset, limit=paging.limit
    )
    return make_page(request, paging, count, [JobTypePendingOut.from_view(v) for v in views])
