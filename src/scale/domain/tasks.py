"""The data that crosses the backend contract (DESIGN §4): agents, offers, tasks, task updates.

The contract is Mesos-shaped so the status fields keep their meaning: a backend announces
agents, offers capacity that is free for us, launches tasks against offers, and reports task
status updates. All of these are frozen values; the scheduler owns every mutable record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from scale.domain.resources import Resources
from scale.domain.states import TaskState


@dataclass(frozen=True, slots=True)
class Registration:
    """What ``register()`` answers: our framework id and the engine's master address, if any."""

    framework_id: str
    master_hostname: str | None = None
    master_port: int | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    """A machine (or virtual slice of one) that runs tasks. Identity for Scale is the hostname."""

    agent_id: str
    hostname: str
    total: Resources


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: str
    agent_id: str
    hostname: str
    resources: Resources
    received: datetime


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """Everything a backend needs to run one task.

    ``command`` is a shell command line (run with ``/bin/sh -c``); ``image`` is set only for the
    container runtime. ``stdout_path``/``stderr_path`` are where the backend writes output.
    """

    task_id: str
    agent_id: str
    resources: Resources
    command: str
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str = ""
    stdout_path: str = ""
    stderr_path: str = ""
    image: str | None = None


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    task_id: str
    agent_id: str
    state: TaskState
    timestamp: datetime
    exit_code: int | None = None
    message: str = ""
    #: for a task that failed: why, in one line (the OS error that kept it from starting, or the
    #: last line it wrote to stderr), as far as the backend can tell; "" otherwise
    stderr_tail: str = ""


@dataclass(frozen=True, slots=True)
class AgentUp:
    agent: Agent


@dataclass(frozen=True, slots=True)
class AgentLost:
    agent_id: str


@dataclass(frozen=True, slots=True)
class NewOffer:
    offer: Offer


@dataclass(frozen=True, slots=True)
class OfferRescinded:
    offer_id: str


@dataclass(frozen=True, slots=True)
class TaskStatus:
    update: TaskUpdate


BackendEvent = AgentUp | AgentLost | NewOffer | OfferRescinded | TaskStatus
