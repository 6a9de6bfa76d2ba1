"""``GET /v6/status/`` answered before FastAPI's routing, for the requests that need no token.

The status is what operators' dashboards poll, often many at once; it is served from a cache
(:class:`~scale.services.status.StatusCache`), so what remained of a request's cost was the
framework: routing over every route and solving the ``/v6`` router's dependencies took more
than half of it (BENCHMARKS.md, benchmark 3). This middleware sits inside Starlette's
``ServerErrorMiddleware`` and answers the common case directly: ``GET`` of exactly
``/v6/status/``, no query string, and reads open (``SCALE_PUBLIC_READ``). It sends the same
:class:`~scale.api.routes.system.StatusReply` as the route. Anything else, and any failure
while building the reply, goes on to the app unchanged, where the route, the token check and
the one mapping of exceptions to HTTP (``api/errors.py``) deal with it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from scale.api.auth import API_PREFIX, access_for, needs_token
from scale.api.deps import AppContext
from scale.api.routes.system import StatusReply, status_reply

STATUS_ROUTE = "/status/"
STATUS_PATH = API_PREFIX + STATUS_ROUTE


class StatusFastPath:
    """Pure ASGI middleware: open ``GET /v6/status/`` without routing or dependencies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != STATUS_PATH
            or scope["method"] != "GET"
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        context: AppContext = app.state.context
        if needs_token(access_for("GET", STATUS_ROUTE), public_read=context.settings.public_read):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            reply = status_reply(app, headers.get("accept-encoding", ""), headers.get("if-none-match"))
        except Exception:  # the route answers it, and maps the error, as for any request
            await self.app(scope, receive, send)
            return
        await _send(reply, send)


async def _send(reply: StatusReply, send: Send) -> None:
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()]
    if reply.status == 200:
        raw.append((b"content-type", b"application/json"))
        raw.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    await send({"type": "http.response.body", "body": reply.body})
