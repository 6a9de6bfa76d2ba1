"""``/v6/nodes/``: the node as listed and read, and the PATCH body."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, StrictBool, StrictStr

from scale.api.schemas.common import UtcDateTime, WriteModel
from scale.services.nodes import NodeChanges
from scale.services.views import NodeView


class NodeOut(BaseModel):
    id: int
    hostname: str
    pause_reason: str | None
    is_paused: bool
    is_active: bool
    deprecated: UtcDateTime | None
    created: UtcDateTime
    last_modified: UtcDateTime

    @classmethod
    def from_row(cls, row: NodeView) -> NodeOut:
        return cls(
            id=row.id,
            hostname=row.hostname,
            pause_reason=row.pause_reason,
            is_paused=row.is_paused,
            is_active=row.is_active,
            deprecated=row.deprecated,
            created=row.created,
            last_modified=row.last_modified,
        )


class NodePatch(WriteModel):
    """Any subset of the three fields. Types are strict: ``"false"`` is not a boolean.

    ``pause_reason`` may be ``null`` (clears it); its length and characters are checked by the
    service, so the API and the CLI apply one rule.
    """

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"pause_reason"})

    is_paused: StrictBool | None = None
    pause_reason: StrictStr | None = None
    is_active: StrictBool | None = None

    def to_changes(self) -> NodeChanges:
        return NodeChanges(
            given=frozenset(self.model_fields_set),
            is_paused=self.is_paused,
            pause_reason=self.pause_reason,
            is_active=self.is_active,
        )
