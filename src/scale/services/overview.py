"""What the dashboard and the CLI show beside the status document, in a few grouped queries.

The status document (built by the scheduler) has the nodes and the rates; the database has the
jobs: how many there are in each status, what waits in the queue and why (the reasons the
scheduler's planning pass records per queued job), and which errors failed jobs lately.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from scale.domain.states import JobStatus
from scale.exceptions import NotFound
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobExecutionEndRow, JobExecutionRow, JobRow, JobTypeRow, QueueRow

#: How far back "recent failures" reach: the status' own window for finished executions.
RECENT = timedelta(hours=3)
#: The reasons shown are those of at most this many queued jobs, the oldest first.
REASON_SAMPLE = 5000


@dataclass(frozen=True, slots=True)
class QueuedType:
    job_type_id: int
    name: str
    version: str
    title: str | None
    is_paused: bool
    count: int
    oldest: datetime | None
    #: reason -> number of queued jobs of this type that the last planning pass gave it (of the
    #: oldest REASON_SAMPLE queued jobs of all types)
    reasons: dict[str, int]
    #: of those, the jobs the scheduler has not yet considered (no reason recorded yet)
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
    #: True when more jobs wait than REASON_SAMPLE: the reasons are those of the oldest ones
    reasons_sampled: bool = False


def overview(db: Database, now: datetime, *, reason_sample: int = REASON_SAMPLE) -> Overview:
    with db.read_engine.connect() as conn:
        counts = {status.value: 0 for status in JobStatus}
        for status, count in conn.execute(select(JobRow.status, func.count()).group_by(JobRow.status)):
            counts[str(status)] = int(count)
        groups = conn.execute(
            select(
                JobTypeRow.id,
                JobTypeRow.name,
                JobTypeRow.version,
                JobTypeRow.title,
                JobTypeRow.is_paused,
                func.count(),
                func.min(QueueRow.queued),
            )
            .join(QueueRow, QueueRow.job_type_id == JobTypeRow.id)
            .where(QueueRow.is_canceled.is_(False))
            .group_by(
                JobTypeRow.id, JobTypeRow.name, JobTypeRow.version, JobTypeRow.title, JobTypeRow.is_paused
            )
        ).all()
        # Reasons from the oldest REASON_SAMPLE queued jobs: the counts above stay exact, and a
        # poll costs the same with a million jobs queued.
        reasons: dict[int, Counter[str]] = {}
        unconsidered: Counter[int] = Counter()
        sample = (
            select(QueueRow.job_type_id, QueueRow.unplaced_reasons)
            .where(QueueRow.is_canceled.is_(False))
            .order_by(QueueRow.queued, QueueRow.job_id)
            .limit(reason_sample)
        )
        sampled = 0
        for type_id, found in conn.execute(sample):
            sampled += 1
            if found:
                reasons.setdefault(type_id, Counter()).update(dict.fromkeys(map(str, found), 1))
            else:
                unconsidered[type_id] += 1
        failures = conn.execute(
            select(ErrorRow.id, ErrorRow.name, ErrorRow.title, ErrorRow.category, func.count())
            .join(JobRow, JobRow.error_id == ErrorRow.id)
            .where(JobRow.status == JobStatus.FAILED.value, JobRow.last_modified >= now - RECENT)
            .group_by(ErrorRow.id, ErrorRow.name, ErrorRow.title, ErrorRow.category)
            .order_by(func.count().desc(), ErrorRow.id)
        ).all()
    queue = [
        QueuedType(
            job_type_id=row[0],
            name=row[1],
            version=row[2],
            title=row[3],
            is_paused=bool(row[4]),
            count=int(row[5]),
            oldest=row[6],
            reasons=dict(reasons.get(row[0], Counter()).most_common()),
            not_yet_considered=unconsidered[row[0]],
        )
        for row in sorted(groups, key=lambda r: (-int(r[5]), r[0]))
    ]
    return Overview(
        job_counts=counts,
        queue=queue,
        reasons_sampled=sampled >= reason_sample,
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
