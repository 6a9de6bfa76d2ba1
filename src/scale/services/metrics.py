"""Processing metrics (Scale's ``/v6/metrics/``), computed from the job and execution rows when
asked, in one-day buckets (as Scale's metrics were kept, and as its UI's charts read them: one
value per day), for the one metrics type this system has: ``job-types``.

Counts are of jobs by the day they ended (so they agree with the job list filtered by status):
completed, failed, canceled and their total, and failed jobs by error category. Times are of
executions: queue time (queued to started) by the day it started, job time (started to ended) by
the day it ended, in seconds, with their sum, min, max and average.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from scale.domain.states import JobStatus
from scale.exceptions import FieldProblem, InvalidRequest, NotFound
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobExecutionEndRow, JobExecutionRow, JobRow, JobTypeRow

JOB_TYPES = "job-types"
DEFAULT_RANGE = timedelta(days=7)
MAX_RANGE = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    title: str
    description: str
    units: str
    group: str
    aggregate: str


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    title: str
    description: str


GROUPS: tuple[Group, ...] = (
    Group("overview", "Overview", "Overall counts based on job status."),
    Group("errors", "Errors", "Failed jobs by the category of their error."),
    Group("queue_time", "Queue Time", "Time executions waited in the queue before they started."),
    Group("job_time", "Job Time", "Time executions ran, from start to end."),
)


def _counts() -> list[Column]:
    spec = [
        ("completed_count", "Completed Count", "Number of successfully completed jobs.", "overview"),
        ("failed_count", "Failed Count", "Number of incomplete failed jobs.", "overview"),
        ("canceled_count", "Canceled Count", "Number of incomplete canceled jobs.", "overview"),
        ("total_count", "Total Count", "Number of completed, failed, and canceled jobs.", "overview"),
        (
            "error_system_count",
            "System Error Count",
            "Number of failed jobs due to a system error.",
            "errors",
        ),
        (
            "error_algorithm_count",
            "Algorithm Error Count",
            "Number of failed jobs due to an algorithm error.",
            "errors",
        ),
        ("error_data_count", "Data Error Count", "Number of failed jobs due to a data error.", "errors"),
    ]
    return [Column(n, t, d, "count", g, "sum") for n, t, d, g in spec]


def _times(prefix: str, what: str) -> list[Column]:
    group = f"{prefix}_time"
    return [
        Column(
            f"{group}_sum",
            f"{what} (Sum)",
            f"Total time executions spent {what.lower()}.",
            "seconds",
            group,
            "sum",
        ),
        Column(
            f"{group}_min",
            f"{what} (Min)",
            f"Shortest time an execution spent {what.lower()}.",
            "seconds",
            group,
            "min",
        ),
        Column(
            f"{group}_max",
            f"{what} (Max)",
            f"Longest time an execution spent {what.lower()}.",
            "seconds",
            group,
            "max",
        ),
        Column(
            f"{group}_avg",
            f"{what} (Avg)",
            f"Average time executions spent {what.lower()}.",
            "seconds",
            group,
            "avg",
        ),
    ]


COLUMNS: tuple[Column, ...] = (*_counts(), *_times("queue", "Queued"), *_times("job", "Running"))
FILTERS: tuple[tuple[str, str], ...] = (("name", "string"), ("version", "string"))


@dataclass(frozen=True, slots=True)
class MetricsType:
    name: str
    title: str
    description: str
    filters: tuple[tuple[str, str], ...]
    groups: tuple[Group, ...]
    columns: tuple[Column, ...]


METRICS_TYPES: tuple[MetricsType, ...] = (
    MetricsType(
        JOB_TYPES,
        "Job Types",
        "Metrics for jobs and executions grouped by job type.",
        FILTERS,
        GROUPS,
        COLUMNS,
    ),
)


def metrics_type(name: str) -> MetricsType:
    for m in METRICS_TYPES:
        if m.name == name:
            return m
    raise NotFound(
        f"metrics type {name!r} does not exist; use one of {', '.join(m.name for m in METRICS_TYPES)}"
    )


def choices(db: Database) -> list[JobTypeRow]:
    with db.read() as session:
        return list(session.scalars(select(JobTypeRow).order_by(JobTypeRow.name, JobTypeRow.version)))


@dataclass(frozen=True, slots=True)
class PlotValue:
    datetime: datetime
    value: float | int
    id: int | None


@dataclass(frozen=True, slots=True)
class PlotSeries:
    column: Column
    values: list[PlotValue]


@dataclass(slots=True)
class _Bucket:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    queue: list[float] = field(default_factory=list)
    job: list[float] = field(default_factory=list)


def select_columns(columns: Sequence[str], groups: Sequence[str]) -> list[Column]:
    """The columns asked for by name and by group (all of them when neither is given), in the
    catalogue's order; InvalidRequest naming ``column`` or ``group`` for an unknown one."""
    names = {c.name for c in COLUMNS}
    group_names = {g.name for g in GROUPS}
    problems = [FieldProblem("column", f"unknown column {c!r}") for c in columns if c not in names]
    problems += [FieldProblem("group", f"unknown group {g!r}") for g in groups if g not in group_names]
    if problems:
        raise InvalidRequest(problems)
    if not columns and not groups:
        return list(COLUMNS)
    return [c for c in COLUMNS if c.name in columns or c.group in groups]


