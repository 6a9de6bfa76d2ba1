"""``/v6/errors/``: an error of the catalogue as listed and read."""

from __future__ import annotations

from pydantic import BaseModel

from scale.api.schemas.common import UtcDateTime
from scale.services.views import ErrorView


class ErrorOut(BaseModel):
    id: int
    name: str
    title: str | None
    description: str | None
    job_type_name: str | None
    category: str
    is_builtin: bool
    should_be_retried: bool
    created: UtcDateTime
    last_modified: UtcDateTime

    @classmethod
    def from_row(cls, row: ErrorView) -> ErrorOut:
        return cls(
            id=row.id,
            name=row.name,
            title=row.title,
            description=row.description,
            job_type_name=row.job_type_name,
            category=row.category,
            is_builtin=row.is_builtin,
            should_be_retried=row.should_be_retried,
            created=row.created,
            last_modified=row.last_modified,
        )
