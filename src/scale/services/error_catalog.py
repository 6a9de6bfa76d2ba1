"""The error catalogue: list and read the errors jobs fail with (built-in and job-type ones).

Read-only in v6: errors are made by the database update (built-ins) and by job-type manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from scale.domain.states import ErrorCategory
from scale.exceptions import FieldProblem, InvalidRequest, NotFound
from scale.services.job_types import MAX_INT32
from scale.services.nodes import check_time_range, ordering
from scale.store.db import Database
from scale.store.tables import ErrorRow

#: ``order`` values an error list accepts (each may start with ``-`` for descending).
ERROR_ORDER_FIELDS: Mapping[str, Any] = {
    "id": ErrorRow.id,
    "name": ErrorRow.name,
    "title": ErrorRow.title,
    "job_type_name": ErrorRow.job_type_name,
    "category": ErrorRow.category,
    "is_builtin": ErrorRow.is_builtin,
    "should_be_retried": ErrorRow.should_be_retried,
    "created": ErrorRow.created,
    "last_modified": ErrorRow.last_modified,
}
DEFAULT_ERROR_ORDER: tuple[str, ...] = ("last_modified",)


@dataclass(frozen=True, slots=True)
class ErrorFilters:
    category: ErrorCategory | None = None
    is_builtin: bool | None = None
    job_type_name: str | None = None
    name: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    order: Sequence[str] = DEFAULT_ERROR_ORDER


def parse_category(value: str | None) -> ErrorCategory | None:
    """An error category in any case (``data`` is DATA); InvalidRequest naming ``category``."""
    if value is None:
        return None
    upper = value.strip().upper()
    if upper not in ErrorCategory.__members__:
        choices = ", ".join(ErrorCategory.__members__)
        raise InvalidRequest([FieldProblem("category", f"must be one of {choices}")])
    return ErrorCategory[upper]


def _conditions(filters: ErrorFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.category is not None:
        conditions.append(ErrorRow.category == filters.category.value)
    if filters.is_builtin is not None:
        conditions.append(ErrorRow.is_builtin.is_(filters.is_builtin))
    if filters.job_type_name is not None:
        conditions.append(ErrorRow.job_type_name == filters.job_type_name)
    if filters.name is not None:
        conditions.append(ErrorRow.name == filters.name)
    if filters.started is not None:
        conditions.append(ErrorRow.last_modified >= filters.started)
    if filters.ended is not None:
        conditions.append(ErrorRow.last_modified <= filters.ended)
    return conditions


def list_errors(
    db: Database, filters: ErrorFilters, *, offset: int, limit: int
) -> tuple[int, list[ErrorRow]]:
    """The total matching ``filters`` and one page of them, in ``filters.order``."""
    check_time_range(filters.started, filters.ended)
    clauses = ordering(filters.order or DEFAULT_ERROR_ORDER, ERROR_ORDER_FIELDS, ErrorRow.id)
    query = select(ErrorRow).where(*_conditions(filters))
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(*clauses).offset(offset).limit(limit))
        return count, list(rows)


def get_error(db: Database, error_id: int) -> ErrorRow:
    with db.read() as session:
        row = session.get(ErrorRow, error_id) if 0 < error_id <= MAX_INT32 else None
        if row is None:
            raise NotFound(f"error {error_id} does not exist")
        return row
