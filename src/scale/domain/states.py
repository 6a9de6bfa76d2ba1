"""Every state in the system as a ``str`` enum, with the job transition table.

State values never appear as string literals elsewhere; compare against these members.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from scale.exceptions import Conflict


class InvalidTransition(Conflict, ValueError):
    """A state change the transition table does not allow."""


class JobStatus(StrEnum):
    PENDING = "PENDING"
    BLOCKED = "BLOCKED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


FINAL_JOB_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.CANCELED}
)

#: Allowed job transitions. QUEUED -> QUEUED is a retry (a new execution number), and
#: QUEUED -> COMPLETED/FAILED covers an end update that overtakes the running update.
JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.BLOCKED, JobStatus.QUEUED, JobStatus.CANCELED}),
    JobStatus.BLOCKED: frozenset({JobStatus.PENDING, JobStatus.QUEUED, JobStatus.CANCELED}),
    JobStatus.QUEUED: frozenset(
        {JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
    ),
    JobStatus.RUNNING: frozenset(
        {JobStatus.QUEUED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
    ),
    # Scale cancels any job not COMPLETED or CANCELED (Job.can_be_canceled), a FAILED one too.
    JobStatus.FAILED: frozenset({JobStatus.QUEUED, JobStatus.CANCELED}),
    JobStatus.CANCELED: frozenset({JobStatus.QUEUED}),
    JobStatus.COMPLETED: frozenset(),
}


def can_transition(current: JobStatus | str, new: JobStatus) -> bool:
    """Whether a job in ``current`` (a status or its stored name) may move to ``new``."""
    return new in JOB_TRANSITIONS[JobStatus(current)]


def transition(current: JobStatus | str, new: JobStatus) -> JobStatus:
    """``new`` when the table allows ``current -> new``; the one way a job's status changes.

    Raises ``InvalidTransition`` (a 409 through the API's error table) otherwise.
    """
    if not can_transition(current, new):
        raise InvalidTransition(f"job cannot go from {current} to {new}")
    return new


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class TaskState(StrEnum):
    """Backend task states (Mesos-shaped). FINISHED, FAILED and KILLED are terminal; LOST is not."""

    STAGING = "STAGING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    LOST = "LOST"


TERMINAL_TASK_STATES: frozenset[TaskState] = frozenset(
    {TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED}
)


class TaskKind(StrEnum):
    PULL = "pull"
    PRE = "pre"
    MAIN = "main"
    POST = "post"
    CLEANUP = "cleanup"
    HEALTH_CHECK = "health-check"
    IMAGE_PULL = "image-pull"
    MESSAGE_HANDLER = "message-handler"
    DB_UPDATE = "db-update"


class QueueMode(StrEnum):
    FIFO = "FIFO"
    LIFO = "LIFO"


class ErrorCategory(StrEnum):
    SYSTEM = "SYSTEM"
    ALGORITHM = "ALGORITHM"
    DATA = "DATA"
