"""Runtime scheduler settings (DESIGN §11): read and change the scheduler row's four settings;
and Scale HEAD's queued-resources summary.

The scheduler re-reads them on its sync loop (every 10 s), so a change takes effect within that.
Validation of values lives here so the API and the CLI apply the same rules; wire types (a JSON
boolean, an integer) are checked by the caller's schema before this is reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from scale.domain.states import QueueMode
from scale.exceptions import FieldProblem, InvalidRequest, NotFound
from scale.store.db import Database
from scale.store.tables import JobRow, SchedulerRow

LOGGING_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_MESSAGE_HANDLERS = 100


@dataclass(frozen=True, slots=True)
class SchedulerSettingsView:
    is_paused: bool
    num_message_handlers: int
    system_logging_level: str
    queue_mode: str


@dataclass(frozen=True, slots=True)
class SchedulerChanges:
    """The fields a caller asked to change; None means "leave as it is"."""

    is_paused: bool | None = None
    num_message_handlers: int | None = None
    system_logging_level: str | None = None
    queue_mode: str | None = None

    def is_empty(self) -> bool:
        return all(
            value is None
            for value in (
                self.is_paused,
                self.num_message_handlers,
                self.system_logging_level,
                self.queue_mode,
            )
        )


def _view(row: SchedulerRow) -> SchedulerSettingsView:
    return SchedulerSettingsView(
        is_paused=row.is_paused,
        num_message_handlers=row.num_message_handlers,
        system_logging_level=row.system_logging_level or "INFO",
        queue_mode=row.queue_mode,
    )


def get_scheduler_settings(db: Database) -> SchedulerSettingsView:
    with db.read() as session:
        row = session.get(SchedulerRow, 1)
        if row is None:
            raise NotFound("scheduler: no scheduler row; run the database update")
        return _view(row)


def _normalized(changes: SchedulerChanges) -> SchedulerChanges:
    """Upper-case the enum-like values, or raise InvalidRequest naming every bad field."""
    problems: list[FieldProblem] = []
    if changes.is_empty():
        raise InvalidRequest([FieldProblem("body", "give at least one field to change")])
    handlers = changes.num_message_handlers
    if handlers is not None and not 0 <= handlers <= MAX_MESSAGE_HANDLERS:
        problems.append(FieldProblem("num_message_handlers", f"must be between 0 and {MAX_MESSAGE_HANDLERS}"))
    queue_mode = changes.queue_mode.upper() if changes.queue_mode is not None else None
    if queue_mode is not None and queue_mode not in QueueMode.__members__:
        problems.append(FieldProblem("queue_mode", "must be one of FIFO, LIFO"))
    level = changes.system_logging_level.upper() if changes.system_logging_level is not None else None
    if level is not None and level not in LOGGING_LEVELS:
        problems.append(FieldProblem("system_logging_level", f"must be one of {', '.join(LOGGING_LEVELS)}"))
    if problems:
        raise InvalidRequest(problems)
    return SchedulerChanges(changes.is_paused, handlers, level, queue_mode)


def update_scheduler_settings(
    db: Database, changes: SchedulerChanges, *, now: datetime
) -> SchedulerSettingsView:
    """Apply ``changes`` in one transaction and return the settings as they now are.

    Nothing is written when any field is invalid.
    """
    valid = _normalized(changes)
    with db.session() as session:
        row = session.get(SchedulerRow, 1, with_for_update=True)
        if row is None:
            raise NotFound("scheduler: no scheduler row; run the database update")
        if valid.is_paused is not None:
            row.is_paused = valid.is_paused
        if valid.num_message_handlers is not None:
            row.num_message_handlers = valid.num_message_handlers
        if valid.system_logging_level is not None:
            row.system_logging_level = valid.system_logging_level
        if valid.queue_mode is not None:
            row.queue_mode = valid.queue_mode
        row.last_modified = now
        return _view(row)


RESOURCE_NAMES: tuple[str, ...] = ("cpus", "mem", "disk", "gpus")
QUEUED_RESOURCE_STATUSES: tuple[str, ...] = ("PENDING", "QUEUED", "RUNNING")


@dataclass(frozen=True, slots=True)
class QueuedResourcesView:
    """Scale HEAD's ``queued-resources``: the cluster's total resources, and per job status the
    number of jobs and the sum of their resource needs."""

    cluster_resources: dict[str, float]
    queue_lengths: dict[str, int]
    total_resources: dict[str, dict[str, float]]


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _cluster_resources(status: Mapping[str, Any] | None) -> dict[str, float]:
    """``resources.<name>.total`` from the latest status document; zeros when there is none."""
    resources = status.get("resources") if isinstance(status, Mapping) else None
    totals: dict[str, float] = {}
    for name in RESOURCE_NAMES:
        entry = resources.get(name) if isinstance(resources, Mapping) else None
        totals[name] = _number(entry.get("total")) if isinstance(entry, Mapping) else 0.0
    return totals


def get_queued_resources(db: Database) -> QueuedResourcesView:
    lengths = dict.fromkeys(QUEUED_RESOURCE_STATUSES, 0)
    sums = {status: dict.fromkeys(RESOURCE_NAMES, 0.0) for status in QUEUED_RESOURCE_STATUSES}
    with db.read() as session:
        row = session.get(SchedulerRow, 1)
        cluster = _cluster_resources(row.status if row is not None else None)
        jobs = session.execute(
            select(JobRow.status, JobRow.resources).where(JobRow.status.in_(QUEUED_RESOURCE_STATUSES))
        )
        for status, resources in jobs:
            lengths[status] += 1
            if isinstance(resources, Mapping):
                for name in RESOURCE_NAMES:
                    sums[status][name] += _number(resources.get(name))
    return QueuedResourcesView(
        cluster_resources=cluster,
        queue_lengths=lengths,
        total_resources={status: {k: round(v, 2) for k, v in res.items()} for status, res in sums.items()},
    )
