"""``/v6/jobs/``: the POST body, job summaries and details, executions."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictInt, StrictStr

from scale.api.deps import MAX_ID
from scale.api.schemas.common import UtcDateTime, WriteModel
from scale.domain.states import ErrorCategory, JobStatus
from scale.services.jobs import ExecutionView, JobDetailView, JobView
from scale.services.views import ErrorView, JobTypeView, NodeView


class JobInputIn(WriteModel):
    """Seed job data: ``json`` values by input name, ``files`` file ids by input name.

    ``version`` is accepted because Scale v6 clients send one with their data; it is not stored.
    """

    json_: dict[str, Any] = Field(default_factory=dict, alias="json")
    files: dict[str, list[StrictInt]] = Field(default_factory=dict)
    version: StrictStr | None = None

    def to_data(self) -> dict[str, Any]:
        return {"json": self.json_, "files": self.files}


class JobIn(WriteModel):
    """POST ``/v6/jobs/``. ``configuration`` is type-checked and not yet used."""

    job_type_id: StrictInt
    input: JobInputIn = Field(default_factory=JobInputIn)
    configuration: dict[str, Any] | None = None


#: An id to select by: inside the database's 64-bit keys, so a query can always hold it.
SelectedId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class JobSelectionIn(WriteModel):
    """POST ``/v6/jobs/cancel/`` and ``/v6/jobs/requeue/``: which jobs, by the job list's filters
    (Scale v6's body fields). Every filter given must hold; no filter means all.
    ``started``/``ended`` bound the job's last modification."""

    job_ids: list[SelectedId] = Field(default_factory=list)
    job_type_ids: list[SelectedId] = Field(default_factory=list)
    job_type_names: list[Annotated[StrictStr, Field(min_length=1, max_length=250)]] = Field(
        default_factory=list
    )
    status: list[JobStatus] = Field(default_factory=list)
    error_categories: list[ErrorCategory] = Field(default_factory=list)
    error_ids: list[SelectedId] = Field(default_factory=list)
    started: UtcDateTime | None = None
    ended: UtcDateTime | None = None


class JobRequeueIn(JobSelectionIn):
    priority: StrictInt | None = Field(default=None, ge=0, le=2**31 - 1)


class JobTypeRef(BaseModel):
    """The job type as job lists embed it: what Scale's UI reads there (the ``is_*`` flags mark a
    row, ``unmet_resources`` says why nothing of the type can run)."""

    id: int
    name: str
    version: str
    title: str | None
    description: str | None
    icon_code: str | None
    is_system: bool
    is_long_running: bool
    is_active: bool
    is_paused: bool
    is_published: bool
    revision_num: int
    unmet_resources: str | None

    @classmethod
    def from_row(cls, row: JobTypeView) -> JobTypeRef:
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            title=row.title,
            description=row.description,
            icon_code=row.icon_code,
            is_system=row.is_system,
            is_long_running=row.is_long_running,
            is_active=row.is_active,
            is_paused=row.is_paused,
            is_published=row.is_published,
            revision_num=row.revision_num,
            unmet_resources=row.unmet_resources,
        )


class EventOut(BaseModel):
    """What made the job. Scale recorded trigger events; here every job is made by a request to
    the API (type ``USER``, as Scale named those), so the event is the job's creation and has the
    job's id."""

    id: int
    type: str
    occurred: UtcDateTime


class JobTypeShortRef(BaseModel):
    id: int
    name: str
    version: str


class JobTypeRevRef(BaseModel):
    id: int
    revision_num: int


class NodeRef(BaseModel):
    id: int
    hostname: str

    @classmethod
    def from_row(cls, row: NodeView | None) -> NodeRef | None:
        return None if row is None else cls(id=row.id, hostname=row.hostname)


class ErrorRef(BaseModel):
    id: int
    name: str
    title: str | None
    description: str | None
    category: str

    @classmethod
    def from_row(cls, row: ErrorView | None) -> ErrorRef | None:
        if row is None:
            return None
        return cls(
            id=row.id, name=row.name, title=row.title, description=row.description, category=row.category
        )


class JobRef(BaseModel):
    id: int


class ResourcesOut(BaseModel):
    """Scale's resource wrapper: ``{"resources": {"cpus": .., "mem": .., "disk": .., "gpus": ..}}``."""

    resources: dict[str, float]


class ExecutionOut(BaseModel):
    id: int
    status: str
    exe_num: int
    cluster_id: str
    created: UtcDateTime
    queued: UtcDateTime
    started: UtcDateTime
    ended: UtcDateTime | None
    job: JobRef
    node: NodeRef | None
    error: ErrorRef | None
    job_type: JobTypeShortRef
    timeout: int
    exit_code: int | None
    #: Scale's names, which its UI reads: the exit code of the main task, and the last change.
    job_exit_code: int | None
    last_modified: UtcDateTime

    @staticmethod
    def _fields(view: ExecutionView) -> dict[str, Any]:
        exe, end = view.exe, view.end
        return {
            "job_exit_code": end.exit_code if end is not None else None,
            "last_modified": end.created if end is not None else exe.created,
            "id": exe.id,
            "status": view.status.value,
            "exe_num": exe.exe_num,
            "cluster_id": exe.cluster_id,
            "created": exe.created,
            "queued": exe.queued,
            "started": exe.started,
            "ended": end.ended if end is not None else None,
            "job": JobRef(id=exe.job_id),
            "node": NodeRef.from_row(view.node),
            "error": ErrorRef.from_row(view.error),
            "job_type": JobTypeShortRef(
                id=view.job_type.id, name=view.job_type.name, version=view.job_type.version
            ),
            "timeout": exe.timeout,
            "exit_code": end.exit_code if end is not None else None,
        }

    @classmethod
    def from_view(cls, view: ExecutionView) -> ExecutionOut:
        return cls(**cls._fields(view))


