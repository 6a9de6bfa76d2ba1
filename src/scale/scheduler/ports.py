"""The protocols the core needs from the outside world. Nothing concrete lives here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from scale.domain.messages import CommandMessage
from scale.domain.resources import Resources
from scale.domain.states import ErrorCategory, QueueMode
from scale.domain.tasks import BackendEvent, Registration, TaskSpec, TaskUpdate
from scale.scheduler.metrics import FinishedExecution
from scale.scheduler.planning import QueuedJob


class Clock(Protocol):
    """Wall time for records and monotonic time for intervals; tests inject a fake."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class Backend(Protocol):
    """A resource manager in the shape of a Mesos master (DESIGN §4).

    The scheduler calls ``poll`` once per scheduling pass and receives every event since the
    previous call: agents up or lost, new offers, rescinded offers, task status updates
    (including the answers to ``reconcile``). Offers are capacity free for us; an offer is
    consumed by ``launch`` (the unused part is offered again later) or returned by ``decline``.
    """

    name: str

    def register(self) -> Registration: ...

    def poll(self) -> list[BackendEvent]: ...

    def launch(self, offer_ids: Sequence[str], tasks: Sequence[TaskSpec]) -> None: ...

    def decline(self, offer_ids: Sequence[str]) -> None: ...

    def kill(self, task_id: str) -> None: ...

    def reconcile(self, task_ids: Sequence[str]) -> None: ...

    def recover(self) -> list[TaskUpdate]:
        """The tasks this engine still has from an earlier scheduler of ours, one update each:
        RUNNING while still running, FINISHED/FAILED with the exit code when it ended while no
        scheduler watched, LOST when it cannot be known. From then on the backend tracks those
        tasks as if it had launched them. Called once, at start, before the first ``poll``."""
        ...

    def agent_totals(self) -> dict[str, Resources]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Runtime settings an operator changes through the API; re-read by the sync loop."""

    is_paused: bool = False
    num_message_handlers: int = 1
    queue_mode: QueueMode = QueueMode.FIFO


@dataclass(frozen=True, slots=True)
class NodeRecord:
    node_id: int
    hostname: str
    agent_id: str
    is_active: bool
    is_paused: bool
    pause_reason: str | None = None


@dataclass(frozen=True, slots=True)
class JobTypeRecord:
    id: int
    name: str
    version: str
    title: str | None
    description: str | None
    is_system: bool
    icon_code: str | None
    is_active: bool
    is_paused: bool
    max_scheduled: int | None
    max_tries: int
    revision_num: int
    docker_image: str
    manifest: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    id: int
    name: str
    job_type_name: str | None
    category: ErrorCategory
    should_be_retried: bool


@dataclass(frozen=True, slots=True)
class NewExecution:
    job_id: int
    exe_num: int
    job_type_id: int
    node_id: int
    cluster_id: str
    resources: Resources
    timeout_s: int
    priority: int
    queued: datetime


@dataclass(frozen=True, slots=True)
class CreatedExecution:
    job_exe_id: int
    job_id: int
    exe_num: int
    input: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UnfinishedExecution:
    """An execution the database says is running: its job's current one, with no end record."""

    job_exe_id: int
    job_id: int
    exe_num: int
    job_type_id: int
    node_id: int
    cluster_id: str
    resources: Resources
    priority: int
    started: datetime
    input: Mapping[str, Any]


class SchedulerStore(Protocol):
    """What the scheduler reads from and writes to the database."""

    def save_registration(self, registration: Registration) -> None: ...

    def load_settings(self) -> SchedulerSettings: ...

    def load_job_types(self) -> list[JobTypeRecord]: ...

    def load_nodes(self) -> list[NodeRecord]: ...

    def load_errors(self) -> list[ErrorRecord]: ...

    def register_nodes(self, agents: Sequence[tuple[str, str]], now: datetime) -> list[NodeRecord]:
        """Register (hostname, agent_id) pairs in order, in one transaction; a record each."""
        ...

    def load_queue(self, *, lifo: bool, exclude_job_types: Sequence[int], limit: int) -> list[QueuedJob]: ...

    def create_executions(self, executions: Sequence[NewExecution], now: datetime) -> list[CreatedExecution]:
        """Insert the executions, delete their queue rows and queue a ``running_jobs`` message,
        in one transaction. Jobs whose queue row is gone (canceled meanwhile) are skipped."""
        ...

    def record_unplaced(self, reasons: Mapping[int, Mapping[str, int]]) -> None: ...

    def send(self, messages: Sequence[CommandMessage]) -> None: ...

    def save_status(self, status: Mapping[str, Any], timestamp: datetime) -> None: ...

    def load_finished_since(self, since: datetime) -> list[FinishedExecution]: ...

    def load_unfinished_executions(self) -> list[UnfinishedExecution]:
        """Executions an earlier scheduler left running (for adoption at start)."""
        ...

    def load_canceled(self, job_ids: Sequence[int]) -> set[int]:
        """Which of these jobs an operator has canceled."""
        ...

    def message_counts(self) -> tuple[int, int]:
        """(messages waiting, dead messages) on the transport."""
        ...


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The message transport as last sampled outside the status build (``messaging/probe.py``)."""

    transport: str
    backlog: int
    dead: int
    #: what else the status shows under ``dependencies.msg_queue.detail``
    detail: Mapping[str, Any]
    #: why the broker could not be asked, when it could not
    error: str | None = None


class QueueProbe(Protocol):
    def latest(self) -> QueueStats | None:
        """The newest sample, or None before the first one."""
        ...


class HandlerPool(Protocol):
    """The message handlers the scheduler keeps running (``num_message_handlers``)."""

    def resize(self, count: int) -> None: ...

    def alive(self) -> int: ...
