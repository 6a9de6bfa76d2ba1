"""System tasks: the scheduler's own helpers, run on nodes like any task (DESIGN §8, §10).

Two kinds, as in the original (scale-behaviour §2.6, §4.10):

- ``message-handler``: ``scale message-handler`` processes, as many as the runtime setting
  ``num_message_handlers`` asks for. Extras are killed when the setting drops; a handler that
  ends for any reason is replaced on the next pass.
- ``db-update``: ``scale db-update``, once per scheduler start; FINISHED marks the database
  update completed (``system.database_update``); FAILED is retried after two minutes.

A system task that fails again and again is relaunched with an exponential backoff and shows
as a scheduler warning (``crash_loops``): a handler that exits at start would otherwise be
launched twice a second for ever. Each takes 0.5 CPU and 512 MiB and is placed only on READY
nodes. This module only keeps the books (what should run, what runs where); the scheduler
places and launches. Pure and clock-free: every method takes ``now``.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import TaskUpdate
from scale.scheduler.crash_loops import STABLE_AFTER, CrashLoops, CrashWarning

SYSTEM_TASK_RESOURCES = Resources(cpus=0.5, mem=512.0)
#: A failed database update is tried again after this long.
DB_UPDATE_RETRY = timedelta(minutes=2)


class SystemTaskKind(StrEnum):
    MESSAGE_HANDLER = "message-handler"
    DB_UPDATE = "db-update"


_INFO: Mapping[SystemTaskKind, tuple[str, str, str]] = {
    SystemTaskKind.MESSAGE_HANDLER: (
        "Message Handler",
        "Processes messages from Scale's backend messaging system",
        "message-handler",
    ),
    SystemTaskKind.DB_UPDATE: (
        "Database Update",
        "Updates the Scale database to the current version",
        "db-update",
    ),
}
_ENDED = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED, TaskState.LOST})


@dataclass
class SystemTask:
    task_id: str
    kind: SystemTaskKind
    agent_id: str
    launched: datetime
    started: datetime | None = None
    kill_requested: bool = False


@dataclass
class SystemTasks:
    """The books of the system tasks: what runs where, what is missing, what is extra."""

    framework_id: str
    desired_handlers: int = 1
    run_db_update: bool = True
    db_update_completed: datetime | None = None
    db_update_failed: datetime | None = None
    tasks: dict[str, SystemTask] = field(default_factory=dict)
    #: failures in a row per kind, and the backoff before the next launch
    crashes: CrashLoops = field(default_factory=CrashLoops)
    _counter: int = 0

    # -- what to do ------------------------------------------------------------------------------

    def missing(self, now: datetime) -> list[SystemTaskKind]:
        """The tasks that should be placed now, db-update first (it is cheap and short)."""
        wanted: list[SystemTaskKind] = []
        if (
            self.run_db_update
            and self.db_update_completed is None
            and not self._count(SystemTaskKind.DB_UPDATE)
        ) and (self.db_update_failed is None or now - self.db_update_failed >= DB_UPDATE_RETRY):
            wanted.append(SystemTaskKind.DB_UPDATE)
        handler = SystemTaskKind.MESSAGE_HANDLER
        self._note_stable_handlers(now)
        if not self.crashes.may_launch(handler, now):
            return wanted
        live_handlers = sum(1 for t in self._of(handler) if not t.kill_requested)
        wanted.extend([SystemTaskKind.MESSAGE_HANDLER] * max(0, self.desired_handlers - live_handlers))
        return wanted

    def extras(self) -> list[str]:
        """Handler tasks beyond the desired count, newest first, not yet asked to stop."""
        live = [t for t in self._of(SystemTaskKind.MESSAGE_HANDLER) if not t.kill_requested]
        surplus = len(live) - self.desired_handlers
        if surplus <= 0:
            return []
        live.sort(key=lambda t: (t.launched, t.task_id), reverse=True)
        chosen = live[:surplus]
        for task in chosen:
            task.kill_requested = True
        return [t.task_id for t in chosen]

    def timed_out(self, now: datetime, staging_timeout_s: float) -> list[str]:
        """Tasks launched that have not started within the staging timeout (no running timeout)."""
        limit = timedelta(seconds=staging_timeout_s)
        return [
            t.task_id
            for t in self.tasks.values()
            if t.started is None and not t.kill_requested and now - t.launched > limit
        ]

    # -- what happened ---------------------------------------------------------------------------

    def launched(self, kind: SystemTaskKind, agent_id: str, now: datetime) -> str:
        self._counter += 1
        task_id = f"scale_{kind.value.replace('-', '_')}_{self.framework_id}_{self._counter}"
        self.tasks[task_id] = SystemTask(task_id, kind, agent_id, now)
        return task_id

    def adopt(self, task_id: str, agent_id: str, now: datetime) -> bool:
        """Keep a message handler an earlier scheduler started (it is still running). Only
        handlers: a leftover database update is stopped and run again by this scheduler."""
        if not task_id.startswith("scale_message_handler_"):
            return False
        self.tasks[task_id] = SystemTask(task_id, SystemTaskKind.MESSAGE_HANDLER, agent_id, now, started=now)
        return True

    def owns(self, task_id: str) -> bool:
        return task_id in self.tasks

    def on_update(self, update: TaskUpdate, now: datetime, hostname: str = "") -> None:
        """Track a task's state; an end that was not asked for counts as a failure in a row
        (``hostname``: the node it ran on, for the warning)."""
        task = self.tasks.get(update.task_id)
        if task is None:
            return
        if update.state == TaskState.RUNNING:
            task.started = task.started or update.timestamp
            return
        if update.state not in _ENDED:
            return
        del self.tasks[update.task_id]
        if task.kind == SystemTaskKind.DB_UPDATE:
            if update.state == TaskState.FINISHED:
                self.db_update_completed = update.timestamp
                self.crashes.succeeded(task.kind)
            elif update.state == TaskState.FAILED:
                self.db_update_failed = now
                self.crashes.failed(task.kind, hostname or task.agent_id, update.stderr_tail, now)
            return
        if task.kill_requested or update.state in (TaskState.KILLED, TaskState.LOST):
            return  # stopped on purpose, or its node went: not the handler's failure
        if task.started is not None and now - task.started >= STABLE_AFTER:
            self.crashes.succeeded(task.kind)  # it ran well for a while: a new count starts
        self.crashes.failed(task.kind, hostname or task.agent_id, update.stderr_tail, now)

    def _note_stable_handlers(self, now: datetime) -> None:
        """A handler that has stayed up for ``STABLE_AFTER`` ends its kind's crash loop."""
        if self.crashes.get(SystemTaskKind.MESSAGE_HANDLER) is None:
            return
        for task in self._of(SystemTaskKind.MESSAGE_HANDLER):
            if task.started is not None and not task.kill_requested and now - task.started >= STABLE_AFTER:
                self.crashes.succeeded(SystemTaskKind.MESSAGE_HANDLER)
                return

    def crash_warnings(self) -> list[CrashWarning]:
        """Scheduler warnings for the kinds failing again and again."""
        return self.crashes.warnings({kind.value: info[0] for kind, info in _INFO.items()})

    def on_agent_lost(self, agent_id: str) -> None:
        """The tasks of a lost node are gone; the next pass places new ones elsewhere."""
        for task_id in [t.task_id for t in self.tasks.values() if t.agent_id == agent_id]:
            del self.tasks[task_id]

    # -- what to show ----------------------------------------------------------------------------

    def running_handlers(self) -> int:
        """Handlers that have started and were not asked to stop: the service's actual count."""
        return sum(
            1
            for t in self._of(SystemTaskKind.MESSAGE_HANDLER)
            if t.started is not None and not t.kill_requested
        )

    def count_on(self, agent_id: str) -> int:
        return sum(1 for t in self.tasks.values() if t.agent_id == agent_id)

    def status_tasks(self, agent_id: str) -> list[dict[str, Any]]:
        """``nodes[].system_tasks``: the node's system tasks grouped by type."""
        counts = Counter(t.kind for t in self.tasks.values() if t.agent_id == agent_id)
        return [
            {"type": kind.value, "title": _INFO[kind][0], "description": _INFO[kind][1], "count": n}
            for kind, n in sorted(counts.items())
        ]

    @staticmethod
    def command(kind: SystemTaskKind, python: str) -> str:
        return f"{shlex.quote(python)} -m scale {_INFO[kind][2]}"

    def _of(self, kind: SystemTaskKind) -> Iterator[SystemTask]:
        return (t for t in self.tasks.values() if t.kind == kind)

    def _count(self, kind: SystemTaskKind) -> int:
        return sum(1 for _ in self._of(kind))
