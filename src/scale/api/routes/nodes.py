"""``/v6/nodes/``: list with filters, detail, and PATCH to pause, resume or deprecate a node."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from scale.api.deps import MAX_ID, ClockDep, DbDep, parse_time
from scale.api.pagination import PageDep, make_page
from scale.api.schemas.common import Page
from scale.api.schemas.nodes import NodeOut, NodePatch
from scale.services import nodes
from scale.services.nodes import DEFAULT_NODE_ORDER, NodeFilters

router = APIRouter(prefix="/nodes", tags=["nodes"])

NodeId = Annotated[int, Path(ge=1, le=MAX_ID, description="Node id")]


@router.get("/")
def list_nodes(
    request: Request,
    db: DbDep,
    clock: ClockDep,
    paging: PageDep,
    is_active: Annotated[bool | None, Query(description="true or false; omitted for all")] = None,
    started: Annotated[str | None, Query(description="Earliest last_modified: datetime or duration")] = None,
    ended: Annotated[str | None, Query(description="Latest last_modified: datetime or duration")] = None,
    order: Annotated[list[str] | None, Query(description="Field, `-` for descending (repeatable)")] = None,
) -> Page[NodeOut]:
    now = clock.now()
    filters = NodeFilters(
        is_active=is_active,
        started=parse_time("started", started, now),
        ended=parse_time("ended", ended, now),
        order=order or DEFAULT_NODE_ORDER,
    )
    count, rows = nodes.list_nodes(db, filters, offset=paging.offset, limit=paging.limit)
    return make_page(request, paging, count, [NodeOut.from_row(r) for r in rows])


@router.get("/{node_id}/")
def read_node(node_id: NodeId, db: DbDep) -> NodeOut:
    return NodeOut.from_row(nodes.get_node(db, node_id))


@router.patch("/{node_id}/", status_code=204, response_class=Response)
def update_node(node_id: NodeId, body: NodePatch, db: DbDep, clock: ClockDep) -> Response:
    """Change any subset of ``is_paused``, ``pause_reason`` and ``is_active``; 204 with no body.

    ``is_active`` false stamps ``deprecated``, true clears it; ``is_paused`` false clears
    ``pause_reason``. Fields not sent are left as they are.
    """
    nodes.update_node(db, node_id, body.to_changes(), now=clock.now())
    return Response(status_code=204)
