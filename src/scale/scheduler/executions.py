"""Running job executions: their task sequence, how task updates move them, and which error a
failed task means (DESIGN §7, reference §4.5).

An execution runs its tasks one at a time on one node (pre, main, post for the process
runtime). The scheduler launches the next task in a later pass, on the same node, from the
offers that node makes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from scale.domain.errors import system_error_for_exit_code
from scale.domain.resources import Resources
from scale.domain.states import ExecutionStatus, TaskKind, TaskState
from scale.domain.tasks import TaskUpdate

#: Running timeouts of Scale's own tasks, in seconds.
PRE_POST_TIMEOUT_S = 3600.0
PULL_TIMEOUT_S = 1800.0
TIMEOUT_ERRORS: Mapping[TaskKind, str] = {
    TaskKind.PULL: "pull-timeout",
    TaskKind.PRE: "pre-timeout",
    TaskKind.MAIN: "timeout",
    TaskKind.POST: "post-timeout",
}
#: Exit codes of the container runner (``python -m scale.runtime run``, ``runtime/docker.py``)
#: that say the container failed, not the algorithm in it: system errors, whatever the job
#: type's own mapping says. 250: the engine killed it (out of memory) or it vanished; 251: it
#: could not be created or started.
CONTAINER_EXIT_ERRORS: Mapping[int, str] = {250: "docker-terminated", 251: "docker-task-launch"}
_CONTAINER_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def container_name(cluster_id: str) -> str:
    """The name of an execution's main container: derived from the execution, valid for Docker."""
    return _CONTAINER_NAME_UNSAFE.sub("_", cluster_id) + "_main"


@dataclass(frozen=True, slots=True)
class TaskPlan:
    kind: TaskKind
    command: str
    resources: Resources
    timeout_s: float | None
    env: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None


class Outcome(StrEnum):
    NONE = "none"
    NEXT_TASK = "next_task"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass
