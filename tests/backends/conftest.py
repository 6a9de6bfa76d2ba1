"""Shared helpers for backend tests: an event recorder that plays the scheduler, and process probes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from scale.backends.hostinfo import HostTotals
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import (
    AgentLost,
    AgentUp,
    BackendEvent,
    NewOffer,
    Offer,
    OfferRescinded,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)
from scale.scheduler.ports import Backend
from tests.util import wait_until


class Recorder:
    """Plays the scheduler's part: polls, keeps every event, and holds the offers it was given."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.events: list[BackendEvent] = []
        self.held: dict[str, Offer] = {}

    def poll(self) -> list[BackendEvent]:
        new = self.backend.poll()
        self.events.extend(new)
        for event in new:
            if isinstance(event, NewOffer):
                self.held[event.offer.offer_id] = event.offer
            elif isinstance(event, OfferRescinded):
                self.held.pop(event.offer_id, None)
        return new

    def updates(self, task_id: str | None = None) -> list[TaskUpdate]:
        return [
            e.update
            for e in self.events
            if isinstance(e, TaskStatus) and (task_id is None or e.update.task_id == task_id)
        ]

    def states(self, task_id: str) -> list[TaskState]:
        return [u.state for u in self.updates(task_id)]

    def held_for(self, agent_id: str) -> list[Offer]:
        return [o for o in self.held.values() if o.agent_id == agent_id]

    def held_sum(self, agent_id: str) -> Resources:
        acc = Resources()
        for offer in self.held_for(agent_id):
            acc = acc + offer.resources
        return acc

    def launch(self, tasks: Sequence[TaskSpec], agent_id: str | None = None) -> list[str]:
        """Launch on every held offer of the tasks' agent, as a best-fit scheduler would."""
        agent = agent_id or tasks[0].agent_id
        offer_ids = [o.offer_id for o in self.held_for(agent)]
        for offer_id in offer_ids:
            del self.held[offer_id]
        self.backend.launch(offer_ids, tasks)
        return offer_ids

    def decline_all(self) -> None:
        ids = list(self.held)
        self.held.clear()
        self.backend.decline(ids)

    def find(self, task_id: str, state: TaskState) -> TaskUpdate | None:
        return next((u for u in self.updates(task_id) if u.state == state), None)

    def wait_for(self, task_id: str, state: TaskState, timeout: float = 10.0) -> TaskUpdate:
        """Poll until the task has reported ``state``; fail after ``timeout`` seconds."""

        def reported() -> TaskUpdate | None:
            self.poll()
            return self.find(task_id, state)

        update = wait_until(reported, timeout=timeout, interval=0.02, what=f"{task_id} to be {state}")
        assert update is not None
        return update

    def agent_events(self) -> list[BackendEvent]:
        return [e for e in self.events if isinstance(e, AgentUp | AgentLost)]


def spec(
    task_id: str,
    agent_id: str,
    command: str = "true",
    *,
    cpus: float = 1.0,
    mem: float = 64.0,
    disk: float = 0.0,
    gpus: float = 0.0,
    env: dict[str, str] | None = None,
    workdir: str = "",
    stdout_path: str = "",
    stderr_path: str = "",
) -> TaskSpec:
    return TaskSpec(
        task_id=task_id,
        agent_id=agent_id,
        resources=Resources(cpus, mem, disk, gpus),
        command=command,
        env=env or {},
        workdir=workdir,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
    )


def _proc_state(pid: int) -> str | None:
    """The one-letter state of a process from /proc, or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def pid_dead(pid: int) -> bool:
    """True when the process is gone or a zombie.

    Some containers run a PID 1 that never reaps orphans, so a killed grandchild can linger as
    a zombie forever; it is dead all the same.
    """
    return _proc_state(pid) in (None, "Z")


def children_of(pid: int) -> list[int]:
    """Pids (zombies included) whose parent is ``pid``."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def read_int(path: Path, timeout: float = 10.0) -> int:
    """Wait for a task to write a pid into ``path`` and return it."""
    text = wait_until(
        lambda: path.read_text().strip() if path.exists() else "", timeout=timeout, what=f"{path}"
    )
    return int(text)


@pytest.fixture
def fake_host() -> HostTotals:
    """A host declared by hand: 4 cpus, 8 GiB, ~98 GiB disk, 2 GPUs, some used by others."""
    return HostTotals(
        cpus=4.0,
        mem_mib=8192.0,
        disk_mib=100_000.0,
        gpus=(0, 1),
        mem_used_by_others_mib=1024.0,
        disk_used_by_others_mib=20_000.0,
    )


@pytest.fixture
def no_orphans() -> Iterator[None]:
    """Fail a test that leaves a child process of the test runner behind."""
    before = set(children_of(os.getpid()))
    yield
    left = [pid for pid in children_of(os.getpid()) if pid not in before]
    assert not left, f"child processes left behind: {left}"
