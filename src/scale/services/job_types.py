"""Job types: validate, create or edit (Scale's POST-upserts), and query.

A job type is identified by its Seed manifest's ``job.name`` and ``job.jobVersion``. Posting a
name and version that exist edits that job type; a change of manifest or Docker image makes a
new revision (``revision_num`` + 1) so jobs keep pointing at the revision they were made from.
The manifest's ``errors`` mapping becomes ``error`` rows (one per name, per job type name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scale.domain import seed
from scale.exceptions import FieldProblem, InvalidRequest, NotFound
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobTypeRevisionRow, JobTypeRow

DEFAULT_PRIORITY = 100
DEFAULT_MAX_TRIES = 3
MAX_TRIES_LIMIT = 100
MAX_INT32 = 2**31 - 1
RESERVED_NAMES = frozenset({"validation"})

#: Column widths (store/tables.py) that a request value must fit.
_NAME_LEN, _VERSION_LEN, _TITLE_LEN = 250, 50, 250
_IMAGE_LEN, _ICON_LEN = 500, 20
_ERROR_NAME_LEN, _ERROR_TITLE_LEN, _ERROR_DESCRIPTION_LEN = 50, 50, 250


@dataclass(frozen=True, slots=True)
class JobTypeSpec:
    """A POSTed job type. ``given`` names the optional fields the caller set (an edit keeps the rest).

    ``max_scheduled`` None with ``"max_scheduled"`` in ``given`` means "no limit".
    """

    docker_image: str
    manifest: Mapping[str, Any]
    configuration: Mapping[str, Any] | None = None
    icon_code: str | None = None
    is_published: bool | None = None
    is_active: bool | None = None
    is_paused: bool | None = None
    max_scheduled: int | None = None
    max_tries: int | None = None
    given: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class JobTypeFilters:
    keyword: str | None = None
    ids: Sequence[int] = ()
    is_active: bool | None = None
    is_system: bool | None = None


@dataclass(frozen=True, slots=True)
class SaveResult:
    created: bool
    job_type: JobTypeRow


@dataclass(frozen=True, slots=True)
class Validation:
    """Every problem found, each naming its field; no problems means the spec may be saved."""

    manifest: seed.SeedManifest | None
    problems: tuple[FieldProblem, ...]
    warnings: tuple[FieldProblem, ...] = ()

    @property
    def is_valid(self) -> bool:
        return not self.problems


def _text_problems(name: str, value: str | None, limit: int | None = None) -> list[FieldProblem]:
    """A value for a text column: within the column's width, and without NUL (PostgreSQL refuses it)."""
    if value is None:
        return []
    if "\x00" in value:
        return [FieldProblem(name, "must not contain NUL characters")]
    if limit is not None and len(value) > limit:
        return [FieldProblem(name, f"must be at most {limit} characters")]
    return []


def _int_problems(name: str, value: object, low: int, high: int) -> list[FieldProblem]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [FieldProblem(name, "must be an integer")]
    if not low <= value <= high:
        return [FieldProblem(name, f"must be between {low} and {high}")]
    return []


def _configuration_problems(configuration: Mapping[str, Any] | None) -> list[FieldProblem]:
    if configuration is None:
        return []
    problems: list[FieldProblem] = []
    if "priority" in configuration:
        problems += _int_problems("configuration.priority", configuration["priority"], 1, MAX_INT32)
    for key in ("settings", "mounts", "output_workspaces"):
        value = configuration.get(key)
        if value is not None and not isinstance(value, Mapping):
            problems.append(FieldProblem(f"configuration.{key}", "must be an object"))
    return problems


def _manifest_problems(manifest: seed.SeedManifest) -> list[FieldProblem]:
    problems = _text_problems("manifest.job.name", manifest.name, _NAME_LEN)
    problems += _text_problems("manifest.job.jobVersion", manifest.job_version, _VERSION_LEN)
    problems += _text_problems("manifest.job.title", manifest.title, _TITLE_LEN)
    problems += _text_problems("manifest.job.description", manifest.description)
    if manifest.name in RESERVED_NAMES:
        problems.append(FieldProblem("manifest.job.name", f"{manifest.name!r} is a reserved name"))
    for index, mapping in enumerate(manifest.errors):
        path = f"manifest.job.errors[{index}]"
        problems += _text_problems(f"{path}.name", mapping.name, _ERROR_NAME_LEN)
        problems += _text_problems(f"{path}.title", mapping.title)
        problems += _text_problems(f"{path}.description", mapping.description)
    return problems


