"""Node tasks (DESIGN §8): health checks and cleanup, launched through the backend like any
task, and the node conditions (errors and warnings) their results set and clear.

Cadence: a health check at registration, then 5 min after the last finished check, or 2 min
after a failure or timeout. An initial cleanup at registration (the node is INITIAL_CLEANUP
until it succeeds), then batches of at most 25 finished executions. Paused nodes do not clean.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scale.domain.resources import Resources
from scale.domain.states import TaskKind, TaskState
from scale.domain.tasks import TaskUpdate
from scale.scheduler.conditions import Condition, raise_condition
from scale.scheduler.crash_loops import CrashLoops, CrashWarning

NODE_TASK_RESOURCES = Resources(cpus=0.1, mem=32.0)
HEALTH_PERIOD = timedelta(minutes=5)
HEALTH_RETRY = timedelta(minutes=2)
#: A health check degrades its node below this much free disk (MiB) in the data directory.
MIN_FREE_DISK_MB = 1024.0
CLEANUP_RETRY = timedelta(minutes=2)
CLEANUP_BATCH = 25
SLOW_CLEANUP_THRESHOLD = 100
HEALTH_TIMEOUT_S = 15 * 60.0
CLEANUP_TIMEOUT_S = 10 * 60.0
EXIT_LOW_DISK = 3
#: Docker runtime health exit codes (``runtime/docker.py``): engine not answering, engine disk low
EXIT_BAD_DAEMON = 2
EXIT_LOW_DOCKER_SPACE = 5

TASK_TEXT: dict[TaskKind, tuple[str, str]] = {
    TaskKind.CLEANUP: ("Node Cleanup", "Performs Docker container and volume cleanup on the node"),
    TaskKind.HEALTH_CHECK: ("Node Health Check", "Checks the health status of the node"),
}

ERRORS: dict[str, tuple[str, str]] = {
    "LOW_DISK_SPACE": ("Low Disk Space", "The free disk space of the node's data directory is low."),
    "BAD_DAEMON": ("Docker Not Responding", "The Docker daemon on this node is not responding."),
    "LOW_DOCKER_SPACE": ("Low Docker Disk Space", "The free disk space available to Docker is low."),
    "HEALTH_FAIL": ("Health Check Failure", "The last node health check failed with an unknown exit code."),
    "HEALTH_TIMEOUT": ("Health Check Timeout", "The last node health check timed out."),
}
HEALTH_ERRORS = frozenset(ERRORS)


@dataclass(frozen=True)
class NodeTaskPlan:
    task_id: str
    kind: TaskKind
    command: str
    timeout_s: float
    batch: tuple[str, ...] = ()


@dataclass
class NodeTasks:
    """One node's health and cleanup bookkeeping. Owned by the scheduling thread."""

    node_id: int
    python: str
    data_dir: str
    exe_root: str
    min_free_mb: float = MIN_FREE_DISK_MB
    #: ``docker``: the node tasks also check and clean the Docker engine (``scale.runtime``)
    runtime: str = "process"
    health_period: timedelta = HEALTH_PERIOD
    health_retry: timedelta = HEALTH_RETRY
    initial_cleanup_done: bool = False
    pending_cleanup: list[str] = field(default_factory=list)
    running: dict[str, NodeTaskPlan] = field(default_factory=dict)
    launched_at: dict[str, datetime] = field(default_factory=dict)
    started_at: dict[str, datetime] = field(default_factory=dict)
    next_health: datetime | None = None
    next_cleanup: datetime | None = None
    errors: dict[str, Condition] = field(default_factory=dict)
    warnings: dict[str, Condition] = field(default_factory=dict)
    counter: int = 0
    #: failures in a row per kind (health check, cleanup), for the scheduler's warnings
    crashes: CrashLoops = field(default_factory=CrashLoops)
    hostname: str = ""

    # -- conditions ---------------------------------------------------------------------------

    def _set_error(self, name: str, now: datetime, detail: str = "") -> None:
        title, description = ERRORS[name]
        if detail:  # what the task said beats "unknown exit code"
            description = f"{description.split(' with ')[0]}: {detail}"
        raise_condition(self.errors, name, title, description, now)

    def has_errors(self) -> bool:
        return bool(self.errors)

    def reset(self) -> None:
        """The node went offline or was deprecated: start over when it returns."""
        self.initial_cleanup_done = False
        self.next_health = None
        self.next_cleanup = None

    # -- what to run --------------------------------------------------------------------------

    def _has(self, kind: TaskKind) -> bool:
        return any(p.kind == kind for p in self.running.values())

    def due(self, now: datetime, *, framework: str, paused: bool, keep: list[str]) -> list[NodeTaskPlan]:
        """Node tasks to launch now. ``keep``: execution directories in use on this node."""
        plans: list[NodeTaskPlan] = []
        py = shlex.quote(self.python)
        runner = "scale.runtime" if self.runtime == "docker" else "scale.taskrunner"
        if not self._has(TaskKind.HEALTH_CHECK) and (self.next_health is None or now >= self.next_health):
            plans.append(
                self._plan(
                    TaskKind.HEALTH_CHECK,
                    framework,
                    f"{py} -m {runner} health {shlex.quote(self.data_dir)} {self.min_free_mb:g}",
                    HEALTH_TIMEOUT_S,
                )
            )
        cleanup_due = self.next_cleanup is None or now >= self.next_cleanup
        if not paused and cleanup_due and not self._has(TaskKind.CLEANUP):
            root = shlex.quote(self.exe_root)
            if not self.initial_cleanup_done:
                names = " ".join(shlex.quote(k) for k in keep)
                command = f"{py} -m {runner} cleanup {root} --initial {names}".rstrip()
                plans.append(self._plan(TaskKind.CLEANUP, framework, command, CLEANUP_TIMEOUT_S))
            elif self.pending_cleanup:
                batch = tuple(self.pending_cleanup[:CLEANUP_BATCH])
                names = " ".join(shlex.quote(n) for n in batch)
                command = f"{py} -m {runner} cleanup {root} {names}"
                plans.append(self._plan(TaskKind.CLEANUP, framework, command, CLEANUP_TIMEOUT_S, batch))
        return plans

    def _plan(
        self, kind: TaskKind, framework: str, command: str, timeout_s: float, batch: tuple[str, ...] = ()
    ) -> NodeTaskPlan:
        self.counter += 1
        short = "health" if kind == TaskKind.HEALTH_CHECK else "cleanup"
        return NodeTaskPlan(
            f"scale_{short}_{framework}_{self.node_id}_{self.counter}", kind, command, timeout_s, batch
        )

    def launched(self, plan: NodeTaskPlan, now: datetime) -> None:
        self.running[plan.task_id] = plan
        self.launched_at[plan.task_id] = now

    def add_finished_execution(self, directory: str, now: datetime) -> None:
        self.pending_cleanup.append(directory)
        self._update_slow_cleanup(now)

    def _update_slow_cleanup(self, now: datetime) -> None:
        count = len(self.pending_cleanup)
        if count >= SLOW_CLEANUP_THRESHOLD:
            raise_condition(
                self.warnings,
                "SLOW_CLEANUP",
                "Slow Cleanup",
                f"There are {count} job executions waiting to be cleaned up on this node.",
                now,
            )
        else:
            self.warnings.pop("SLOW_CLEANUP", None)

    # -- results ------------------------------------------------------------------------------

    def on_update(self, update: TaskUpdate, now: datetime) -> None:
        plan = self.running.get(update.task_id)
        if plan is None:
            return
        if update.state == TaskState.RUNNING:
            self.started_at.setdefault(update.task_id, now)
            return
        if update.state == TaskState.STAGING:
            return
        self.running.pop(update.task_id, None)
        self.launched_at.pop(update.task_id, None)
        self.started_at.pop(update.task_id, None)
        ok = update.state == TaskState.FINISHED
        if ok:
            self.crashes.succeeded(plan.kind)
        elif update.state != TaskState.LOST:
            self.crashes.failed(plan.kind, self.hostname, update.stderr_tail, now)
        why = _why(update)
        if plan.kind == TaskKind.HEALTH_CHECK:
            self._health_result(ok, update.exit_code, update.state, now, why)
        else:
            self._cleanup_result(plan, ok, now, why)

    def crash_warnings(self) -> list[CrashWarning]:
        """Scheduler warnings for this node's task kinds that failed again and again; the key
        names the node, so two nodes' loops are two warnings."""
        titles = {kind.value: text[0] for kind, text in TASK_TEXT.items()}
        return self.crashes.warnings(titles, where=self.hostname or str(self.node_id))

    def _health_result(
        self, ok: bool, exit_code: int | None, state: TaskState, now: datetime, why: str = ""
    ) -> None:
        for name in HEALTH_ERRORS:
            self.errors.pop(name, None)
        if ok:
            self.next_health = now + self.health_period
            return
        if state == TaskState.LOST:
            self.next_health = now  # not a verdict on the node: check again at once
            return
        name = self._health_error(exit_code)
        self._set_error(name, now, why if name == "HEALTH_FAIL" else "")
        self.next_health = now + self.health_retry

    def _health_error(self, exit_code: int | None) -> str:
        if exit_code == EXIT_LOW_DISK:
            return "LOW_DISK_SPACE"
        if self.runtime == "docker" and exit_code == EXIT_BAD_DAEMON:
            return "BAD_DAEMON"
        if self.runtime == "docker" and exit_code == EXIT_LOW_DOCKER_SPACE:
            return "LOW_DOCKER_SPACE"
        return "HEALTH_FAIL"

    def _cleanup_result(self, plan: NodeTaskPlan, ok: bool, now: datetime, why: str = "") -> None:
        if ok:
            self.warnings.pop("CLEANUP_FAILURE", None)
            if plan.batch:
                done = set(plan.batch)
                self.pending_cleanup = [d for d in self.pending_cleanup if d not in done]
            else:
                self.initial_cleanup_done = True
            self.next_cleanup = None
            self._update_slow_cleanup(now)
            return
        what = "the node's initial cleanup" if not plan.batch else f"{len(plan.batch)} job execution(s)"
        raise_condition(
            self.warnings,
            "CLEANUP_FAILURE",
            "Cleanup Failure",
            f"There was a failure cleaning up {what}" + (f": {why}" if why else "."),
            now,
        )
        self.next_cleanup = now + CLEANUP_RETRY

    def timed_out(self, now: datetime, staging_timeout_s: float) -> list[str]:
        """Task ids past their limit; a health-check timeout raises HEALTH_TIMEOUT at once."""
        out = []
        for task_id, plan in self.running.items():
            started = self.started_at.get(task_id)
            launched = self.launched_at[task_id]
            if (started is None and (now - launched).total_seconds() > staging_timeout_s) or (
                started is not None and (now - started).total_seconds() > plan.timeout_s
            ):
                out.append(task_id)
                if plan.kind == TaskKind.HEALTH_CHECK:
                    for name in HEALTH_ERRORS:
                        self.errors.pop(name, None)
                    self._set_error("HEALTH_TIMEOUT", now)
        return out

    def status_tasks(self) -> list[dict[str, Any]]:
        counts: dict[TaskKind, int] = {}
        for plan in self.running.values():
            counts[plan.kind] = counts.get(plan.kind, 0) + 1
        return [
            {"type": kind.value, "title": TASK_TEXT[kind][0], "description": TASK_TEXT[kind][1], "count": n}
            for kind, n in sorted(counts.items())
        ]


def _why(update: TaskUpdate) -> str:
    """A failed node task's reason in one line: how it ended, and its last words."""
    how = f"exit code {update.exit_code}" if update.exit_code is not None else update.state.value.lower()
    return f"{how}: {update.stderr_tail}" if update.stderr_tail else how
