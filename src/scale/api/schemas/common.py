"""Shared wire types: UTC datetimes ending in ``Z``, the page envelope, request-model base."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")


def format_time(when: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix, microseconds kept (Scale's ``datetime_to_string``)."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, PlainSerializer(format_time, return_type=str, when_used="json")]


class Page(BaseModel, Generic[T]):
    """Scale's paginated list: the total, links to the neighbouring pages, and this page."""

    count: int
    next: str | None
    previous: str | None
    results: list[T]


class WriteModel(BaseModel):
    """A request body: unknown keys are rejected, and so is ``null`` except where a field allows it.

    Optional fields are ``X | None = None`` so "absent" is None; an explicit ``null`` for a field
    not in ``nullable_fields`` is a 400 naming the field, never a silent "leave unchanged".
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _reject_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable_fields:
            raise PydanticCustomError("not_null", "may not be null")
        return value


class ProblemOut(BaseModel):
    """Every error body: ``detail`` names the field (or the request part) and the reason."""

    detail: str
