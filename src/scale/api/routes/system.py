"""System services: ``/v6/status/`` and ``/v6/version/`` (spec 000, "v6 System Services")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

import scale
from scale.api.deps import AppContext
from scale.api.schemas.system import VersionOut
from scale.services.status import StatusCache

router = APIRouter(tags=["system"])


def accepts_gzip(accept_encoding: str) -> bool:
    """True when an ``Accept-Encoding`` header admits gzip (RFC 9110 12.5.3): ``gzip`` or ``*``
    listed without ``q=0``. An explicit ``gzip;q=0`` wins over ``*``."""
    star = False
    for item in accept_encoding.lower().split(","):
        name, _, params = item.partition(";")
        name = name.strip()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name == "gzip":
            return q > 0
        if name == "*":
            star = q > 0
    return star


def etag_matches(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` against our strong ETag (weak comparison, as RFC 9110 13.1.2 asks)."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


@dataclass(frozen=True, slots=True)
class StatusReply:
    """What ``GET /v6/status/`` answers: the route and the fast path (``api/status_fast_path.py``)
    both send this, so they cannot differ."""

    status: int
    headers: dict[str, str]
    body: bytes = b""

    def response(self) -> Response:
        if self.status != 200:
            return Response(status_code=self.status, headers=self.headers)
        return Response(content=self.body, media_type="application/json", headers=self.headers)


def status_cache(app: Any) -> StatusCache:
    """The app's :class:`StatusCache`, created on first use so the cache stays with this route."""
    cache: StatusCache | None = getattr(app.state, "status_cache", None)
    if cache is None:
        cache = app.state.status_cache = StatusCache(recheck_s=app.state.context.settings.status_recheck_s)
    return cache


def status_reply(app: Any, accept_encoding: str, if_none_match: str | None) -> StatusReply:
    """The status snapshot, or 204 (no body) when the scheduler is offline.

    A client that accepts gzip gets the document's gzip copy (about 20 times smaller at 1,000
    nodes, compressed once per document); the ETag lets a poller that already holds the
    current document get 304 and no body. Both are plain HTTP: a client that asks for neither
    gets the JSON as before.
    """
    context: AppContext = app.state.context
    now = context.clock.now()
    document = status_cache(app).document(context.db, now, context.settings.status_freshness_s)
    if document is None:
        return StatusReply(204, {})
    gzipped = accepts_gzip(accept_encoding)
    # A strong ETag names one representation, so the gzip copy has its own.
    etag = document.gzip_etag if gzipped else document.etag
    headers = {"etag": etag, "vary": "Accept-Encoding", "cache-control": "no-cache"}
    if if_none_match is not None and etag_matches(if_none_match, etag):
        return StatusReply(304, headers)
    if gzipped:
        headers["content-encoding"] = "gzip"
        return StatusReply(200, headers, document.gzipped())
    return StatusReply(200, headers, document.body)


@router.get(
    "/status/",
    response_model=None,
    responses={
        200: {"description": "The latest status snapshot, verbatim", "content": {"application/json": {}}},
        204: {"description": "The scheduler is offline: no snapshot, or one more than 12 s old"},
        304: {"description": "The snapshot is the one named in If-None-Match"},
    },
)
async def get_status(request: Request) -> Response:
    """The scheduler's status snapshot (:func:`status_reply`).

    Served from the app's :class:`StatusCache` (the stored document, already encoded).
    ``async`` and without dependencies of its own: each sync dependency costs a hop through the
    thread pool. Open reads of this path usually never get here: the fast path answers them
    before routing (``api/status_fast_path.py``); this route answers the rest (a token to check,
    a query string) and is the one the OpenAPI document describes.
    """
    headers = request.headers
    reply = status_reply(request.app, headers.get("accept-encoding", ""), headers.get("if-none-match"))
    return reply.response()


@router.get("/version/")
def get_version() -> VersionOut:
    """Always open: load balancers use it as a health check."""
    return VersionOut(version=scale.__version__)
