"""Command messages (DESIGN §10): one frozen dataclass per message type, and the only place
their wire form is written and read.

Every sender builds these (the scheduler, its store, the handlers' follow-ups) and every
handler receives one, so a sender and its handler cannot disagree on a field without the type
checker or ``decode`` saying so. The wire form is a JSON object per type (``to_json``);
``decode`` reads it back strictly: a body that is not JSON, not an object, has a field missing,
an unknown field, or a field of the wrong type raises ``InvalidMessage`` naming the field and
the reason. Messages come from outside the process (a broker anyone with credentials can
publish to, a table anyone with the database can write), so a wrong shape must end as a dead
letter with its reason, never as a silent no-op or a handler crash (issue 14, case 4).

Each message carries a tuple of entries so one message moves a whole scheduling pass's worth of
changes. Handlers must be idempotent and order-independent: delivery is at least once, and a
``completed_jobs`` may arrive before the ``running_jobs`` of the same execution.

Plain data, no framework: the scheduler core (which may import only ``domain``) sends these;
the strict field reader is ``domain.json_fields``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, TypeAlias

from scale.domain.json_fields import Fields, Slow, is_count, is_id, is_optional_id, parse_json, quick_time
from scale.domain.states import ErrorCategory, ExecutionStatus
from scale.exceptions import InvalidMessage

RUNNING_JOBS: Final = "running_jobs"
COMPLETED_JOBS: Final = "completed_jobs"
FAILED_JOBS: Final = "failed_jobs"
CREATE_JOB_EXE_ENDS: Final = "create_job_exe_ends"
RESTART_SCHEDULER: Final = "restart_scheduler"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_EXECUTION_STATUSES: Final = {s.value: s.value for s in ExecutionStatus}
_ERROR_CATEGORIES: Final = {c.value: c.value for c in ErrorCategory}


# ---------------------------------------------------------------------------- running_jobs


@dataclass(frozen=True, slots=True)
class RunningJob:
    """Execution ``exe_num`` of the job started on ``node_id`` at ``started`` (None: when applied)."""

    job_id: int
    exe_num: int
    node_id: int | None = None
    started: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "exe_num": self.exe_num,
            "node_id": self.node_id,
            "started": _time(self.started),
        }

    @classmethod
    def read(cls, f: Fields) -> RunningJob:
        entry = cls(f.id("job_id"), f.count("exe_num"), f.optional_id("node_id"), f.optional_time("started"))
        f.close()
        return entry

    @classmethod
    def parse(cls, value: object, where: str, index: int) -> RunningJob:
        try:
            if type(value) is dict and value.keys() <= _RUNNING_KEYS:
                job_id, exe_num, node_id = value.get("job_id"), value.get("exe_num"), value.get("node_id")
                if is_id(job_id) and is_count(exe_num) and is_optional_id(node_id):
                    return cls(job_id, exe_num, node_id, quick_time(value.get("started")))
        except Slow:
            pass
        return cls.read(Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class RunningJobs:
    """Jobs whose execution started: QUEUED → RUNNING."""

    TYPE: ClassVar[str] = RUNNING_JOBS
    jobs: tuple[RunningJob, ...]

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [e.to_json() for e in self.jobs]}

    @classmethod
    def read(cls, f: Fields) -> RunningJobs:
        return cls(f.entries("jobs", RunningJob))


# ---------------------------------------------------------------------------- completed_jobs


@dataclass(frozen=True, slots=True)
class CompletedJob:
    """Execution ``exe_num`` of the job ended successfully (``ended`` None: when applied)."""

    job_id: int
    exe_num: int
    node_id: int | None = None
    ended: datetime | None = None
    output: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "job_id": self.job_id,
            "exe_num": self.exe_num,
            "node_id": self.node_id,
            "ended": _time(self.ended),
        }
        if self.output is not None:
            body["output"] = self.output
        return body

    @classmethod
    def read(cls, f: Fields) -> CompletedJob:
        entry = cls(
            f.id("job_id"),
            f.count("exe_num"),
            f.optional_id("node_id"),
            f.optional_time("ended"),
            f.optional_object("output"),
        )
        f.close()
        return entry

    @classmethod
    def parse(cls, value: object, where: str, index: int) -> CompletedJob:
        try:
            if type(value) is dict and value.keys() <= _COMPLETED_KEYS:
                job_id, exe_num, node_id = value.get("job_id"), value.get("exe_num"), value.get("node_id")
                output = value.get("output")
                if (
                    is_id(job_id)
                    and is_count(exe_num)
                    and is_optional_id(node_id)
                    and (output is None or type(output) is dict)
                ):
                    ended = quick_time(value.get("ended"))
                    return cls(job_id, exe_num, node_id, ended, output)
        except Slow:
            pass
        return cls.read(Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class CompletedJobs:
    """Jobs whose execution completed: QUEUED or RUNNING → COMPLETED."""

    TYPE: ClassVar[str] = COMPLETED_JOBS
    jobs: tuple[CompletedJob, ...]

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [e.to_json() for e in self.jobs]}

    @classmethod
    def read(cls, f: Fields) -> CompletedJobs:
        return cls(f.entries("jobs", CompletedJob))


# ---------------------------------------------------------------------------- failed_jobs


@dataclass(frozen=True, slots=True)
class FailedJob:
    """Execution ``exe_num`` of the job failed with ``error_id`` (None: no error known)."""

    job_id: int
    exe_num: int
    node_id: int | None = None
    ended: datetime | None = None
    error_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "exe_num": self.exe_num,
            "node_id": self.node_id,
            "ended": _time(self.ended),
            "error_id": self.error_id,
        }

    @classmethod
    def read(cls, f: Fields) -> FailedJob:
        entry = cls(
            f.id("job_id"),
            f.count("exe_num"),
            f.optional_id("node_id"),
            f.optional_time("ended"),
            f.optional_id("error_id"),
        )
        f.close()
        return entry

    @classmethod
    def parse(cls, value: object, where: str, index: int) -> FailedJob:
        try:
            if type(value) is dict and value.keys() <= _FAILED_KEYS:
                job_id, exe_num, node_id = value.get("job_id"), value.get("exe_num"), value.get("node_id")
                error_id = value.get("error_id")
                if (
                    is_id(job_id)
                    and is_count(exe_num)
                    and is_optional_id(node_id)
                    and is_optional_id(error_id)
                ):
                    ended = quick_time(value.get("ended"))
                    return cls(job_id, exe_num, node_id, ended, error_id)
        except Slow:
            pass
        return cls.read(Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class FailedJobs:
    """Jobs whose execution failed: requeued when the error allows a retry, else FAILED."""

    TYPE: ClassVar[str] = FAILED_JOBS
    jobs: tuple[FailedJob, ...]

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [e.to_json() for e in self.jobs]}

    @classmethod
    def read(cls, f: Fields) -> FailedJobs:
        return cls(f.entries("jobs", FailedJob))


# ---------------------------------------------------------------------------- create_job_exe_ends


@dataclass(frozen=True, slots=True)
class JobExeEnd:
    """The record of an ended execution (``job_exe_end``); ``status`` is an ``ExecutionStatus``
    value, ``error_category`` an ``ErrorCategory`` value."""

    job_exe_id: int
    job_id: int
    exe_num: int
    job_type_id: int
    status: str
    node_id: int | None = None
    error_id: int | None = None
    error_category: str | None = None
    exit_code: int | None = None
    task_results: tuple[dict[str, Any], ...] = field(default=())
    started: datetime | None = None
    ended: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_exe_id": self.job_exe_id,
            "job_id": self.job_id,
            "exe_num": self.exe_num,
            "job_type_id": self.job_type_id,
            "node_id": self.node_id,
            "status": self.status,
            "error_id": self.error_id,
            "error_category": self.error_category,
            "exit_code": self.exit_code,
            "task_results": list(self.task_results),
            "started": _time(self.started),
            "ended": _time(self.ended),
        }

    @classmethod
    def read(cls, f: Fields) -> JobExeEnd:
        entry = cls(
            job_exe_id=f.id("job_exe_id"),
            job_id=f.id("job_id"),
            exe_num=f.count("exe_num"),
            job_type_id=f.id("job_type_id"),
            status=f.choice("status", _EXECUTION_STATUSES),
            node_id=f.optional_id("node_id"),
            error_id=f.optional_id("error_id"),
            error_category=f.optional_choice("error_category", _ERROR_CATEGORIES),
            exit_code=f.optional_int("exit_code"),
            task_results=tuple(f.objects("task_results", required=False)),
            started=f.optional_time("started"),
            ended=f.optional_time("ended"),
        )
        f.close()
        return entry

    @classmethod
    def parse(cls, value: object, where: str, index: int) -> JobExeEnd:
        try:
            if type(value) is dict and value.keys() <= _EXE_END_KEYS:
                g = value.get
                job_exe_id, job_id, job_type_id = g("job_exe_id"), g("job_id"), g("job_type_id")
                exe_num, status, node_id, error_id = g("exe_num"), g("status"), g("node_id"), g("error_id")
                category, exit_code, results = g("error_category"), g("exit_code"), g("task_results", [])
                if (
                    is_id(job_exe_id)
                    and is_id(job_id)
                    and is_id(job_type_id)
                    and is_count(exe_num)
                    and type(status) is str
                    and status in _EXECUTION_STATUSES
                    and is_optional_id(node_id)
                    and is_optional_id(error_id)
                    and (category is None or (type(category) is str and category in _ERROR_CATEGORIES))
                    and (exit_code is None or type(exit_code) is int)
                    and type(results) is list
                    and all(type(r) is dict for r in results)
                ):
                    return cls(
                        job_exe_id,
                        job_id,
                        exe_num,
                        job_type_id,
                        status,
                        node_id,
                        error_id,
                        category,
                        exit_code,
                        tuple(results),
                        quick_time(g("started")),
                        quick_time(g("ended")),
                    )
        except Slow:
            pass
        return cls.read(Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class CreateJobExeEnds:
    """Execution ends to record (idempotent: one row per execution)."""

    TYPE: ClassVar[str] = CREATE_JOB_EXE_ENDS
    exe_ends: tuple[JobExeEnd, ...]

    def to_json(self) -> dict[str, Any]:
        return {"exe_ends": [e.to_json() for e in self.exe_ends]}

    @classmethod
    def read(cls, f: Fields) -> CreateJobExeEnds:
        return cls(f.entries("exe_ends", JobExeEnd))


# ---------------------------------------------------------------------------- restart_scheduler


@dataclass(frozen=True, slots=True)
class RestartScheduler:
    """A scheduler started at ``when`` (a marker: see ``services.handlers``)."""

    TYPE: ClassVar[str] = RESTART_SCHEDULER
    when: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {} if self.when is None else {"when": self.when.isoformat()}

    @classmethod
    def read(cls, f: Fields) -> RestartScheduler:
        return cls(f.optional_time("when"))


_RUNNING_KEYS: Final = frozenset({"job_id", "exe_num", "node_id", "started"})
_COMPLETED_KEYS: Final = frozenset({"job_id", "exe_num", "node_id", "ended", "output"})
_FAILED_KEYS: Final = frozenset({"job_id", "exe_num", "node_id", "ended", "error_id"})
_EXE_END_KEYS: Final = frozenset(
    {
        "job_exe_id",
        "job_id",
        "exe_num",
        "job_type_id",
        "node_id",
        "status",
        "error_id",
        "error_category",
        "exit_code",
        "task_results",
        "started",
        "ended",
    }
)

# ---------------------------------------------------------------------------- wire form

CommandMessage: TypeAlias = RunningJobs | CompletedJobs | FailedJobs | CreateJobExeEnds | RestartScheduler

MESSAGE_CLASSES: Final[dict[str, type[CommandMessage]]] = {
    cls.TYPE: cls for cls in (RunningJobs, CompletedJobs, FailedJobs, CreateJobExeEnds, RestartScheduler)
}
MESSAGE_TYPES: Final = frozenset(MESSAGE_CLASSES)


def encode(message: CommandMessage) -> tuple[str, dict[str, Any]]:
    """``(type, body)``: what a transport stores or publishes for the message."""
    return message.TYPE, message.to_json()


def from_json(type_: object, body: object) -> CommandMessage:
    """The message of this type with this (already parsed) JSON body, validated strictly."""
    cls = MESSAGE_CLASSES.get(type_) if isinstance(type_, str) else None
    if cls is None:
        raise InvalidMessage(f"type: unknown message type {str(type_)[:100]!r}")
    reader = Fields(body, "")
    message = cls.read(reader)
    reader.close()
    return message


def decode(type_: object, raw: bytes | str) -> CommandMessage:
    """The message of this type whose body is ``raw`` (JSON text), validated strictly.

    Raises ``InvalidMessage`` naming the field and the reason for anything else; nothing a
    sender can put in a message makes this raise another exception.
    """
    return from_json(type_, parse_json(raw))


# ---------------------------------------------------------------------------- a pass's ends


@dataclass
class EndsOutbox:
    """What the scheduler collects between messaging ticks: execution ends, completed and failed
    jobs, sent as (at most) one message of each type, ends first."""

    exe_ends: list[JobExeEnd] = field(default_factory=list)
    completed: list[CompletedJob] = field(default_factory=list)
    failed: list[FailedJob] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.exe_ends) + len(self.completed) + len(self.failed)

    def take(self) -> list[CommandMessage]:
        """The messages for what was collected, and an empty outbox."""
        messages: list[CommandMessage] = []
        if self.exe_ends:
            messages.append(CreateJobExeEnds(tuple(self.exe_ends)))
        if self.completed:
            messages.append(CompletedJobs(tuple(self.completed)))
        if self.failed:
            messages.append(FailedJobs(tuple(self.failed)))
        self.exe_ends, self.completed, self.failed = [], [], []
        return messages
