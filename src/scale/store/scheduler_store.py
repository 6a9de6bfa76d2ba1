"""The scheduler's view of the database: the ``SchedulerStore`` port on SQLAlchemy.

Every query the scheduler makes is here, batched: one query per pass for the queue window,
one transaction for all executions a pass creates (with their ``running_jobs`` message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from scale.domain.messages import CommandMessage, RunningJob, RunningJobs, encode
from scale.domain.resources import Resources
from scale.domain.states import ErrorCategory, ExecutionStatus, QueueMode
from scale.domain.tasks import Registration
from scale.scheduler.metrics import FinishedExecution
from scale.scheduler.planning import QueuedJob
from scale.scheduler.ports import (
    CreatedExecution,
    ErrorRecord,
    JobTypeRecord,
    NewExecution,
    NodeRecord,
    SchedulerSettings,
    UnfinishedExecution,
)
from scale.store.db import Database
from scale.store.tables import (
    ErrorRow,
    JobExecutionEndRow,
    JobExecutionRow,
    JobRow,
    JobTypeRow,
    MessageRow,
    NodeRow,
    QueueRow,
    SchedulerRow,
)


def _node_record(row: NodeRow) -> NodeRecord:
    return NodeRecord(row.id, row.hostname, row.agent_id, row.is_active, row.is_paused, row.pause_reason)


class SqlSchedulerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save_registration(self, registration: Registration) -> None:
        with self.db.session() as s:
            row = s.get(SchedulerRow, 1)
            if row is None:
                row = SchedulerRow(id=1)
                s.add(row)
            row.framework_id = registration.framework_id
            row.master_hostname = registration.master_hostname
            row.master_port = registration.master_port

    def load_settings(self) -> SchedulerSettings:
        with self.db.read() as s:
            row = s.get(SchedulerRow, 1)
            if row is None:
                return SchedulerSettings()
            return SchedulerSettings(row.is_paused, row.num_message_handlers, QueueMode(row.queue_mode))

    def load_job_types(self) -> list[JobTypeRecord]:
        with self.db.read() as s:
            return [
                JobTypeRecord(
                    id=r.id,
                    name=r.name,
                    version=r.version,
                    title=r.title,
                    description=r.description,
                    is_system=r.is_system,
                    icon_code=r.icon_code,
                    is_active=r.is_active,
                    is_paused=r.is_paused,
                    max_scheduled=r.max_scheduled,
                    max_tries=r.max_tries,
                    revision_num=r.revision_num,
                    docker_image=r.docker_image,
                    manifest=r.manifest,
                )
                for r in s.scalars(select(JobTypeRow).order_by(JobTypeRow.id))
            ]

    def load_nodes(self) -> list[NodeRecord]:
        with self.db.read() as s:
            return [_node_record(r) for r in s.scalars(select(NodeRow).order_by(NodeRow.id))]

    def load_errors(self) -> list[ErrorRecord]:
        with self.db.read() as s:
            return [
                ErrorRecord(r.id, r.name, r.job_type_name, ErrorCategory(r.category), r.should_be_retried)
                for r in s.scalars(select(ErrorRow))
            ]

    def register_nodes(self, agents: Sequence[tuple[str, str]], now: datetime) -> list[NodeRecord]:
        """One transaction and one lookup for all the agents that came up in a pass: a
        transaction per node made the first pass at 1,000 nodes take over a second
        (BENCHMARKS.md, benchmark 1)."""
        if not agents:
            return []
        with self.db.session() as s:
            hostnames = sorted({hostname for hostname, _ in agents})
            rows = {r.hostname: r for r in s.scalars(select(NodeRow).where(NodeRow.hostname.in_(hostnames)))}
            ordered = []
            for hostname, agent_id in agents:
                row = rows.get(hostname)
                if row is None:
                    row = NodeRow(hostname=hostname, agent_id=agent_id, created=now, last_modified=now)
                    row.is_active, row.is_paused = True, False
                    s.add(row)
                    rows[hostname] = row
                elif row.agent_id != agent_id:
                    row.agent_id = agent_id
                    row.last_modified = now
                row.last_offer_received = now
                # The record is taken after the flush: the row's id and its final agent.
                ordered.append((row, agent_id))
            s.flush()  # the new rows in one batched INSERT, not one statement each
            return [replace(_node_record(row), agent_id=agent_id) for row, agent_id in ordered]

    def load_queue(self, *, lifo: bool, exclude_job_types: Sequence[int], limit: int) -> list[QueuedJob]:
        order = QueueRow.queued.desc() if lifo else QueueRow.queued.asc()
        query = (
            select(
                QueueRow.job_id,
                QueueRow.job_type_id,
                QueueRow.exe_num,
                QueueRow.priority,
                QueueRow.queued,
                QueueRow.resources,
            )
            .where(QueueRow.is_canceled.is_(False))
            .order_by(QueueRow.priority.asc(), order, QueueRow.job_id.asc())
            .limit(limit)
        )
        if exclude_job_types:
            query = query.where(QueueRow.job_type_id.not_in(list(exclude_job_types)))
        with self.db.read() as s:
            return [
                QueuedJob(
                    job_id=r.job_id,
                    job_type_id=r.job_type_id,
                    exe_num=r.exe_num,
                    priority=r.priority,
                    queued=r.queued,
                    resources=Resources.from_mapping(r.resources),
                )
                for r in s.execute(query)
            ]

    def create_executions(self, executions: Sequence[NewExecution], now: datetime) -> list[CreatedExecution]:
        """Insert the pass's executions, drop their queue rows and send one ``running_jobs``.

        A job whose queue row is gone or canceled since the pass read it gets no execution.
        Core statements, no ORM objects: building and flushing 1,000 ORM rows was 42 % of a
        1,000-launch pass (BENCHMARKS.md, benchmark 1); one multi-row INSERT ... RETURNING is
        the same rows at a fraction of the cost.
        """
        if not executions:
            return []
        wanted = {(e.job_id, e.exe_num): e for e in executions}
        with self.db.session() as s:
            present = set(
                s.execute(
                    select(QueueRow.job_id, QueueRow.exe_num).where(
                        QueueRow.job_id.in_([e.job_id for e in executions]),
                        QueueRow.is_canceled.is_(False),
                    )
                ).tuples()
            )
            todo = [e for key, e in wanted.items() if key in present]
            if not todo:
                return []
            todo_ids = [e.job_id for e in todo]
            # No ``sort_by_parameter_order``: without a sentinel column SQLAlchemy then sends one
            # INSERT per row on SQLite (1,000 statements a pass instead of a few batches); rows
            # come back in any order and are put back in the pass's order below.
            created = s.execute(
                insert(JobExecutionRow).returning(
                    JobExecutionRow.id,
                    JobExecutionRow.job_id,
                    JobExecutionRow.exe_num,
                ),
                [
                    {
                        "job_id": e.job_id,
                        "exe_num": e.exe_num,
                        "job_type_id": e.job_type_id,
                        "node_id": e.node_id,
                        "cluster_id": e.cluster_id,
                        "resources": e.resources.to_dict(),
                        "timeout": e.timeout_s,
                        "priority": e.priority,
                        "queued": e.queued,
                        "started": now,
                        "created": now,
                    }
                    for e in todo
                ],
            ).all()
            s.execute(delete(QueueRow).where(QueueRow.job_id.in_(todo_ids)))
            inputs: dict[int, dict[str, Any]] = dict(
                s.execute(select(JobRow.id, JobRow.input).where(JobRow.id.in_(todo_ids))).tuples().all()
            )
            type_, body = encode(
                RunningJobs(tuple(RunningJob(e.job_id, e.exe_num, e.node_id, now) for e in todo))
            )
            s.execute(insert(MessageRow).values(type=type_, body=body, created=now))
            order = {e.job_id: i for i, e in enumerate(todo)}
            return [
                CreatedExecution(exe_id, job_id, exe_num, inputs.get(job_id) or {})
                for exe_id, job_id, exe_num in sorted(created, key=lambda row: order[row[1]])
            ]

    def record_unplaced(self, reasons: Mapping[int, Mapping[str, int]]) -> None:
        with self.db.session() as s:
            for job_id, why in reasons.items():
                s.execute(
                    update(QueueRow).where(QueueRow.job_id == job_id).values(unplaced_reasons=dict(why))
                )

    def send(self, messages: Sequence[CommandMessage]) -> None:
        if not messages:
            return
        with self.db.session() as s:
            now = datetime.now().astimezone()
            s.add_all(MessageRow(type=t, body=b, created=now) for t, b in map(encode, messages))

    def save_status(self, status: Mapping[str, Any], timestamp: datetime) -> None:
        with self.db.session() as s:
            s.execute(
                update(SchedulerRow)
                .where(SchedulerRow.id == 1)
                .values(status=dict(status), status_timestamp=timestamp)
            )

    def load_finished_since(self, since: datetime) -> list[FinishedExecution]:
        query = select(
            JobExecutionEndRow.node_id,
            JobExecutionEndRow.job_type_id,
            JobExecutionEndRow.status,
            JobExecutionEndRow.error_category,
            JobExecutionEndRow.ended,
        ).where(
            JobExecutionEndRow.ended >= since,
            JobExecutionEndRow.status.in_([ExecutionStatus.COMPLETED.value, ExecutionStatus.FAILED.value]),
            JobExecutionEndRow.node_id.is_not(None),
        )
        with self.db.read() as s:
            return [
                FinishedExecution(
                    node_id=node_id or 0,
                    job_type_id=type_id,
                    status=ExecutionStatus(status),
                    category=ErrorCategory(cat) if cat else None,
                    ended=ended,
                )
                for node_id, type_id, status, cat, ended in s.execute(query).all()
            ]

    def load_unfinished_executions(self) -> list[UnfinishedExecution]:
        query = (
            select(JobExecutionRow, JobRow.input)
            .join(JobRow, JobRow.id == JobExecutionRow.job_id)
            .outerjoin(JobExecutionEndRow, JobExecutionEndRow.job_exe_id == JobExecutionRow.id)
            .where(
                JobExecutionEndRow.job_exe_id.is_(None),
                JobExecutionRow.exe_num == JobRow.num_exes,
                JobRow.status.in_(["QUEUED", "RUNNING"]),
            )
            .order_by(JobExecutionRow.id)
        )
        with self.db.read() as s:
            return [
                UnfinishedExecution(
                    job_exe_id=row.id,
                    job_id=row.job_id,
                    exe_num=row.exe_num,
                    job_type_id=row.job_type_id,
                    node_id=row.node_id,
                    cluster_id=row.cluster_id,
                    resources=Resources.from_mapping(row.resources),
                    priority=row.priority,
                    started=row.started,
                    input=job_input or {},
                )
                for row, job_input in s.execute(query).all()
            ]

    def load_canceled(self, job_ids: Sequence[int]) -> set[int]:
        if not job_ids:
            return set()
        with self.db.read() as s:
            query = select(JobRow.id).where(JobRow.id.in_(list(job_ids)), JobRow.status == "CANCELED")
            return set(s.scalars(query))

    def message_counts(self) -> tuple[int, int]:
        with self.db.read() as s:
            rows = s.execute(select(MessageRow.dead, func.count()).group_by(MessageRow.dead)).all()
        counts = {bool(dead): int(n) for dead, n in rows}
        return counts.get(False, 0), counts.get(True, 0)
