"""System services: ``/v6/status/`` and ``/v6/version/`` (spec 000, "v6 System Services")."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

import scale
from scale.api.deps import context_of
from scale.api.schemas.system import VersionOut
from scale.services.status import StatusCache

router = APIRouter(tags=["system"])


@router.get(
    "/status/",
    response_model=None,
    responses={
        200: {"description": "The latest status snapshot, verbatim", "content": {"application/json": {}}},
        204: {"description": "The scheduler is offline: no snapshot, or one more than 12 s old"},
    },
)
async def get_status(request: Request) -> Response:
    """The scheduler's status snapshot, or 204 with an empty body when the scheduler is offline.

    Served from the app's :class:`StatusCache` (the stored document, already encoded), created
    on first use so the cache stays inside this route. ``async`` and without dependencies of its
    own: each sync dependency costs a hop through the thread pool, which was most of this
    route's time once the document was cached (BENCHMARKS.md, benchmark 3). The cache costs
    one query by primary key while the document is unchanged, short enough for the event loop.
    """
    context = context_of(request)
    cache: StatusCache | None = getattr(request.app.state, "status_cache", None)
    if cache is None:
        cache = request.app.state.status_cache = StatusCache()
    body = cache.read(context.db, context.clock.now(), context.settings.status_freshness_s)
    if body is None:
        return Response(status_code=204)
    return Response(content=body, media_type="application/json")


@router.get("/version/")
def get_version() -> VersionOut:
    """Always open: load balancers use it as a health check."""
    return VersionOut(version=scale.__version__)
