"""The OpenAPI document, made to say what the API really does where FastAPI's defaults do not.

FastAPI documents a 422 for bad input; this API answers 400 (``api/errors.py``). It knows nothing
of the token rule in ``api/auth.py``. So after FastAPI builds the document, each operation gets:

* 400 instead of 422 (every route can refuse input: NUL characters are refused everywhere);
* 404 when its path has parameters (routes that can 404 otherwise declare it themselves);
* the ``Token`` security requirement and 401 (and 403 for writes) when :func:`access_for` says
  it needs a token under the app's settings;
* 409 for writes (a concurrent change to the same row) and 503 (the database is unavailable)
  for everything that reads the database;
* the ``{"detail": ...}`` schema on every error response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from scale.api.auth import SCHEME, Access, access_for, needs_token
from scale.api.schemas.common import ProblemOut
from scale.config import Settings

SECURITY_SCHEME = "Token"
PROBLEM_REF = {"$ref": "#/components/schemas/ProblemOut"}

#: For ``responses=`` on routes that can answer 404 without a path parameter.
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemOut, "description": "Something the request names does not exist"}
}

_DESCRIPTIONS: Mapping[str, str] = {
    "400": "Bad input; `detail` names the field and the reason",
    "401": f"No valid token: send `Authorization: {SCHEME} <token>` (a token that is unknown or revoked "
    "is refused too)",
    "403": "The token is read-only and this is a write",
    "404": "Something the request names does not exist",
    "409": "A concurrent change to the same data won; retry",
    "503": "The database (or the backend) is unavailable",
}


def install_openapi(app: FastAPI, settings: Settings, *, prefix: str) -> None:
    """Replace ``app.openapi`` with one that corrects FastAPI's document once, then caches it.

    ``prefix`` is the one the API's routes are mounted under (``/v6``); paths outside it (none
    today) are left as FastAPI wrote them.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            correct_document(generate(), prefix=prefix, public_read=settings.public_read)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def correct_document(document: dict[str, Any], *, prefix: str, public_read: bool) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault("ProblemOut", ProblemOut.model_json_schema())
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": f"`{SCHEME} <token>`; create a token with `scale token create` "
        "(`--read-only` for one that may only read). `scale up` prints one at start.",
    }
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(prefix + "/"):
            continue
        for method, operation in operations.items():
            if method in _METHODS:
                _correct_operation(operation, path.removeprefix(prefix), method, public_read=public_read)
    if not _references(document.get("paths", {}), "HTTPValidationError"):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _correct_operation(operation: dict[str, Any], path: str, method: str, *, public_read: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    responses["400"] = {}
    if "{" in path:
        responses.setdefault("404", {})
    access = access_for(method, path)
    if needs_token(access, public_read=public_read):
        operation["security"] = [{SECURITY_SCHEME: []}]
        responses["401"] = {"headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": SCHEME}}}}
        if access is Access.WRITE:
            responses["403"] = {}
    if access is Access.WRITE:
        responses.setdefault("409", {})
    if access is not Access.OPEN:
        responses.setdefault("503", {})
    for code, response in responses.items():
        if code[:1] in {"4", "5"}:
            response.setdefault("description", _DESCRIPTIONS.get(code, "Error"))
            response.setdefault("content", {"application/json": {"schema": PROBLEM_REF}})
    operation["responses"] = dict(sorted(responses.items()))


def _references(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return any(_references(v, name) for v in node.values()) or node.get("$ref", "").endswith(f"/{name}")
    if isinstance(node, list):
        return any(_references(v, name) for v in node)
    return False