def validate_job_type(spec: JobTypeSpec) -> Validation:
    """Check a spec without touching the database."""
    problems = [
        FieldProblem(e.field, e.message) for e in seed.validate_manifest(dict(spec.manifest), root="manifest")
    ]
    manifest: seed.SeedManifest | None = None
    if not problems:
        try:
            manifest = seed.parse_manifest(dict(spec.manifest))
        except seed.ManifestError as exc:
            problems += [FieldProblem(e.field, e.message) for e in exc.errors]
    if manifest is not None:
        problems += _manifest_problems(manifest)
    problems += _text_problems("docker_image", spec.docker_image, _IMAGE_LEN)
    problems += _text_problems("icon_code", spec.icon_code, _ICON_LEN)
    problems += _configuration_problems(spec.configuration)
    if spec.max_scheduled is not None:
        problems += _int_problems("max_scheduled", spec.max_scheduled, 1, MAX_INT32)
    if spec.max_tries is not None:
        problems += _int_problems("max_tries", spec.max_tries, 1, MAX_TRIES_LIMIT)
    return Validation(manifest, tuple(problems))


def _configuration(spec: JobTypeSpec, current: Mapping[str, Any] | None) -> dict[str, Any]:
    if spec.configuration is None:
        base = dict(current) if current is not None else {}
    else:
        base = dict(spec.configuration)
    base.setdefault("priority", DEFAULT_PRIORITY)
    return base


def _clip(value: str | None, limit: int) -> str | None:
    return value if value is None or len(value) <= limit else value[: limit - 1] + "…"


def _save_errors(session: Session, manifest: seed.SeedManifest, now: datetime) -> None:
    """Insert or refresh one error row per name in the manifest's ``errors`` mapping.

    Titles and descriptions are display text and are clipped to their columns.
    """
    if not manifest.errors:
        return
    existing = {
        row.name: row
        for row in session.scalars(
            select(ErrorRow).where(ErrorRow.job_type_name == manifest.name).with_for_update()
        )
    }
    for mapping in manifest.errors:
        title = _clip(mapping.title, _ERROR_TITLE_LEN)
        description = _clip(mapping.description, _ERROR_DESCRIPTION_LEN)
        row = existing.get(mapping.name)
        if row is None:
            row = ErrorRow(
                name=mapping.name,
                job_type_name=manifest.name,
                is_builtin=False,
                should_be_retried=False,
                created=now,
            )
            session.add(row)
            existing[mapping.name] = row
        row.title, row.description = title, description
        row.category = mapping.category.value
        row.last_modified = now


def _set_flags(row: JobTypeRow, spec: JobTypeSpec, now: datetime) -> None:
    given = spec.given
    if "icon_code" in given:
        row.icon_code = spec.icon_code
    if "is_published" in given and spec.is_published is not None:
        row.is_published = spec.is_published
    if "max_scheduled" in given:
        row.max_scheduled = spec.max_scheduled
    if "max_tries" in given and spec.max_tries is not None:
        row.max_tries = spec.max_tries
    if "is_active" in given and spec.is_active is not None and spec.is_active != row.is_active:
        row.is_active = spec.is_active
        row.deprecated = None if spec.is_active else now
    if "is_paused" in given and spec.is_paused is not None and spec.is_paused != row.is_paused:
        row.is_paused = spec.is_paused
        row.paused = now if spec.is_paused else None


def _create(session: Session, spec: JobTypeSpec, manifest: seed.SeedManifest, now: datetime) -> JobTypeRow:
    row = JobTypeRow(
        name=manifest.name,
        version=manifest.job_version,
        title=manifest.title,
        description=manifest.description,
        icon_code=None,
        is_system=False,
        is_active=True,
        is_paused=False,
        is_published=False,
        max_scheduled=None,
        max_tries=DEFAULT_MAX_TRIES,
        docker_image=spec.docker_image,
        manifest=dict(spec.manifest),
        configuration=_configuration(spec, None),
        revision_num=1,
        created=now,
        last_modified=now,
    )
    _set_flags(row, spec, now)
    session.add(row)
    session.flush()
    session.add(
        JobTypeRevisionRow(
            job_type_id=row.id,
            revision_num=1,
            docker_image=row.docker_image,
            manifest=row.manifest,
            created=now,
        )
    )
    return row


