"""The one exception tree of the project. ``api/errors.py`` maps it to HTTP in one table.

ScaleError
├── NotFound            an id or name that does not exist           → 404
├── InvalidRequest      bad input, naming the field and the reason   → 400
├── Conflict            the request clashes with current state       → 409
├── Unauthorized        no or bad credentials                        → 401
├── Forbidden           credentials without the right                → 403
├── BackendError        the resource manager failed                  → 503
├── StoreError          the database failed                          → 503
└── InvalidMessage      a command message that cannot be read        (never reaches HTTP:
                        the message handlers dead-letter it)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ScaleError(Exception):
    """Root of every error this project raises on purpose."""


class NotFound(ScaleError):
    """The thing asked for does not exist."""


class InvalidRequest(ScaleError):
    """Input that is rejected before anything is written; carries every field problem found."""

    def __init__(self, problems: Sequence[FieldProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [FieldProblem("request", problems)]
        self.problems: list[FieldProblem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class Conflict(ScaleError):
    """The request is well formed but clashes with the current state."""


class Unauthorized(ScaleError):
    """No credentials, or credentials that are not valid."""


class Forbidden(ScaleError):
    """Valid credentials that do not allow this action."""


class BackendError(ScaleError):
    """The resource manager (backend) failed."""


class StoreError(ScaleError):
    """The database failed."""


class InvalidMessage(ScaleError):
    """A command message that is not JSON, of an unknown type or of the wrong shape
    (``domain.messages.decode``); the text names the field and the reason. The handlers set it
    aside as a dead letter at once: trying it again can only fail the same way."""
