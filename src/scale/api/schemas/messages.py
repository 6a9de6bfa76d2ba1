"""``/v6/messages/dead-letters/``: command messages set aside, with the reason."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from scale.api.schemas.common import UtcDateTime
from scale.services.messages import DeadLetter


class DeadLetterOut(BaseModel):
    id: int
    type: str
    #: the body as received: its JSON value (any JSON, since a dead letter may be of any shape),
    #: or ``{"undecodable": "<the raw text>"}`` for bytes that are not JSON
    body: Any
    attempts: int
    #: why it was set aside: the error of the last try, or why it could not be read
    error: str | None
    created: UtcDateTime

    @classmethod
    def from_letter(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(
            id=letter.id,
            type=letter.type,
            body=letter.body,
            attempts=letter.attempts,
            error=letter.error,
            created=letter.created,
        )
