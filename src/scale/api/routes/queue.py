"""``/v6/queue/status/``: how many jobs wait per job type, the oldest and the best priority."""

from __future__ import annotations

from fastapi import APIRouter, Request

from scale.api.deps import DbDep
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.queue import QueueStatusOut
from scale.services import queue

router = APIRouter(prefix="/queue", tags=["queue"])


@router.get("/status/")
def queue_status(request: Request, db: DbDep, paging: PageDep) -> Page[QueueStatusOut]:
    """Queued (not canceled) jobs grouped by job type: paused types last, then by best priority
    (the smallest number), then by the oldest queued job."""
    count, views = queue.queue_status(db, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [QueueStatusOut.from_view(v) for v in views])
