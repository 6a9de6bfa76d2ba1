"""ONE table from exceptions to HTTP status codes, and the handlers that apply it.

Every error body is ``{"detail": "<field>: <reason>; ..."}``. Routes never build error responses:
they raise (services raise the ``scale.exceptions`` tree) and the table below decides the status.
Bad input of any shape is a 4xx; a 500 means a bug in this code, and it is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool

from scale.api.auth import SCHEME, check_access
from scale.api.deps import context_of
from scale.exceptions import (
    BackendError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ScaleError,
    StoreError,
    Unauthorized,
)

log = logging.getLogger(__name__)

#: Exception class → (HTTP status, fixed detail or None to use the exception's own text).
#: Lookup walks the exception's MRO, so the most specific class listed wins. Database errors carry
#: SQL in their text, so they get a fixed detail instead.
ERROR_TABLE: Mapping[type[BaseException], tuple[int, str | None]] = {
    InvalidRequest: (400, None),
    Unauthorized: (401, None),
    Forbidden: (403, None),
    NotFound: (404, None),
    Conflict: (409, None),
    BackendError: (503, None),
    StoreError: (503, None),
    # A concurrent request won a race for the same unique key (e.g. the same job type name).
    sa_exc.IntegrityError: (409, "request: conflicts with a concurrent change; retry"),
    # A value the database refuses (out of range, NUL in text) that validation let through.
    sa_exc.DataError: (400, "request: a value is not accepted by the database"),
    sa_exc.OperationalError: (503, "database: unavailable"),
    sa_exc.InterfaceError: (503, "database: unavailable"),
    sa_exc.TimeoutError: (503, "database: no connection available"),
}

_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def status_for(exc: BaseException) -> tuple[int, str] | None:
    """The status and detail for ``exc``, or None when it is not in the table (a bug)."""
    for cls in type(exc).__mro__:
        entry = ERROR_TABLE.get(cls)
        if entry is not None:
            status, detail = entry
            return status, detail if detail is not None else str(exc)
    return None


def field_name(loc: Sequence[Any]) -> str:
    """``("body", "input", "json", "x")`` → ``input.json.x``; list indexes as ``[0]`` in bodies.

    Query parameters that repeat are named without the index (``job_id``, not ``job_id[0]``).
    """
    if not loc:
        return "request"
    source, rest = (str(loc[0]), list(loc[1:])) if str(loc[0]) in _SOURCES else ("body", list(loc))
    if source != "body":
        rest = [part for part in rest if not isinstance(part, int)]
    name = ""
    for part in rest:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or source


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        loc = error.get("loc") or ()
        where = f" at position {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
        return f"body: malformed JSON ({reason}{where})"
    name = field_name(error.get("loc") or ())
    if kind == "extra_forbidden":
        return f"{name}: unexpected field"
    if name == "body" and kind in {"model_attributes_type", "model_type", "dict_type", "missing"}:
        return "body: must be a JSON object"
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    return f"{name}: {message}"


def validation_detail(errors: Iterable[Mapping[str, Any]]) -> str:
    messages: list[str] = []
    for error in errors:
        message = _message(error)
        if message not in messages:
            messages.append(message)
    return "; ".join(messages) or "request: invalid"


def _respond(status: int, detail: str) -> JSONResponse:
    # A 401 names the scheme to authenticate with (RFC 9110 §11.6.1).
    headers = {"WWW-Authenticate": SCHEME} if status == 401 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        # FastAPI parses the body before the token check (a dependency) runs; check it here so a
        # request without the right token gets 401/403 whatever its body.
        try:
            await run_in_threadpool(check_access, request, context_of(request))
        except ScaleError as refused:
            return await _on_known_error(request, refused)
    return _respond(400, validation_detail(exc.errors()))


async def _on_known_error(request: Request, exc: Exception) -> JSONResponse:
    found = status_for(exc)
    if found is None:
        return await _on_unexpected_error(request, exc)
    status, detail = found
    if status >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return _respond(status, detail)


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s raised an unexpected error", request.method, request.url.path, exc_info=exc)
    return _respond(500, f"internal error ({type(exc).__name__}); see the API log")


def install_error_handlers(app: FastAPI) -> None:
    """Register the table's handlers, the request-validation handler and the catch-all."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    for cls in ERROR_TABLE:
        if issubclass(cls, Exception):
            app.add_exception_handler(cls, _on_known_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