def _edit(
    session: Session, row: JobTypeRow, spec: JobTypeSpec, manifest: seed.SeedManifest, now: datetime
) -> None:
    new_manifest = dict(spec.manifest)
    if new_manifest != row.manifest or spec.docker_image != row.docker_image:
        row.revision_num += 1
        row.manifest = new_manifest
        row.docker_image = spec.docker_image
        session.add(
            JobTypeRevisionRow(
                job_type_id=row.id,
                revision_num=row.revision_num,
                docker_image=row.docker_image,
                manifest=row.manifest,
                created=now,
            )
        )
    row.title, row.description = manifest.title, manifest.description
    row.configuration = _configuration(spec, row.configuration)
    _set_flags(row, spec, now)
    row.last_modified = now


def save_job_type(db: Database, spec: JobTypeSpec, *, now: datetime) -> SaveResult:
    """Create the job type, or edit it when its name and version exist; one transaction.

    Raises InvalidRequest (nothing written) when the spec is not valid.
    """
    validation = validate_job_type(spec)
    if not validation.is_valid or validation.manifest is None:
        raise InvalidRequest(validation.problems)
    manifest = validation.manifest
    try:
        return _save(db, spec, manifest, now)
    except IntegrityError:
        # Another request created the same name and version (or error name) first: now it
        # exists, so this one becomes an edit of it. A second clash is reported as a conflict.
        return _save(db, spec, manifest, now)


def _save(db: Database, spec: JobTypeSpec, manifest: seed.SeedManifest, now: datetime) -> SaveResult:
    with db.session() as session:
        row = session.scalars(
            select(JobTypeRow)
            .where(JobTypeRow.name == manifest.name, JobTypeRow.version == manifest.job_version)
            .with_for_update()
        ).one_or_none()
        created = row is None
        if row is None:
            row = _create(session, spec, manifest, now)
        else:
            _edit(session, row, spec, manifest, now)
        _save_errors(session, manifest, now)
        session.flush()
        return SaveResult(created, row)


def _filtered(query: Select[Any], filters: JobTypeFilters) -> Select[Any]:
    if filters.keyword:
        pattern = "%" + filters.keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                JobTypeRow.name.ilike(pattern, escape="\\"),
                JobTypeRow.title.ilike(pattern, escape="\\"),
            )
        )
    if filters.ids:
        query = query.where(JobTypeRow.id.in_(list(filters.ids)))
    if filters.is_active is not None:
        query = query.where(JobTypeRow.is_active.is_(filters.is_active))
    if filters.is_system is not None:
        query = query.where(JobTypeRow.is_system.is_(filters.is_system))
    return query


def _page(session: Session, query: Select[Any], offset: int, limit: int) -> tuple[int, list[JobTypeRow]]:
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(JobTypeRow.name, JobTypeRow.version, JobTypeRow.id).offset(offset).limit(limit)
    )
    return count, list(rows)


def list_job_types(
    db: Database, filters: JobTypeFilters, *, offset: int, limit: int
) -> tuple[int, list[JobTypeRow]]:
    """The total matching ``filters`` and one page of them, ordered by name then version."""
    with db.read() as session:
        return _page(session, _filtered(select(JobTypeRow), filters), offset, limit)


def list_job_type_versions(
    db: Database, name: str, *, offset: int, limit: int
) -> tuple[int, list[JobTypeRow]]:
    """Every version of the job type ``name``; NotFound when no version has that name."""
    with db.read() as session:
        count, rows = _page(session, select(JobTypeRow).where(JobTypeRow.name == name), offset, limit)
        if count == 0:
            raise NotFound(f"job type {name!r} does not exist")
        return count, rows


def get_job_type(db: Database, name: str, version: str) -> JobTypeRow:
    with db.read() as session:
        row = session.scalars(
            select(JobTypeRow).where(JobTypeRow.name == name, JobTypeRow.version == version)
        ).one_or_none()
        if row is None:
            raise NotFound(f"job type {name!r} version {version!r} does not exist")
        return row


