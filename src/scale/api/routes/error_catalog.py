"""``/v6/errors/``: the error catalogue, list with filters and detail. Read-only in v6."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from scale.api.deps import MAX_ID, ClockDep, DbDep, parse_time
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.error_catalog import ErrorOut
from scale.services import error_catalog
from scale.services.error_catalog import DEFAULT_ERROR_ORDER, ErrorFilters, parse_category

router = APIRouter(prefix="/errors", tags=["errors"])

ErrorId = Annotated[int, Path(ge=1, le=MAX_ID, description="Error id")]


@router.get("/")
def list_errors(
    request: Request,
    db: DbDep,
    clock: ClockDep,
    paging: PageDep,
    category: Annotated[str | None, Query(description="SYSTEM, ALGORITHM or DATA (any case)")] = None,
    is_builtin: bool | None = None,
    job_type_name: str | None = None,
    name: str | None = None,
    started: Annotated[str | None, Query(description="Earliest last_modified: datetime or duration")] = None,
    ended: Annotated[str | None, Query(description="Latest last_modified: datetime or duration")] = None,
    order: Annotated[list[str] | None, Query(description="Field, `-` for descending (repeatable)")] = None,
) -> Page[ErrorOut]:
    now = clock.now()
    filters = ErrorFilters(
        category=parse_category(category),
        is_builtin=is_builtin,
        job_type_name=job_type_name,
        name=name,
        started=parse_time("started", started, now),
        ended=parse_time("ended", ended, now),
        order=order or DEFAULT_ERROR_ORDER,
    )
    count, rows = error_catalog.list_errors(db, filters, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [ErrorOut.from_row(r) for r in rows])


@router.get("/{error_id}/")
def read_error(error_id: ErrorId, db: DbDep) -> ErrorOut:
    return ErrorOut.from_row(error_catalog.get_error(db, error_id))
