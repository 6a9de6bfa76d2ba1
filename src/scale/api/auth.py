"""Access control, in one place: which requests need a token, and the dependency that checks it.

* ``/v6/version/`` is always open (load balancers use it as a health check), and so are the
  sign-in routes ``/v6/accounts/{login,logout,profile}/``, which check the session themselves.
* Reads (GET, HEAD, OPTIONS, and the ``/validation/`` POSTs, which write nothing, as in Scale's
  ``ScaleAPIPermissions``) are open unless ``SCALE_PUBLIC_READ=false``; then any valid token.
* Everything else is a write and needs a write token: 401 without a valid token, 403 with a
  read-only one.

A client sends ``Authorization: Token <token>``, or signs in from a browser
(``POST /v6/accounts/login/``) and sends the ``sessionid`` cookie that sets. A session may do what
a write token may, and its writes must also carry ``X-CSRFToken`` equal to the session's CSRF
token (also in the ``csrftoken`` cookie, which the page's script can read and a page on another
site cannot) and, when the browser sends ``Origin``, come from this host (or one of
``SCALE_TRUSTED_ORIGINS``): Django's scheme, which Scale's UI was built against. A request with
an ``Authorization`` header is judged by it alone (a token is not an ambient credential, so it
needs no CSRF token). On an open request neither is looked at,
so a stale token or cookie never breaks a read that needs none. The OpenAPI document is derived from the
same :func:`access_for` (see ``api/openapi.py``), so it cannot disagree with what is enforced.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from scale.api.deps import AppContext, get_context
from scale.exceptions import Forbidden, Unauthorized
from scale.services import accounts, tokens
from scale.services.accounts import SessionView
from scale.services.tokens import TokenScope

#: The prefix every route this module guards is mounted under.
API_PREFIX = "/v6"
#: Route paths (relative to ``/v6``) that need no token whatever the settings.
#: The sign-in routes are among them: they check the session themselves.
ALWAYS_OPEN = frozenset({"/version/", "/accounts/login/", "/accounts/logout/", "/accounts/profile/"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The header scheme: ``Authorization: Token <token>`` (Scale/DRF's token scheme).
SCHEME = "Token"
#: Django's cookie and header names, which Scale's UI uses.
SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "X-CSRFToken"


class Access(Enum):
    OPEN = "open"
    READ = "read"
    WRITE = "write"


def access_for(method: str, path: str) -> Access:
    """The kind of access a request needs, by its method and its route's path template relative to
    ``/v6`` (``/jobs/{job_id}/``): templates, not request paths, so that no value sent in a path
    (a job type version called ``validation``) can change the answer."""
    if path in ALWAYS_OPEN:
        return Access.OPEN
    if method.upper() in SAFE_METHODS or path.endswith("/validation/"):
        return Access.READ
    return Access.WRITE


def needs_token(access: Access, *, public_read: bool) -> bool:
    return access is Access.WRITE or (access is Access.READ and not public_read)


def token_from_header(value: str | None) -> str | None:
    """The token in ``Token <token>`` (the scheme in any case), or None when there is none."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != SCHEME.lower() or not token or " " in token:
        return None
    return token


async def authorize(request: Request, context: Annotated[AppContext, Depends(get_context)]) -> None:
    """The dependency on every /v6 route: :func:`check_access`, before the route's parameters and
    body are validated, so a client without the right token learns nothing about its input.

    ``async`` so that an open request (most reads) costs no thread-pool hop; only a token check,
    which reads the database, goes to the pool."""
    access = _needed_access(request, context)
    if access is not None:
        await run_in_threadpool(_check_token, request, context, access)


def check_access(request: Request, context: AppContext) -> None:
    """Raise Unauthorized (401) or Forbidden (403) unless this request may go ahead.

    Also called by the handler of a body that is not JSON at all, which FastAPI refuses before
    any dependency runs, so that such a request too gets 401/403 first.
    """
    access = _needed_access(request, context)
    if access is not None:
        _check_token(request, context, access)


def _needed_access(request: Request, context: AppContext) -> Access | None:
    """The access this request needs a token for, or None when it needs none."""
    route = request.scope.get("route")
    # FastAPI hands over the route as its module declared it (no /v6); older versions copied it
    # with the prefix. Either way the template relative to /v6 is what the rule is written in.
    if isinstance(route, APIRoute):
        access = access_for(request.method, route.path_format.removeprefix(API_PREFIX))
    else:
        access = Access.WRITE  # not a route we know: refuse rather than guess
    if not needs_token(access, public_read=context.settings.public_read):
        return None
    return access


def _check_token(request: Request, context: AppContext, access: Access) -> None:
    """Raise Unauthorized or Forbidden unless the request's token (or, with no Authorization
    header, its session) grants ``access``."""
    header = request.headers.get("authorization")
    if header is None and request.cookies.get(SESSION_COOKIE):
        check_session(request, context, write=access is Access.WRITE)
        return
    token = token_from_header(header)
    if token is None:
        raise Unauthorized(
            f"Authorization: this request needs the header `Authorization: {SCHEME} <token>` "
            "or a signed-in session"
        )
    found = tokens.verify_token(context.db, token, now=context.clock.now())
    if found is None:
        raise Unauthorized("Authorization: the token is not valid (unknown or revoked)")
    if access is Access.WRITE and found.scope is not TokenScope.WRITE:
        raise Forbidden("Authorization: the token is read-only; this request needs a write token")


def current_session(request: Request, context: AppContext) -> SessionView | None:
    """The live session named by the request's ``sessionid`` cookie, or None."""
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    return accounts.session_for(context.db, key, now=context.clock.now())


def check_session(request: Request, context: AppContext, *, write: bool) -> SessionView:
    """The request's session; Unauthorized when there is none, and for a write Forbidden unless
    it proves it comes from this site's pages (``Origin`` and ``X-CSRFToken``)."""
    session = current_session(request, context)
    if session is None:
        raise Unauthorized("sessionid: not signed in, or the session has ended; sign in again")
    if write:
        origin = request.headers.get("origin")
        trusted = origin is not None and origin.rstrip("/").lower() in context.settings.trusted_origins
        if origin is not None and not trusted and not _same_host(origin, request):
            raise Forbidden(f"Origin: {origin} is another site; a session may write only from this one")
        if not accounts.csrf_matches(session, request.headers.get(CSRF_HEADER)):
            raise Forbidden(
                f"{CSRF_HEADER}: a write with a session must send the header {CSRF_HEADER} "
                f"holding the {CSRF_COOKIE} cookie"
            )
    return session


def _same_host(origin: str, request: Request) -> bool:
    """Whether ``Origin`` names the host this request was sent to (directly or via a proxy that
    says so in ``X-Forwarded-Host``)."""
    _, sep, netloc = origin.partition("://")
    if not sep or not netloc:
        return False
    hosts = {request.headers.get("host", "").lower()}
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded:
        hosts.update(h.strip().lower() for h in forwarded.split(","))
    return netloc.rstrip("/").lower() in hosts
