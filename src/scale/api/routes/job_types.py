"""``/v6/job-types/``: create-or-edit by POST (Scale v6), PATCH, validation, list, versions, detail,
revisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from scale.api.deps import ClockDep, DbDep, IdValue
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.job_types import (
    JobTypeDetailOut,
    JobTypeIn,
    JobTypeOut,
    JobTypePatchIn,
    RevisionDetailOut,
    RevisionOut,
    ValidationOut,
)
from scale.services import job_types
from scale.services.job_types import JobTypeFilters

router = APIRouter(prefix="/job-types", tags=["job types"])

#: Largest revision number a path may carry (the range of the integer column).
MAX_REVISION = 2**31 - 1


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


@router.patch("/{name}/{version}/")
def patch_job_type(
    name: str, version: str, body: JobTypePatchIn, db: DbDep, clock: ClockDep
) -> ValidationOut:
    """Edit some fields of a job type; a new manifest or Docker image makes a new revision.

    A manifest must keep the job type's name and version (400 naming ``manifest.job.name`` or
    ``manifest.job.jobVersion`` otherwise). Nothing is written when the request is rejected.
    """
    job_types.patch_job_type(db, name, version, body.to_patch(), now=clock.now())
    return ValidationOut.ok()


@router.get("/{name}/{version}/revisions/")
def list_revisions(
    name: str, version: str, request: Request, db: DbDep, paging: PageDep
) -> Page[RevisionOut]:
    """The job type's revisions, newest first; 404 when the job type does not exist."""
    job_type, count, rows = job_types.list_revisions(
        db, name, version, offset=paging.offset, limit=paging.limit
    )
    return make_page(request, paging, count, [RevisionOut.from_row(job_type, r) for r in rows])


@router.get("/{name}/{version}/revisions/{revision_num}/")
def read_revision(
    name: str, version: str, revision_num: Annotated[int, Path(ge=1, le=MAX_REVISION)], db: DbDep
) -> RevisionDetailOut:
    job_type, revision = job_types.get_revision(db, name, version, revision_num)
    return RevisionDetailOut.from_row(job_type, revision)
