"""``/v6/job-types/``: the POST body (create-or-edit, and validation) and the list/detail shapes."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, StrictBool, StrictInt, StrictStr

from scale.api.schemas.common import UtcDateTime, WriteModel
from scale.exceptions import FieldProblem
from scale.services.job_types import JobTypePatch, JobTypeSpec, Validation
from scale.services.views import JobTypeRevisionView, JobTypeView


class JobConfigurationIn(WriteModel):
    """Scale's ``JobConfigurationV6``. ``priority``: lower runs first; 100 when absent."""

    priority: StrictInt | None = None
    settings: dict[str, Any] | None = None
    mounts: dict[str, Any] | None = None
    output_workspaces: dict[str, Any] | None = None


class JobTypeIn(WriteModel):
    """POST ``/v6/job-types/``. ``docker_image`` is required but may be ``""`` (process runtime).

    ``auto_update`` is accepted for Scale clients and ignored (there are no recipes to update).
    """

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"icon_code", "max_scheduled"})

    docker_image: StrictStr
    manifest: dict[str, Any]
    configuration: JobConfigurationIn | None = None
    icon_code: StrictStr | None = None
    is_published: StrictBool | None = None
    is_active: StrictBool | None = None
    is_paused: StrictBool | None = None
    max_scheduled: StrictInt | None = None
    max_tries: StrictInt | None = None
    auto_update: StrictBool | None = None

    def to_spec(self) -> JobTypeSpec:
        configuration = (
            self.configuration.model_dump(exclude_unset=True) if self.configuration is not None else None
        )
        return JobTypeSpec(
            docker_image=self.docker_image,
            manifest=self.manifest,
            configuration=configuration,
            icon_code=self.icon_code,
            is_published=self.is_published,
            is_active=self.is_active,
            is_paused=self.is_paused,
            max_scheduled=self.max_scheduled,
            max_tries=self.max_tries,
            given=frozenset(self.model_fields_set),
        )


class JobTypePatchIn(WriteModel):
    """PATCH ``/v6/job-types/{name}/{version}/``: any subset of the editable fields.

    A ``manifest`` must keep the job type's name and version. ``auto_update`` is accepted and ignored.
    """

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"icon_code", "max_scheduled"})

    icon_code: StrictStr | None = None
    is_published: StrictBool | None = None
    is_active: StrictBool | None = None
    is_paused: StrictBool | None = None
    max_scheduled: StrictInt | None = None
    max_tries: StrictInt | None = None
    configuration: JobConfigurationIn | None = None
    manifest: dict[str, Any] | None = None
    docker_image: StrictStr | None = None
    auto_update: StrictBool | None = None

    def to_patch(self) -> JobTypePatch:
        configuration = (
            self.configuration.model_dump(exclude_unset=True) if self.configuration is not None else None
        )
        return JobTypePatch(
            icon_code=self.icon_code,
            is_published=self.is_published,
            is_active=self.is_active,
            is_paused=self.is_paused,
            max_scheduled=self.max_scheduled,
            max_tries=self.max_tries,
            configuration=configuration,
            manifest=self.manifest,
            docker_image=self.docker_image,
            given=frozenset(self.model_fields_set),
        )


class JobTypeOut(BaseModel):
    id: int
    name: str
    version: str
    title: str | None
    description: str | None
    icon_code: str | None
    is_published: bool
    is_active: bool
    is_paused: bool
    is_system: bool
    is_long_running: bool
    max_scheduled: int | None
    unmet_resources: str | None
    revision_num: int
    docker_image: str
    created: UtcDateTime
    deprecated: UtcDateTime | None
    paused: UtcDateTime | None
    last_modified: UtcDateTime

    @staticmethod
    def _fields(row: JobTypeView) -> dict[str, Any]:
        return {
            "id": row.id,
            "name": row.name,
            "version": row.version,
            "title": row.title,
            "description": row.description,
            "icon_code": row.icon_code,
            "is_published": row.is_published,
            "is_active": row.is_active,
            "is_paused": row.is_paused,
            "is_system": row.is_system,
            "is_long_running": row.is_long_running,
            "max_scheduled": row.max_scheduled,
            "unmet_resources": row.unmet_resources,
            "revision_num": row.revision_num,
            "docker_image": row.docker_image,
            "created": row.created,
            "deprecated": row.deprecated,
            "paused": row.paused,
            "last_modified": row.last_modified,
        }

    @classmethod
    def from_row(cls, row: JobTypeView) -> JobTypeOut:
        return cls(**cls._fields(row))


class JobTypeDetailOut(JobTypeOut):
    max_tries: int
    manifest: dict[str, Any]
    configuration: dict[str, Any]

    @classmethod
    def from_row(cls, row: JobTypeView) -> JobTypeDetailOut:
        return cls(
            **cls._fields(row),
            max_tries=row.max_tries,
            manifest=row.manifest,
            configuration=row.configuration,
        )


class ValidationMessage(BaseModel):
    name: str
    description: str


class ValidationOut(BaseModel):
    """Scale's validation result; ``name`` is a code, ``description`` names the field and the reason."""

    is_valid: bool
    errors: list[ValidationMessage]
    warnings: list[ValidationMessage]

    @staticmethod
    def _message(problem: FieldProblem) -> ValidationMessage:
        if problem.field.startswith("manifest"):
            code = "INVALID_MANIFEST"
        elif problem.field.startswith("configuration"):
            code = "INVALID_CONFIGURATION"
        else:
            code = "INVALID_JOB_TYPE"
        return ValidationMessage(name=code, description=str(problem))

    @classmethod
    def from_validation(cls, validation: Validation) -> ValidationOut:
        return cls(
            is_valid=validation.is_valid,
            errors=[cls._message(p) for p in validation.problems],
            warnings=[cls._message(p) for p in validation.warnings],
        )

    @classmethod
    def ok(cls) -> ValidationOut:
        return cls(is_valid=True, errors=[], warnings=[])


class JobTypeRef(BaseModel):
    id: int
    name: str
    version: str


class RevisionOut(BaseModel):
    id: int
    job_type: JobTypeRef
    revision_num: int
    docker_image: str
    created: UtcDateTime

    @staticmethod
    def _fields(job_type: JobTypeView, row: JobTypeRevisionView) -> dict[str, Any]:
        return {
            "id": row.id,
            "job_type": JobTypeRef(id=job_type.id, name=job_type.name, version=job_type.version),
            "revision_num": row.revision_num,
            "docker_image": row.docker_image,
            "created": row.created,
        }

    @classmethod
    def from_row(cls, job_type: JobTypeView, row: JobTypeRevisionView) -> RevisionOut:
        return cls(**cls._fields(job_type, row))


class RevisionDetailOut(RevisionOut):
    manifest: dict[str, Any]

    @classmethod
    def from_row(cls, job_type: JobTypeView, row: JobTypeRevisionView) -> RevisionDetailOut:
        return cls(**cls._fields(job_type, row), manifest=row.manifest)
