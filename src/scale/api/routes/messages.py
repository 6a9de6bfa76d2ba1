"""``/v6/messages/dead-letters/``: what the message handlers gave up on, and why."""

from __future__ import annotations

from fastapi import APIRouter, Request

from scale.api.deps import DbDep
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.messages import DeadLetterOut
from scale.services import messages

router = APIRouter(prefix="/messages", tags=["messages"])


@router.get("/dead-letters/")
def dead_letters(request: Request, db: DbDep, paging: PageDep) -> Page[DeadLetterOut]:
    """Messages set aside, newest first: those that failed five times (with the error of their
    last try) and those that could not be read (with the reason)."""
    count, rows = messages.dead_letters(db, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [DeadLetterOut.from_letter(r) for r in rows])