def _day(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "sum": sum,
    "min": min,
    "max": max,
    "avg": lambda xs: sum(xs) / len(xs),
}


def _value(column: Column, bucket: _Bucket) -> float | int | None:
    if column.units == "count":
        return bucket.counts.get(column.name, 0)
    samples = bucket.queue if column.group == "queue_time" else bucket.job
    if not samples:
        return None
    return round(_AGGREGATES[column.aggregate](samples), 3)


def plot_data(
    db: Database,
    *,
    now: datetime,
    started: datetime | None,
    ended: datetime | None,
    choice_ids: Sequence[int],
    columns: Sequence[Column],
) -> list[PlotSeries]:
    """One series per column: the value per day (oldest first) across all job types, or per job
    type when several ``choice_ids`` are given (then each value names its ``id``)."""
    ended = ended if ended is not None else now
    started = started if started is not None else ended - DEFAULT_RANGE
    if started > ended:
        raise InvalidRequest([FieldProblem("started", "must not be after ended")])
    if ended - started > MAX_RANGE:
        raise InvalidRequest([FieldProblem("started", "the time range must be at most 366 days")])
    with db.read() as session:
        if choice_ids:
            known = set(session.scalars(select(JobTypeRow.id).where(JobTypeRow.id.in_(list(choice_ids)))))
            missing = [i for i in choice_ids if i not in known]
            if missing:
                raise InvalidRequest([FieldProblem("choice_id", f"job type {missing[0]} does not exist")])
        type_filter = [JobRow.job_type_id.in_(list(choice_ids))] if choice_ids else []
        jobs = session.execute(
            select(JobRow.job_type_id, JobRow.status, JobRow.ended, ErrorRow.category)
            .outerjoin(ErrorRow, ErrorRow.id == JobRow.error_id)
            .where(
                JobRow.ended >= started,
                JobRow.ended <= ended,
                JobRow.status.in_(
                    [s.value for s in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)]
                ),
                *type_filter,
            )
        ).all()
        exe_filter = [JobExecutionRow.job_type_id.in_(list(choice_ids))] if choice_ids else []
        exes = session.execute(
            select(
                JobExecutionRow.job_type_id,
                JobExecutionRow.queued,
                JobExecutionRow.started,
                JobExecutionEndRow.ended,
            )
            .outerjoin(JobExecutionEndRow, JobExecutionEndRow.job_exe_id == JobExecutionRow.id)
            .where(JobExecutionRow.started <= ended, *exe_filter)
            .where((JobExecutionEndRow.ended.is_(None)) | (JobExecutionEndRow.ended >= started))
        ).all()
    per_choice = len(choice_ids) > 1
    buckets: dict[tuple[int | None, datetime], _Bucket] = defaultdict(_Bucket)
    for type_id, status, when, category in jobs:
        if when is None:
            continue
        bucket = buckets[(type_id if per_choice else None, _day(when))]
        bucket.counts[f"{status.lower()}_count"] += 1
        bucket.counts["total_count"] += 1
        if status == JobStatus.FAILED.value and category:
            bucket.counts[f"error_{category.lower()}_count"] += 1
    for type_id, queued, exe_started, exe_ended in exes:
        key = type_id if per_choice else None
        if started <= exe_started <= ended:
            buckets[(key, _day(exe_started))].queue.append((exe_started - queued).total_seconds())
        if exe_ended is not None and started <= exe_ended <= ended:
            buckets[(key, _day(exe_ended))].job.append((exe_ended - exe_started).total_seconds())
    ordered = sorted(buckets.items(), key=lambda item: (item[0][1], item[0][0] or 0))
    series: list[PlotSeries] = []
    for column in columns:
        values = [
            PlotValue(day, v, choice)
            for (choice, day), bucket in ordered
            if (v := _value(column, bucket)) is not None
        ]
        series.append(PlotSeries(column, values))
    return series
