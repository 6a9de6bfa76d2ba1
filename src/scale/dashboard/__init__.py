"""The built-in web dashboard at ``/``: a Jinja2 page, one vanilla JavaScript file and a stylesheet.

Why this approach: server templates plus a little JavaScript ship as package files, need no
build toolchain at install time and no network (no CDN), and leave nothing to compile or pin.
The page itself holds no data; the script reads the v6 API (the status with ETag/If-None-Match,
so an unchanged document costs a 304 and no body) and the two small routes below, and writes
every value with ``textContent`` (no ``innerHTML``): user text (hostnames, job type titles,
error descriptions, log lines) can never become markup. The page's Content-Security-Policy
allows only its own script and stylesheet, so even a mistake there would not run injected code.

Actions (pause/resume the scheduler and a node, deprecate a node, cancel and requeue jobs) need
a write token, entered once and kept in the browser tab's ``sessionStorage``, sent as
``Authorization: Token <token>``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

import scale
from scale.api.auth import check_access
from scale.api.deps import MAX_ID, AppContext, context_of
from scale.api.routes.system import etag_matches
from scale.scheduler.status import format_time
from scale.services import overview

HERE = Path(__file__).parent
STATIC_PREFIX = "/dashboard/static"
API_PREFIX = "/dashboard/api"
#: Only this page's own files: no inline script or style, no other origin.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _read_access(request: Request) -> None:
    """Reads of the dashboard's data follow the API's rule for reads (``SCALE_PUBLIC_READ``)."""
    check_access(request, context_of(request))


router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(_read_access)], include_in_schema=False)


def _json_with_etag(request: Request, payload: Any) -> Response:
    """JSON with a content hash as ETag: a poller that holds the same answer gets 304, no body."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/summary/")
def summary(request: Request) -> Response:
    """Job counts by status, the queue per job type with the reasons jobs wait, recent failures."""
    context: AppContext = context_of(request)
    found = overview.overview(context.db, context.clock.now())
    return _json_with_etag(
        request,
        {
            "job_counts": found.job_counts,
            "reasons_sampled": found.reasons_sampled,
            "queue": [
                {
                    "job_type": {"id": q.job_type_id, "name": q.name, "version": q.version, "title": q.title},
                    "is_paused": q.is_paused,
                    "count": q.count,
                    "oldest": format_time(q.oldest) if q.oldest else None,
                    "reasons": q.reasons,
                    "not_yet_considered": q.not_yet_considered,
                }
                for q in found.queue
            ],
            "failures": [
                {
                    "error_id": f.error_id,
                    "name": f.name,
                    "title": f.title,
                    "category": f.category,
                    "count": f.count,
                }
                for f in found.failures
            ],
        },
    )


@router.get("/executions/{exe_id}/")
def execution(request: Request, exe_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    """One execution by id (as the logs route takes it) and whether it ended: ``scale logs --follow``."""
    state = overview.execution_state(context_of(request).db, exe_id)
    return {
        "id": state.id,
        "job_id": state.job_id,
        "exe_num": state.exe_num,
        "status": state.status,
        "ended": format_time(state.ended) if state.ended else None,
    }


def install_dashboard(app: FastAPI) -> None:
    """The page at ``/``, its static files and its data routes."""
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
    )
    page = templates.get_template("index.html")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def dashboard(request: Request) -> HTMLResponse:
        """The page shell, open to all: it holds no data, the script fetches it."""
        context: AppContext = context_of(request)
        html = page.render(
            version=scale.__version__,
            static=STATIC_PREFIX,
            api=API_PREFIX,
            public_read=context.settings.public_read,
            status_period_s=context.settings.periods.status,
        )
        return HTMLResponse(html, headers={"content-security-policy": CSP, "cache-control": "no-cache"})

    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=HERE / "static"), name="dashboard-static")
