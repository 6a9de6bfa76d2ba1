"""``/v6/job-types/``: create-or-edit by POST (Scale v6), validation, list, versions, detail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from scale.api.deps import ClockDep, DbDep, IdValue
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.job_types import JobTypeDetailOut, JobTypeIn, JobTypeOut, ValidationOut
from scale.services import job_types
from scale.services.job_types import JobTypeFilters

router = APIRouter(prefix="/job-types", tags=["job types"])


@router.post(
    "/",
    status_code=201,
    response_model=JobTypeDetailOut,
    responses={
        200: {"model": ValidationOut, "description": "The name and version existed: the job type was edited"},
        201: {"description": "A new job type; `Location` is its URL"},
    },
)
def create_job_type(body: JobTypeIn, db: DbDep, clock: ClockDep) -> JSONResponse:
    """Create a job type, or edit the one with the manifest's name and version (Scale v6).

    An edit that changes the manifest or Docker image makes a new revision.
    """
    result = job_types.save_job_type(db, body.to_spec(), now=clock.now())
    if not result.created:
        return JSONResponse(ValidationOut.ok().model_dump(mode="json"), status_code=200)
    row = result.job_type
    return JSONResponse(
        JobTypeDetailOut.from_row(row).model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/v6/job-types/{row.name}/{row.version}/"},
    )


@router.post("/validation/")
def validate_job_type(body: JobTypeIn) -> ValidationOut:
    """Check a job type as POST ``/v6/job-types/`` would, writing nothing."""
    return ValidationOut.from_validation(job_types.validate_job_type(body.to_spec()))


@router.get("/")
def list_job_types(
    request: Request,
    db: DbDep,
    paging: PageDep,
    keyword: Annotated[str | None, Query(description="Part of the name or title")] = None,
    id: Annotated[list[IdValue] | None, Query(description="Job type id (repeatable)")] = None,
    is_active: bool | None = None,
    is_system: bool | None = None,
) -> Page[JobTypeOut]:
    filters = JobTypeFilters(keyword=keyword, ids=id or (), is_active=is_active, is_system=is_system)
    count, rows = job_types.list_job_types(db, filters, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [JobTypeOut.from_row(r) for r in rows])


@router.get("/{name}/")
def list_job_type_versions(name: str, request: Request, db: DbDep, paging: PageDep) -> Page[JobTypeOut]:
    """Every version of one job type name; 404 when there is none."""
    count, rows = job_types.list_job_type_versions(db, name, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [JobTypeOut.from_row(r) for r in rows])


@router.get("/{name}/{version}/")
def read_job_type(name: str, version: str, db: DbDep) -> JobTypeDetailOut:
    return JobTypeDetailOut.from_row(job_types.get_job_type(db, name, version))
