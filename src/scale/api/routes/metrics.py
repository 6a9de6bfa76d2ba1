"""``/v6/metrics/`` (processing metrics per day, computed from the jobs and executions) and
``/v6/load/`` (jobs pending, queued and running at each hour)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from scale.api.deps import ClockDep, DbDep, IdValue, parse_time
from scale.api.openapi import NOT_FOUND
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.stats import LoadOut, MetricsTypeDetailOut, MetricsTypeOut, PlotDataOut
from scale.services import job_stats, metrics

router = APIRouter(tags=["metrics"])

MetricsName = Annotated[str, Path(description="A metrics type: `job-types`")]


@router.get("/metrics/")
def list_metrics(request: Request, paging: PageDep) -> Page[MetricsTypeOut]:
    """The metrics types, their filters, groups and columns."""
    types = metrics.METRICS_TYPES
    page = types[paging.offset : paging.offset + paging.limit]
    return make_page(request, paging, len(types), [MetricsTypeOut.from_view(m) for m in page])


@router.get("/metrics/{metrics_type}/", responses=NOT_FOUND)
def read_metrics(metrics_type: MetricsName, db: DbDep) -> MetricsTypeDetailOut:
    """One metrics type with its choices (the job types)."""
    return MetricsTypeDetailOut.from_detail(metrics.metrics_type(metrics_type), metrics.choices(db))


@router.get("/metrics/{metrics_type}/plot-data/", responses=NOT_FOUND)
def read_plot_data(
    metrics_type: MetricsName,
    request: Request,
    db: DbDep,
    clock: ClockDep,
    paging: PageDep,
    started: Annotated[
        str | None, Query(description="Start of the range (default 7 days before ended)")
    ] = None,
    ended: Annotated[str | None, Query(description="End of the range (default now)")] = None,
    choice_id: Annotated[list[IdValue] | None, Query(description="Job type id (repeatable)")] = None,
    column: Annotated[list[str] | None, Query(description="Column name (repeatable)")] = None,
    group: Annotated[list[str] | None, Query(description="Group name (repeatable)")] = None,
) -> Page[PlotDataOut]:
    """One series per column asked for (by ``column`` or ``group``; every column when neither),
    the values per day oldest first, across all job types or per ``choice_id`` when several."""
    metrics.metrics_type(metrics_type)
    now = clock.now()
    columns = metrics.select_columns(column or (), group or ())
    series = metrics.plot_data(
        db,
        now=now,
        started=parse_time("started", started, now),
        ended=parse_time("ended", ended, now),
        choice_ids=choice_id or (),
        columns=columns,
    )
    page = series[paging.offset : paging.offset + paging.limit]
    return make_page(request, paging, len(series), [PlotDataOut.from_view(s) for s in page])


@router.get("/load/")
def read_load(
    request: Request,
    db: DbDep,
    clock: ClockDep,
    paging: PageDep,
    started: Annotated[
        str | None, Query(description="Start of the range (default 7 days before ended)")
    ] = None,
    ended: Annotated[str | None, Query(description="End of the range (default now); at most 31 days")] = None,
    job_type_id: Annotated[list[IdValue] | None, Query(description="Job type id (repeatable)")] = None,
    job_type_name: Annotated[list[str] | None, Query(description="Job type name (repeatable)")] = None,
) -> Page[LoadOut]:
    """The number of jobs PENDING, QUEUED and RUNNING at each whole hour of the range, oldest
    first, from the executions' queued, started and ended times."""
    now = clock.now()
    points = job_stats.job_load(
        db,
        now=now,
        started=parse_time("started", started, now),
        ended=parse_time("ended", ended, now),
        job_type_ids=job_type_id or (),
        job_type_names=job_type_name or (),
    )
    page = points[paging.offset : paging.offset + paging.limit]
    return make_page(request, paging, len(points), [LoadOut.from_view(p) for p in page])
