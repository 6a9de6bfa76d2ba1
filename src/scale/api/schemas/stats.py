"""Dashboards' shapes: job types' status, running and pending counts, job load, metrics, and the
(always empty) ingest status and file lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from scale.api.schemas.common import UtcDateTime, format_time
from scale.api.schemas.jobs import JobTypeRef
from scale.services.job_stats import JobCount, JobTypeCountView, JobTypeStatusView, LoadPoint
from scale.services.metrics import Column, Group, MetricsType, PlotSeries
from scale.services.views import JobTypeView


class JobCountOut(BaseModel):
    status: str
    count: int
    most_recent: UtcDateTime
    category: str | None

    @classmethod
    def from_view(cls, view: JobCount) -> JobCountOut:
        return cls(status=view.status, count=view.count, most_recent=view.most_recent, category=view.category)


class JobTypeStatusOut(BaseModel):
    job_type: JobTypeRef
    job_counts: list[JobCountOut]

    @classmethod
    def from_view(cls, view: JobTypeStatusView) -> JobTypeStatusOut:
        return cls(
            job_type=JobTypeRef.from_row(view.job_type),
            job_counts=[JobCountOut.from_view(c) for c in view.job_counts],
        )


class JobTypeRunningOut(BaseModel):
    job_type: JobTypeRef
    count: int
    longest_running: UtcDateTime

    @classmethod
    def from_view(cls, view: JobTypeCountView) -> JobTypeRunningOut:
        return cls(job_type=JobTypeRef.from_row(view.job_type), count=view.count, longest_running=view.oldest)


class JobTypePendingOut(BaseModel):
    job_type: JobTypeRef
    count: int
    longest_pending: UtcDateTime

    @classmethod
    def from_view(cls, view: JobTypeCountView) -> JobTypePendingOut:
        return cls(job_type=JobTypeRef.from_row(view.job_type), count=view.count, longest_pending=view.oldest)


class LoadOut(BaseModel):
    time: UtcDateTime
    pending_count: int
    queued_count: int
    running_count: int

    @classmethod
    def from_view(cls, view: LoadPoint) -> LoadOut:
        return cls(
            time=view.time,
            pending_count=view.pending_count,
            queued_count=view.queued_count,
            running_count=view.running_count,
        )


class MetricsFilterOut(BaseModel):
    param: str
    type: str


class MetricsGroupOut(BaseModel):
    name: str
    title: str
    description: str

    @classmethod
    def from_view(cls, group: Group) -> MetricsGroupOut:
        return cls(name=group.name, title=group.title, description=group.description)


class MetricsColumnOut(BaseModel):
    name: str
    title: str
    description: str
    units: str
    group: str
    aggregate: str

    @classmethod
    def from_view(cls, c: Column) -> MetricsColumnOut:
        return cls(
            name=c.name,
            title=c.title,
            description=c.description,
            units=c.units,
            group=c.group,
            aggregate=c.aggregate,
        )


class MetricsTypeOut(BaseModel):
    name: str
    title: str
    description: str
    filters: list[MetricsFilterOut]
    groups: list[MetricsGroupOut]
    columns: list[MetricsColumnOut]

    @classmethod
    def _fields(cls, m: MetricsType) -> dict[str, object]:
        return {
            "name": m.name,
            "title": m.title,
            "description": m.description,
            "filters": [MetricsFilterOut(param=p, type=t) for p, t in m.filters],
            "groups": [MetricsGroupOut.from_view(g) for g in m.groups],
            "columns": [MetricsColumnOut.from_view(c) for c in m.columns],
        }

    @classmethod
    def from_view(cls, m: MetricsType) -> MetricsTypeOut:
        return cls.model_validate(cls._fields(m))


class MetricsTypeDetailOut(MetricsTypeOut):
    """With ``choices``: the job types a plot can be limited to (``choice_id``)."""

    choices: list[JobTypeRef]

    @classmethod
    def from_detail(cls, m: MetricsType, choices: Sequence[JobTypeView]) -> MetricsTypeDetailOut:
        return cls.model_validate({**cls._fields(m), "choices": [JobTypeRef.from_row(r) for r in choices]})


class PlotValueOut(BaseModel):
    """One day's value: ``datetime`` is its start (Scale v6's field), ``date`` the day itself
    (what Scale's UI charts read)."""

    datetime: UtcDateTime
    date: str
    value: int | float
    #: The job type: only when several ``choice_id`` were given.
    id: int | None = None


class PlotDataOut(BaseModel):
    column: MetricsColumnOut
    min_x: str | None
    max_x: str | None
    min_y: int | float | None
    max_y: int | float | None
    values: list[PlotValueOut]

    @classmethod
    def from_view(cls, series: PlotSeries) -> PlotDataOut:
        values = series.values
        dates = [v.datetime for v in values]
        ys = [v.value for v in values]
        return cls(
            column=MetricsColumnOut.from_view(series.column),
            min_x=_date(min(dates)) if dates else None,
            max_x=_date(max(dates)) if dates else None,
            min_y=min(ys) if ys else None,
            max_y=max(ys) if ys else None,
            values=[
                PlotValueOut(datetime=v.datetime, date=_date(v.datetime), value=v.value, id=v.id)
                for v in values
            ],
        )


def _date(when: datetime) -> str:
    return format_time(when)[:10]


class IngestStatusOut(BaseModel):
    """Scale's per-Strike ingest summary. There is no ingest here, so a list of these is empty."""

    strike: dict[str, object]
    most_recent: UtcDateTime | None
    files: int
    size: int
    values: list[dict[str, object]]


class ScaleFileOut(BaseModel):
    """Scale's file record. Files are not stored here (a job's file inputs are ids it passes on),
    so a list of these is empty."""

    id: int
    file_name: str
    media_type: str
    file_type: str
    file_size: int
    last_modified: UtcDateTime
