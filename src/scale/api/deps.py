"""Request dependencies: the app's database, clock and settings, and query-value parsers.

``create_app`` stores one :class:`AppContext` on ``app.state``; nothing here is a module global.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, cast

from fastapi import Depends, Request
from pydantic import Field

from scale.config import Settings
from scale.exceptions import FieldProblem, InvalidRequest
from scale.scheduler.ports import Clock
from scale.store.db import Database

#: Largest id a path or query parameter may carry (the range of a 64-bit key).
MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    db: Database
    clock: Clock


def context_of(request: Request) -> AppContext:
    """The :class:`AppContext` that ``create_app`` stored, for code that is not a dependency."""
    return cast(AppContext, request.app.state.context)


async def get_context(request: Request) -> AppContext:
    """The app's context. These accessors (and every dependency that does no I/O) are ``async``:
    FastAPI runs a sync dependency in its thread pool, a hop that cost more than the work of a
    cached ``GET /v6/status/`` (BENCHMARKS.md, benchmark 3)."""
    return context_of(request)


async def get_db(context: Annotated[AppContext, Depends(get_context)]) -> Database:
    return context.db


async def get_clock(context: Annotated[AppContext, Depends(get_context)]) -> Clock:
    return context.clock


async def get_settings(context: Annotated[AppContext, Depends(get_context)]) -> Settings:
    return context.settings


async def reject_nul(request: Request) -> None:
    """400 for a NUL character in the path or the query: no name or value may hold one, and
    PostgreSQL refuses them in text, so they are stopped here instead of failing in a query."""
    if "\x00" in request.url.path:
        raise InvalidRequest([FieldProblem("path", "must not contain NUL characters")])
    for key, value in request.query_params.multi_items():
        if "\x00" in key or "\x00" in value:
            raise InvalidRequest([FieldProblem(key.replace("\x00", ""), "must not contain NUL characters")])


DbDep = Annotated[Database, Depends(get_db)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_time(name: str, value: str | None, now: datetime) -> datetime | None:
    """An ISO-8601 datetime (UTC when it has no zone) or an ISO-8601 duration before ``now``.

    Scale's ``started``/``ended`` take either (``2026-01-01T00:00:00Z`` or ``PT3H0M0S``).
    InvalidRequest naming ``name`` for anything else.
    """
    if value is None:
        return None
    text = value.strip()
    match = _DURATION.match(text)
    try:
        if match and text not in {"P", "PT"} and not text.endswith("T"):
            parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
            return now - timedelta(**parts)
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest([FieldProblem(name, "is out of range")]) from None
    except ValueError:
        raise InvalidRequest(
            [FieldProblem(name, "must be an ISO-8601 datetime (2026-01-01T00:00:00Z) or duration (PT3H)")]
        ) from None


#: An id inside a repeatable query parameter.
IdValue = Annotated[int, Field(ge=1, le=MAX_ID)]
