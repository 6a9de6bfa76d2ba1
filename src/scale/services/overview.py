"""What the dashboard and the CLI show beside the status document, in a few grouped queries.

The status document (built by the scheduler) has the nodes and the rates; the database has the
jobs: how many there are in each status, what waits in the queue and why (the reasons the
scheduler's planning pass records per queued job), and which errors failed jobs lately.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from scale.domain.states import JobStatus
from scale.exceptions import NotFound
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobExecutionEndRow, JobExecutionRow, JobRow, JobTypeRow, QueueRow

#: How far back "recent failures" reach: the status' own window for finished executions.
RECENT = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class QueuedType:
    job_type_id: int
    name: str
    version: str
    title: str | None
    is_paused: bool
    count: int
    oldest: datetime | None
    #: reason -> number of queued jobs of this type that the last planning pass gave it
    reasons: dict[str, int]
    #: queued jobs the scheduler has not yet considered (no reason recorded yet)
    not_yet_considered: int


@dataclass(frozen=True, slots=True)
class FailureGroup:
    error_id: int | None
    name: str
    title: str | None
    category: str
    count: int


@dataclass(frozen=True, slots=True)
class Overview:
    job_counts: dict[str, int]
    queue: list[QueuedType]
    failures: list[FailureGroup]


def overview(db: Database, now: datetime) -> Overview:
    with db.read_engine.connect() as conn:
        counts = {status.value: 0 for status in JobStatus}
        for status, count in conn.execute(select(JobRow.status, func.count()).group_by(JobRow.status)):
            counts[str(status)] = int(count)
        types = {
            row[0]: row
            for row in conn.execute(
                select(
                    JobTypeRow.id, JobTypeRow.name, JobTypeRow.version, JobTypeRow.title, JobTypeRow.is_paused
                )
                .join(QueueRow, QueueRow.job_type_id == JobTypeRow.id)
                .where(QueueRow.is_canceled.is_(False))
                .distinct()
            )
        }
        per_type: dict[int, tuple[Counter[str], list[Any]]] = {}
        queued = select(QueueRow.job_type_id, QueueRow.queued, QueueRow.unplaced_reasons).where(
            QueueRow.is_canceled.is_(False)
        )
        for type_id, when, reasons in conn.execute(queued):
            entry = per_type.setdefault(type_id, (Counter(), [0, None, 0]))
            tally = entry[1]
            tally[0] += 1
            tally[1] = when if tally[1] is None or when < tally[1] else tally[1]
            if reasons:
                entry[0].update({str(reason): 1 for reason in reasons})
            else:
                tally[2] += 1
        failures = conn.execute(
            select(ErrorRow.id, ErrorRow.name, ErrorRow.title, ErrorRow.category, func.count())
            .join(JobRow, JobRow.error_id == ErrorRow.id)
            .where(JobRow.status == JobStatus.FAILED.value, JobRow.last_modified >= now - RECENT)
            .group_by(ErrorRow.id, ErrorRow.name, ErrorRow.title, ErrorRow.category)
            .order_by(func.count().desc(), ErrorRow.id)
        ).all()
    queue = [
        QueuedType(
            job_type_id=type_id,
            name=types[type_id][1],
            version=types[type_id][2],
            title=types[type_id][3],
            is_paused=bool(types[type_id][4]),
            count=int(tally[0]),
            oldest=tally[1],
            reasons=dict(reasons.most_common()),
            not_yet_considered=int(tally[2]),
        )
        for type_id, (reasons, tally) in sorted(per_type.items(), key=lambda item: -item[1][1][0])
        if type_id in types
    ]
    return Overview(
        job_counts=counts,
        queue=queue,
        failures=[FailureGroup(r[0], r[1], r[2], r[3], int(r[4])) for r in failures],
    )


@dataclass(frozen=True, slots=True)
class ExecutionState:
    id: int
    job_id: int
    exe_num: int
    #: RUNNING until the execution's end is recorded, then its end status
    status: str
    ended: datetime | None


def execution_state(db: Database, exe_id: int) -> ExecutionState:
    """Whether one execution (by its id, as the logs route takes it) has ended: ``scale logs --follow``."""
    with db.read_engine.connect() as conn:
        row = conn.execute(
            select(JobExecutionRow.id, JobExecutionRow.job_id, JobExecutionRow.exe_num).where(
                JobExecutionRow.id == exe_id
            )
        ).first()
        if row is None:
            raise NotFound(f"job execution {exe_id} does not exist")
        end = conn.execute(
            select(JobExecutionEndRow.status, JobExecutionEndRow.ended).where(
                JobExecutionEndRow.job_exe_id == exe_id
            )
        ).first()
    return ExecutionState(
        id=row[0],
        job_id=row[1],
        exe_num=row[2],
        status=str(end[0]) if end is not None else "RUNNING",
        ended=end[1] if end is not None else None,
    )
