"""``/v6/ingests/status/`` and ``/v6/files/``: answered truthfully as empty. This system has no
Strike ingest and stores no files (a job's file inputs are ids it hands to the job), but Scale's
dashboard and job pages ask for these, so they get empty pages instead of 404s. The parameters
are still checked, so a bad one is a 400 as anywhere else."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from scale.api.deps import ClockDep, IdValue, parse_time
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.stats import IngestStatusOut, ScaleFileOut

router = APIRouter(tags=["data"])


@router.get("/ingests/status/")
def ingest_status(
    request: Request,
    clock: ClockDep,
    paging: PageDep,
    started: Annotated[str | None, Query(description="Start of the range: datetime or duration")] = None,
    ended: Annotated[str | None, Query(description="End of the range: datetime or duration")] = None,
    use_ingest_time: bool = False,
) -> Page[IngestStatusOut]:
    """Ingests per Strike process: always empty (there is no ingest here)."""
    now = clock.now()
    _check_range(started, ended, now)
    return make_page(request, paging, 0, [])


@router.get("/files/")
def list_files(
    request: Request,
    clock: ClockDep,
    paging: PageDep,
    job_id: Annotated[list[IdValue] | None, Query(description="Files a job made (repeatable)")] = None,
    started: Annotated[str | None, Query(description="Start of the range: datetime or duration")] = None,
    ended: Annotated[str | None, Query(description="End of the range: datetime or duration")] = None,
    file_name: str | None = None,
    order: list[str] | None = None,
    sortField: str | None = None,
    sortOrder: Literal["asc", "desc"] | None = None,
) -> Page[ScaleFileOut]:
    """Stored files: always empty (files are not stored here)."""
    _check_range(started, ended, clock.now())
    return make_page(request, paging, 0, [])


def _check_range(started: str | None, ended: str | None, now: datetime) -> None:
    parse_time("started", started, now)
    parse_time("ended", ended, now)
