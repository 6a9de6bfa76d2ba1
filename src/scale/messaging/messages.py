"""Command message types (DESIGN §10) and their bodies.

Each message carries a list so one message can move a whole scheduling pass's worth of
changes. Handlers must be idempotent and order-independent: delivery is at least once, and a
``completed_jobs`` may arrive before the ``running_jobs`` of the same execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RUNNING_JOBS = "running_jobs"
COMPLETED_JOBS = "completed_jobs"
FAILED_JOBS = "failed_jobs"
CREATE_JOB_EXE_ENDS = "create_job_exe_ends"
RESTART_SCHEDULER = "restart_scheduler"

MESSAGE_TYPES = frozenset({RUNNING_JOBS, COMPLETED_JOBS, FAILED_JOBS, CREATE_JOB_EXE_ENDS, RESTART_SCHEDULER})


@dataclass(frozen=True)
class Message:
    type: str
    body: dict[str, Any]

    def __post_init__(self) -> None:
        if self.type not in MESSAGE_TYPES:
            raise ValueError(f"unknown message type {self.type!r}")


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    type: str
    body: dict[str, Any]
    attempts: int
