"""``/v6/accounts/``: browser sign-in for Scale's web UI (and the built-in pages).

``POST /v6/accounts/login/`` with ``{"username", "password"}`` sets two cookies: ``sessionid``
(HttpOnly, SameSite=Lax: the session) and ``csrftoken`` (readable by the page's script, which
copies it into ``X-CSRFToken`` on every write). ``POST /v6/accounts/logout/`` ends the session.
``GET /v6/accounts/profile/`` is the signed-in operator, 401 when there is none. Accounts are made
with ``scale user create``. The rules a session's writes follow are in ``api/auth.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from scale.api.auth import CSRF_COOKIE, SESSION_COOKIE, check_session, current_session
from scale.api.deps import context_of
from scale.api.schemas.accounts import LoginIn, ProfileOut
from scale.api.schemas.common import ProblemOut
from scale.exceptions import Unauthorized
from scale.services import accounts

router = APIRouter(prefix="/accounts", tags=["accounts"])

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemOut, "description": "Not signed in (or a wrong username or password)"}
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ProblemOut, "description": "The database is unavailable"}
}


@router.post("/login/", responses={**_UNAUTHORIZED, **_UNAVAILABLE})
def login(body: LoginIn, request: Request, response: Response) -> ProfileOut:
    """Sign in: 200 with the profile and the ``sessionid`` and ``csrftoken`` cookies, or 401 (no
    cookie set) for a wrong username or password."""
    context = context_of(request)
    now = context.clock.now()
    account = accounts.authenticate(context.db, username=body.username, password=body.password, now=now)
    if account is None:
        raise Unauthorized("username, password: wrong username or password")
    new = accounts.start_session(context.db, account, now=now)
    secure = request.url.scheme == "https"
    max_age = int(accounts.SESSION_AGE.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, new.key, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE,
        new.session.csrf_token,
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
        path="/",
    )
    return ProfileOut.from_view(account)


@router.post(
    "/logout/",
    status_code=204,
    response_class=Response,
    responses={
        403: {"model": ProblemOut, "description": "A session without its X-CSRFToken"},
        **_UNAVAILABLE,
    },
)
def logout(request: Request) -> Response:
    """End this browser's session (204, cookies cleared). Without a live session it does nothing
    but clear them; with one it needs ``X-CSRFToken`` like any write, so no other site can sign
    an operator out."""
    context = context_of(request)
    key = request.cookies.get(SESSION_COOKIE)
    if key and current_session(request, context) is not None:
        check_session(request, context, write=True)
        accounts.end_session(context.db, key)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="lax")
    return response


@router.get("/profile/", responses={**_UNAUTHORIZED, **_UNAVAILABLE})
async def profile(request: Request) -> ProfileOut:
    """The signed-in operator; 401 when this browser has no live session."""
    context = context_of(request)
    session = await run_in_threadpool(current_session, request, context)
    if session is None:
        raise Unauthorized("sessionid: not signed in")
    return ProfileOut.from_view(session.account)