@dataclass(frozen=True, slots=True)
class JobTypePatch:
    """A PATCH of one job type. ``given`` names the fields the caller set; the rest are kept.

    ``icon_code`` or ``max_scheduled`` None with its name in ``given`` clears it.
    """

    icon_code: str | None = None
    is_published: bool | None = None
    is_active: bool | None = None
    is_paused: bool | None = None
    max_scheduled: int | None = None
    max_tries: int | None = None
    configuration: Mapping[str, Any] | None = None
    manifest: Mapping[str, Any] | None = None
    docker_image: str | None = None
    given: frozenset[str] = field(default_factory=frozenset)


def _patched_spec(row: JobTypeRow, patch: JobTypePatch) -> JobTypeSpec:
    """The whole job type as it would be after ``patch``, as a spec for the POST validation."""
    return JobTypeSpec(
        docker_image=patch.docker_image if patch.docker_image is not None else row.docker_image,
        manifest=patch.manifest if patch.manifest is not None else row.manifest,
        configuration=patch.configuration,
        icon_code=patch.icon_code,
        is_published=patch.is_published,
        is_active=patch.is_active,
        is_paused=patch.is_paused,
        max_scheduled=patch.max_scheduled,
        max_tries=patch.max_tries,
        given=patch.given,
    )


def patch_job_type(db: Database, name: str, version: str, patch: JobTypePatch, *, now: datetime) -> None:
    """Change the fields in ``patch`` of one job type, in one transaction.

    A new manifest or Docker image makes a new revision and refreshes the job type's error rows.
    NotFound for an unknown job type; InvalidRequest (nothing written) for an empty or invalid
    patch, or a manifest whose name or version is not the job type's.
    """
    if not patch.given:
        raise InvalidRequest([FieldProblem("body", "give at least one field to change")])
    with db.session() as session:
        row = session.scalars(
            select(JobTypeRow).where(JobTypeRow.name == name, JobTypeRow.version == version).with_for_update()
        ).one_or_none()
        if row is None:
            raise NotFound(f"job type {name!r} version {version!r} does not exist")
        spec = _patched_spec(row, patch)
        validation = validate_job_type(spec)
        problems = list(validation.problems)
        manifest = validation.manifest
        if manifest is not None and manifest.name != name:
            problems.append(FieldProblem("manifest.job.name", f"must be {name!r}, the job type's name"))
        if manifest is not None and manifest.job_version != version:
            problems.append(
                FieldProblem("manifest.job.jobVersion", f"must be {version!r}, the job type's version")
            )
        if problems or manifest is None:
            raise InvalidRequest(problems)
        _edit(session, row, spec, manifest, now)
        if patch.manifest is not None:
            _save_errors(session, manifest, now)


def list_revisions(
    db: Database, name: str, version: str, *, offset: int, limit: int
) -> tuple[JobTypeRow, int, list[JobTypeRevisionRow]]:
    """The job type and one page of its revisions, newest first; NotFound when it does not exist."""
    with db.read() as session:
        job_type = _job_type(session, name, version)
        query = select(JobTypeRevisionRow).where(JobTypeRevisionRow.job_type_id == job_type.id)
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(JobTypeRevisionRow.revision_num.desc(), JobTypeRevisionRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return job_type, count, list(rows)


def get_revision(
    db: Database, name: str, version: str, revision_num: int
) -> tuple[JobTypeRow, JobTypeRevisionRow]:
    """One revision of a job type; NotFound when the job type or the revision does not exist."""
    with db.read() as session:
        job_type = _job_type(session, name, version)
        revision = session.scalars(
            select(JobTypeRevisionRow).where(
                JobTypeRevisionRow.job_type_id == job_type.id, JobTypeRevisionRow.revision_num == revision_num
            )
        ).one_or_none()
        if revision is None:
            raise NotFound(f"job type {name!r} version {version!r} has no revision {revision_num}")
        return job_type, revision


def _job_type(session: Session, name: str, version: str) -> JobTypeRow:
    row = session.scalars(
        select(JobTypeRow).where(JobTypeRow.name == name, JobTypeRow.version == version)
    ).one_or_none()
    if row is None:
        raise NotFound(f"job type {name!r} version {version!r} does not exist")
    return row
