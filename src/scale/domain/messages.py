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

Plain data, no framework: the scheduler core (which may import only ``domain``) sends these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, Protocol, Self, TypeAlias, TypeGuard, TypeVar

from scale.domain.states import ErrorCategory, ExecutionStatus
from scale.exceptions import InvalidMessage

RUNNING_JOBS: Final = "running_jobs"
COMPLETED_JOBS: Final = "completed_jobs"
FAILED_JOBS: Final = "failed_jobs"
CREATE_JOB_EXE_ENDS: Final = "create_job_exe_ends"
RESTART_SCHEDULER: Final = "restart_scheduler"

_MISSING: Final = object()


def _kind(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class _Fields:
    """Reads one JSON object field by field, naming ``path.field`` in every problem.

    ``close`` refuses the fields nobody asked for: an unknown field is a sender the handler does
    not understand (a newer version, a typo), and applying the rest would silently drop it.
    """

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise InvalidMessage(f"{path or 'body'}: expected an object, got {_kind(value)}")
        self.value: dict[str, Any] = value
        self.path = path
        self.read: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> object:
        self.read.add(key)
        if key in self.value:
            return self.value[key]
        if required:
            raise InvalidMessage(f"{self._where(key)}: required")
        return _MISSING

    def id(self, key: str) -> int:
        """A required database id: an integer of at least 1 (never a boolean, a float, a string)."""
        value = self._get(key, required=True)
        if type(value) is not int or value < 1:
            raise InvalidMessage(f"{self._where(key)}: expected an id (an integer ≥ 1), got {value!r:.100}")
        return value

    def count(self, key: str) -> int:
        """A required count (an execution number): an integer of at least 0."""
        value = self._get(key, required=True)
        if type(value) is not int or value < 0:
            raise InvalidMessage(f"{self._where(key)}: expected an integer ≥ 0, got {value!r:.100}")
        return value

    def optional_id(self, key: str) -> int | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        return self.id(key)

    def optional_int(self, key: str) -> int | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        if type(value) is not int:
            raise InvalidMessage(f"{self._where(key)}: expected an integer or null, got {_kind(value)}")
        return value

    def optional_time(self, key: str) -> datetime | None:
        """An ISO 8601 time with its UTC offset, or null (absent: the handler uses its ``now``)."""
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str):
            raise InvalidMessage(f"{self._where(key)}: expected an ISO 8601 time, got {_kind(value)}")
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidMessage(f"{self._where(key)}: not an ISO 8601 time: {value[:100]!r}") from None
        if when.tzinfo is None:
            raise InvalidMessage(f"{self._where(key)}: an ISO 8601 time needs its UTC offset: {value!r}")
        return when

    def choice(self, key: str, allowed: Mapping[str, str]) -> str:
        value = self._get(key, required=True)
        if not isinstance(value, str) or value not in allowed:
            raise InvalidMessage(f"{self._where(key)}: expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def optional_choice(self, key: str, allowed: Mapping[str, str]) -> str | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        return self.choice(key, allowed)

    def optional_object(self, key: str) -> dict[str, Any] | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidMessage(f"{self._where(key)}: expected an object or null, got {_kind(value)}")
        return value

    def objects(self, key: str, *, required: bool = True) -> list[dict[str, Any]]:
        """A list of JSON objects whose keys are strings (kept as they are, e.g. task results)."""
        value = self._get(key, required=required)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            raise InvalidMessage(f"{self._where(key)}: expected an array, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise InvalidMessage(f"{self._where(key)}[{i}]: expected an object, got {_kind(item)}")
        return value

    def entries(self, key: str, entry: type[_E]) -> tuple[_E, ...]:
        """A required array of entries, each read by ``entry.parse``."""
        value = self._get(key, required=True)
        if not isinstance(value, list):
            raise InvalidMessage(f"{self._where(key)}: expected an array, got {_kind(value)}")
        where = self._where(key)
        return tuple(entry.parse(item, where, i) for i, item in enumerate(value))

    def close(self) -> None:
        unknown = sorted(set(self.value) - self.read)
        if unknown:
            names = ", ".join(repr(k) for k in unknown[:5])
            raise InvalidMessage(
                f"{self.path or 'body'}: unknown field{'s' if len(unknown) > 1 else ''} {names}"
            )


class _Entry(Protocol):
    """An entry of a message's array. ``parse`` is the fast path over well-formed JSON (a
    scheduling pass sends ~1,000 entries per message); anything it does not accept goes to
    ``read``, which says precisely what is wrong (or accepts it: ``read`` is the rule)."""

    @classmethod
    def parse(cls, value: object, where: str, index: int) -> Self: ...


_E = TypeVar("_E", bound=_Entry)


class _Slow(Exception):
    """The fast path gives up: the strict reader decides (and names the problem)."""


def _quick_time(value: object) -> datetime | None:
    """``optional_time``'s rule on the fast path; raises ``_Slow`` for anything else."""
    if value is None:
        return None
    if type(value) is str:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise _Slow from None
        if when.tzinfo is not None:
            return when
    raise _Slow


def _is_id(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 1


def _is_optional_id(value: object) -> TypeGuard[int | None]:
    return value is None or (type(value) is int and value >= 1)


def _is_count(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 0


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
    def read(cls, f: _Fields) -> RunningJob:
        entry = cls(f.id("job_id"), f.count("exe_num"), f.optional_id("node_id"), f.optional_time("started"))
        f.close()
        return entry

    @classmethod
    def parse(cls, value: object, where: str, index: int) -> RunningJob:
        try:
            if type(value) is dict and value.keys() <= _RUNNING_KEYS:
                job_id, exe_num, node_id = value.get("job_id"), value.get("exe_num"), value.get("node_id")
                if _is_id(job_id) and _is_count(exe_num) and _is_optional_id(node_id):
                    return cls(job_id, exe_num, node_id, _quick_time(value.get("started")))
        except _Slow:
            pass
        return cls.read(_Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class RunningJobs:
    """Jobs whose execution started: QUEUED → RUNNING."""

    TYPE: ClassVar[str] = RUNNING_JOBS
    jobs: tuple[RunningJob, ...]

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [e.to_json() for e in self.jobs]}

    @classmethod
    def read(cls, f: _Fields) -> RunningJobs:
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
    def read(cls, f: _Fields) -> CompletedJob:
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
                    _is_id(job_id)
                    and _is_count(exe_num)
                    and _is_optional_id(node_id)
                    and (output is None or type(output) is dict)
                ):
                    ended = _quick_time(value.get("ended"))
                    return cls(job_id, exe_num, node_id, ended, output)
        except _Slow:
            pass
        return cls.read(_Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class CompletedJobs:
    """Jobs whose execution completed: QUEUED or RUNNING → COMPLETED."""

    TYPE: ClassVar[str] = COMPLETED_JOBS
    jobs: tuple[CompletedJob, ...]

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [e.to_json() for e in self.jobs]}

    @classmethod
    def read(cls, f: _Fields) -> CompletedJobs:
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
    def read(cls, f: _Fields) -> FailedJob:
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
                    _is_id(job_id)
                    and _is_count(exe_num)
                    and _is_optional_id(node_id)
                    and _is_optional_id(error_id)
                ):
                    ended = _quick_time(value.get("ended"))
                    return cls(job_id, exe_num, node_id, ended, error_id)
        except _Slow:
            pass
        return cls.read(_Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class FailedJobs:
    """Jobs whose execution failed: requeued when the error allows a retry, else FAILED."""

    TYPE: ClassVar[str] = FAILED_JOBS
    jobs: tuple[FailedJob, ...]

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [e.to_json() for e in self.jobs]}

    @classmethod
    def read(cls, f: _Fields) -> FailedJobs:
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
    def read(cls, f: _Fields) -> JobExeEnd:
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
                    _is_id(job_exe_id)
                    and _is_id(job_id)
                    and _is_id(job_type_id)
                    and _is_count(exe_num)
                    and type(status) is str
                    and status in _EXECUTION_STATUSES
                    and _is_optional_id(node_id)
                    and _is_optional_id(error_id)
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
                        _quick_time(g("started")),
                        _quick_time(g("ended")),
                    )
        except _Slow:
            pass
        return cls.read(_Fields(value, f"{where}[{index}]"))


@dataclass(frozen=True, slots=True)
class CreateJobExeEnds:
    """Execution ends to record (idempotent: one row per execution)."""

    TYPE: ClassVar[str] = CREATE_JOB_EXE_ENDS
    exe_ends: tuple[JobExeEnd, ...]

    def to_json(self) -> dict[str, Any]:
        return {"exe_ends": [e.to_json() for e in self.exe_ends]}

    @classmethod
    def read(cls, f: _Fields) -> CreateJobExeEnds:
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
    def read(cls, f: _Fields) -> RestartScheduler:
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


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str) -> object:
    """The JSON value of a body, strictly (UTF-8 only, NaN and Infinity refused);
    ``InvalidMessage`` if it has none."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")  # json.loads would guess UTF-16 and UTF-32 from the bytes
        except UnicodeDecodeError as exc:
            raise InvalidMessage(f"body: not UTF-8: {exc}") from None
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError, and NaN or Infinity
        raise InvalidMessage(f"body: not JSON: {exc}") from None
    except RecursionError:
        raise InvalidMessage("body: not JSON: nested too deeply") from None


def from_json(type_: object, body: object) -> CommandMessage:
    """The message of this type with this (already parsed) JSON body, validated strictly."""
    cls = MESSAGE_CLASSES.get(type_) if isinstance(type_, str) else None
    if cls is None:
        raise InvalidMessage(f"type: unknown message type {str(type_)[:100]!r}")
    reader = _Fields(body, "")
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
