"""Dead letters: command messages set aside so they never block the ones behind them (Scale
issues #1755, #1783): those that failed five times, with the error of their last try, and those
that could not be read at all (not JSON, unknown type, wrong shape, a bad header), with the
reason, at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, func, select

from scale.domain.json_fields import parse_json
from scale.exceptions import InvalidMessage
from scale.messaging.base import parse_stored_time
from scale.store.db import Database
from scale.store.tables import MessageRow


@dataclass(frozen=True)
class DeadLetter:
    id: int
    type: str
    #: the body's JSON value; a body that is not JSON as ``{"undecodable": "<its text>"}``
    body: Any
    attempts: int
    error: str | None
    created: datetime


#: what a dead letter whose ``created`` is not a time shows (only a row written by hand)
_UNKNOWN_TIME = datetime.fromtimestamp(0, UTC)


def _body(text: str | None) -> Any:
    """The stored body read as text: a row written by hand may hold anything (SQLite keeps any
    text in a JSON column), and listing it must not fail."""
    try:
        return parse_json(text or "")
    except InvalidMessage:
        return {"undecodable": text}


def dead_letters(db: Database, *, offset: int, limit: int) -> tuple[int, list[DeadLetter]]:
    """Newest first."""
    with db.read() as session:
        where = MessageRow.dead.is_(True)
        count = session.scalar(select(func.count()).select_from(MessageRow).where(where)) or 0
        rows = session.execute(
            select(
                MessageRow.id,
                MessageRow.type,
                cast(MessageRow.body, Text),
                MessageRow.attempts,
                MessageRow.last_error,
                cast(MessageRow.created, Text),
            )
            .where(where)
            .order_by(MessageRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return count, [
            DeadLetter(
                row_id, type_, _body(body), attempts, error, parse_stored_time(created) or _UNKNOWN_TIME
            )
            for row_id, type_, body, attempts, error, created in rows
        ]
