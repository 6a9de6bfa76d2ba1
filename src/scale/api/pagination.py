"""Page-number pagination, Scale's ``{count, next, previous, results}`` with absolute-path links.

A page past the end is an empty page (200), not a 404; ``page`` < 1 or ``page_size`` outside
1..1000 is a 400 naming the parameter; ``page_size=null`` and ``page=null`` are not given
(:class:`NullPageSize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from scale.api.schemas.common import Page

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: Keeps page * page_size inside a 64-bit offset on every database.
MAX_PAGE = 2**31 - 1


@dataclass(frozen=True, slots=True)
class PageParams:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size


async def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Results per page, 1 to 1000 (`null`: 100)")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page, page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


def page_link(request: Request, page: int) -> str:
    """This request's path and query with ``page`` replaced (other parameters kept, in order)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    items.append(("page", str(page)))
    return f"{request.url.path}?{urlencode(items)}"


def make_page(request: Request, params: PageParams, count: int, results: Sequence[T]) -> Page[T]:
    has_next = params.page * params.page_size < count
    return Page(
        count=count,
        next=page_link(request, params.page + 1) if has_next else None,
        previous=page_link(request, params.page - 1) if params.page > 1 else None,
        results=list(results),
    )


_NULL_PAGING = frozenset({b"page_size=null", b"page=null"})


class NullPageSize:
    """Pure ASGI middleware: drop ``page_size=null`` (and ``page=null``) from the query string, so
    it means "not given" as it did in Scale (Django REST framework ignores a page size it cannot
    read); Scale's UI sends them for its charts. Any other value is left to be checked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string") or b""
        if scope["type"] == "http" and b"=null" in query:
            kept = [p for p in query.split(b"&") if p not in _NULL_PAGING]
            scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)