class ExecutionDetailOut(ExecutionOut):
    task_results: list[Any] | None
    resources: ResourcesOut

    @classmethod
    def from_view(cls, view: ExecutionView) -> ExecutionDetailOut:
        return cls(
            **cls._fields(view),
            task_results=view.end.task_results if view.end is not None else None,
            resources=ResourcesOut(resources=view.exe.resources),
        )


class JobOut(BaseModel):
    id: int
    job_type: JobTypeRef
    job_type_rev: JobTypeRevRef | None
    status: str
    node: NodeRef | None
    error: ErrorRef | None
    num_exes: int
    max_tries: int
    priority: int
    created: UtcDateTime
    queued: UtcDateTime | None
    started: UtcDateTime | None
    ended: UtcDateTime | None
    last_status_change: UtcDateTime | None
    last_modified: UtcDateTime
    event: EventOut
    execution: ExecutionOut | None
    #: Scale's recipe, batch and superseding fields: there are no recipes or batches here.
    recipe: None
    batch: None
    is_superseded: bool
    superseded_job: None
    input_file_size: float | None
    timeout: int

    @staticmethod
    def _fields(view: JobView) -> dict[str, Any]:
        job, rev = view.job, view.revision
        return {
            "timeout": job.timeout,
            "event": EventOut(id=job.id, type="USER", occurred=job.created),
            "execution": ExecutionOut.from_view(view.execution) if view.execution is not None else None,
            "recipe": None,
            "batch": None,
            "is_superseded": False,
            "superseded_job": None,
            "input_file_size": None,
            "id": job.id,
            "job_type": JobTypeRef.from_row(view.job_type),
            "job_type_rev": JobTypeRevRef(id=rev.id, revision_num=rev.revision_num) if rev else None,
            "status": job.status,
            "node": NodeRef.from_row(view.node),
            "error": ErrorRef.from_row(view.error),
            "num_exes": job.num_exes,
            "max_tries": job.max_tries,
            "priority": job.priority,
            "created": job.created,
            "queued": job.queued,
            "started": job.started,
            "ended": job.ended,
            "last_status_change": job.last_status_change,
            "last_modified": job.last_modified,
        }

    @classmethod
    def from_view(cls, view: JobView) -> JobOut:
        return cls(**cls._fields(view))


class DataValueOut(BaseModel):
    """One named input or output as Scale's job page lists them: ``property`` for a JSON value,
    ``files`` for file ids (files are not stored here, so a value is a list of ``{"id": ..}``).
    Data not in Seed's ``{json, files}`` form (an output's results) is all properties."""

    name: str
    type: str
    value: Any

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> list[DataValueOut]:
        seed_data = "json" in data or "files" in data
        named = (data.get("json") or {}) if seed_data else data
        values = [cls(name=str(k), type="property", value=v) for k, v in named.items()]
        files = (data.get("files") or {}) if seed_data else {}
        values += [cls(name=k, type="files", value=[{"id": i} for i in ids]) for k, ids in files.items()]
        return values


class JobDetailOut(JobOut):
    """A job with its resources, data, configuration, latest execution and, while queued, why it
    waits."""

    resources: ResourcesOut
    input: dict[str, Any]
    output: dict[str, Any] | None
    configuration: dict[str, Any]
    inputs: list[DataValueOut]
    outputs: list[DataValueOut]
    queue_reasons: dict[str, Any] | None

    @classmethod
    def from_detail(cls, detail: JobDetailView) -> JobDetailOut:
        job = detail.summary.job
        return cls(
            **cls._fields(detail.summary),
            resources=ResourcesOut(resources=job.resources),
            input=job.input,
            output=job.output,
            configuration=job_configuration(detail.summary),
            inputs=DataValueOut.from_data(job.input),
            outputs=DataValueOut.from_data(job.output or {}),
            queue_reasons=detail.queue_reasons,
        )


def job_configuration(view: JobView) -> dict[str, Any]:
    """Scale's ``JobConfigurationV6`` for the job: its job type's configuration with the job's own
    priority (the one it was queued with)."""
    stored = dict(view.job_type.configuration or {})
    return {
        "version": "6",
        "mounts": stored.get("mounts") or {},
        "output_workspaces": stored.get("output_workspaces") or {"default": None, "outputs": {}},
        "settings": stored.get("settings") or {},
        "priority": view.job.priority,
    }
