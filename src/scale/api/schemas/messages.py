"""``/v6/messages/dead-letters/``: command messages set aside after repeated failures."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from scale.api.schemas.common import UtcDateTime
from scale.store.tables import MessageRow


class DeadLetterOut(BaseModel):
    id: int
    type: str
    body: dict[str, Any]
    attempts: int
    error: str | None
    created: UtcDateTime

    @classmethod
    def from_row(cls, row: MessageRow) -> DeadLetterOut:
        return cls(
            id=row.id,
            type=row.type,
            body=row.body,
            attempts=row.attempts,
            error=row.last_error,
            created=row.created,
        )