class RunningExecution:
    job_exe_id: int
    job_id: int
    exe_num: int
    job_type_id: int
    node_id: int
    agent_id: str
    cluster_id: str
    priority: int
    resources: Resources
    started: datetime
    tasks: list[TaskPlan]
    #: job type's exit code -> error name for the main task (from the Seed manifest)
    error_mapping: Mapping[int, str] = field(default_factory=dict)
    is_system: bool = False
    workdir: str = ""
    index: int = 0
    task_id: str | None = None
    task_state: TaskState | None = None
    task_launched: datetime | None = None
    task_started: datetime | None = None
    last_update: datetime | None = None
    last_task_finished: datetime | None = None
    lost_count: int = 0
    status: ExecutionStatus = ExecutionStatus.RUNNING
    error_name: str | None = None
    #: True when ``error_name`` comes from the job type's own error mapping, not the catalogue
    error_is_mapped: bool = False
    exit_code: int | None = None
    #: set when the scheduler killed the current task on purpose (timeout, lost node)
    kill_error: str | None = None
    #: an operator canceled the job: the execution ends CANCELED when its task is gone
    canceled: bool = False
    ended: datetime | None = None
    task_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> TaskPlan | None:
        return self.tasks[self.index] if self.index < len(self.tasks) else None

    @property
    def is_finished(self) -> bool:
        return self.status != ExecutionStatus.RUNNING

    def needs_launch(self) -> bool:
        """True when the next task waits for a place (nothing of this execution runs now)."""
        return not self.is_finished and self.task_id is None and self.current is not None

    def next_task_id(self) -> str:
        plan = self.current
        assert plan is not None
        suffix = f"_lost-{self.lost_count}" if self.lost_count else ""
        return f"{self.cluster_id}_{plan.kind.value}{suffix}"

    def launched(self, task_id: str, now: datetime) -> None:
        self.task_id = task_id
        self.task_state = TaskState.STAGING
        self.task_launched = now
        self.task_started = None
        self.last_update = now

    def cancel(self, when: datetime) -> bool:
        """Mark the execution canceled. True when it ended now (no task running); otherwise it
        ends CANCELED when the kill of its current task lands."""
        if self.is_finished:
            return False
        self.canceled = True
        if self.task_id is None:
            self.finish(ExecutionStatus.CANCELED, None, when)
            return True
        return False

    def apply(self, update: TaskUpdate) -> Outcome:
        """Move the execution by one task update for its current task."""
        if self.is_finished or update.task_id != self.task_id:
            return Outcome.NONE
        plan = self.current
        assert plan is not None
        self.last_update = update.timestamp
        if update.state == TaskState.RUNNING:
            if self.task_started is None:
                self.task_started = update.timestamp
            self.task_state = TaskState.RUNNING
            return Outcome.NONE
        if update.state == TaskState.STAGING:
            return Outcome.NONE
        if self.canceled and update.state in (
            TaskState.FINISHED,
            TaskState.FAILED,
            TaskState.KILLED,
            TaskState.LOST,
        ):
            self._record(plan, update)
            self.task_id = None
            self.task_state = update.state
            self.finish(ExecutionStatus.CANCELED, None, update.timestamp)
            return Outcome.CANCELED
        if update.state == TaskState.LOST and self.kill_error is None:
            # Relaunch the same step under a new task id, as Scale does.
            self.lost_count += 1
            self.task_id = None
            self.task_state = None
            return Outcome.NEXT_TASK
        self._record(plan, update)
        self.task_id = None
        self.task_state = update.state
        if update.state == TaskState.FINISHED and self.kill_error is None:
            self.last_task_finished = update.timestamp
            self.index += 1
            if self.index >= len(self.tasks):
                self.finish(ExecutionStatus.COMPLETED, None, update.timestamp)
                return Outcome.COMPLETED
            return Outcome.NEXT_TASK
        self.exit_code = update.exit_code
        self.finish(ExecutionStatus.FAILED, self._error_for(plan, update), update.timestamp)
        return Outcome.FAILED

    def _record(self, plan: TaskPlan, update: TaskUpdate) -> None:
        self.task_results.append(
            {
                "task_id": update.task_id,
                "type": plan.kind.value,
                "was_launched": True,
                "launched": self.task_launched.isoformat() if self.task_launched else None,
                "was_started": self.task_started is not None,
                "started": self.task_started.isoformat() if self.task_started else None,
                "ended": update.timestamp.isoformat(),
                "status": update.state.value,
                "exit_code": update.exit_code,
            }
        )
        if plan.image:
            # Where the task ran: the image, and for main the container (the jobs API shows both).
            self.task_results[-1]["image"] = plan.image
            if plan.kind == TaskKind.MAIN:
                self.task_results[-1]["container_name"] = container_name(self.cluster_id)

    def _error_for(self, plan: TaskPlan, update: TaskUpdate) -> str:
        if self.kill_error is not None:
            return self.kill_error
        if self.task_started is None and update.exit_code is None:
            return "docker-task-launch" if plan.image else "task-launch"
        if plan.kind == TaskKind.PULL:
            return "pull"
        code = update.exit_code
        if plan.kind == TaskKind.MAIN and plan.image and code is not None and code in CONTAINER_EXIT_ERRORS:
            return CONTAINER_EXIT_ERRORS[code]
        if plan.kind == TaskKind.MAIN and not self.is_system:
            if update.exit_code is not None and update.exit_code in self.error_mapping:
                self.error_is_mapped = True
                return self.error_mapping[update.exit_code]
            return "algorithm-unknown" if update.exit_code is not None else "unknown"
        return system_error_for_exit_code(update.exit_code)

    def finish(self, status: ExecutionStatus, error_name: str | None, when: datetime) -> None:
        if self.is_finished:
            return
        self.status = status
        self.error_name = error_name
        self.ended = when

    def timed_out(self, now: datetime, staging_timeout_s: float) -> str | None:
        """The error name when the current task has run past its limit, else None."""
        if self.task_id is None or self.task_launched is None or self.kill_error is not None:
            return None
        plan = self.current
        if plan is None:
            return None
        if self.task_started is None:
            if (now - self.task_launched).total_seconds() > staging_timeout_s:
                return "launch-timeout"
            return None
        if plan.timeout_s is not None and (now - self.task_started).total_seconds() > plan.timeout_s:
            if plan.kind == TaskKind.MAIN and self.is_system:
                return "system-timeout"
            return TIMEOUT_ERRORS.get(plan.kind, "timeout")
        return None
