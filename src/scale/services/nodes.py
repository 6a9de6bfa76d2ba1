"""Nodes: list and read the cluster's nodes, and pause, resume, deprecate or reactivate one.

A PATCH changes only the fields it names. Scale's ``NodeManager.update_node`` stamps
``deprecated`` even when ``is_active`` is absent (its ``!= None`` comparison is always true);
that bug is not copied: ``deprecated`` moves only when ``is_active`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from scale.exceptions import FieldProblem, InvalidRequest, NotFound
from scale.services.job_types import MAX_INT32
from scale.store.db import Database
from scale.store.tables import NodeRow

#: Width of ``node.pause_reason``.
MAX_PAUSE_REASON = 250

#: ``order`` values a node list accepts (each may start with ``-`` for descending).
NODE_ORDER_FIELDS: Mapping[str, Any] = {
    "id": NodeRow.id,
    "hostname": NodeRow.hostname,
    "pause_reason": NodeRow.pause_reason,
    "is_paused": NodeRow.is_paused,
    "is_active": NodeRow.is_active,
    "deprecated": NodeRow.deprecated,
    "created": NodeRow.created,
    "last_modified": NodeRow.last_modified,
}
DEFAULT_NODE_ORDER: tuple[str, ...] = ("last_modified",)


@dataclass(frozen=True, slots=True)
class NodeFilters:
    is_active: bool | None = None
    started: datetime | None = None
    ended: datetime | None = None
    order: Sequence[str] = DEFAULT_NODE_ORDER


@dataclass(frozen=True, slots=True)
class NodeChanges:
    """The fields a caller asked to change. ``given`` names them, since ``pause_reason`` may be
    set to None (cleared) on purpose; a field not in ``given`` is left as it is."""

    given: frozenset[str]
    is_paused: bool | None = None
    pause_reason: str | None = None
    is_active: bool | None = None


def ordering(order: Sequence[str], fields: Mapping[str, Any], id_column: Any) -> list[Any]:
    """ORDER BY clauses for ``order`` (``-`` = descending) over ``fields``, ending with the id.

    InvalidRequest naming ``order`` for a field that cannot be ordered by.
    """
    unknown = [o for o in order if o.removeprefix("-") not in fields]
    if unknown:
        allowed = ", ".join(fields)
        raise InvalidRequest([FieldProblem("order", f"cannot order by {', '.join(unknown)}; use {allowed}")])
    clauses: list[Any] = []
    descending_last = False
    for item in order:
        column = fields[item.removeprefix("-")]
        descending_last = item.startswith("-")
        clauses.append(column.desc().nulls_last() if descending_last else column.asc().nulls_last())
    if not any(o.removeprefix("-") == "id" for o in order):
        clauses.append(id_column.desc() if descending_last else id_column.asc())
    return clauses


def check_time_range(started: datetime | None, ended: datetime | None) -> None:
    """InvalidRequest naming ``ended`` when it is before ``started`` (Scale's ``check_time_range``)."""
    if started is not None and ended is not None and ended < started:
        raise InvalidRequest([FieldProblem("ended", "must not be before started")])


def _conditions(filters: NodeFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.is_active is not None:
        conditions.append(NodeRow.is_active.is_(filters.is_active))
    if filters.started is not None:
        conditions.append(NodeRow.last_modified >= filters.started)
    if filters.ended is not None:
        conditions.append(NodeRow.last_modified <= filters.ended)
    return conditions


def list_nodes(db: Database, filters: NodeFilters, *, offset: int, limit: int) -> tuple[int, list[NodeRow]]:
    """The total matching ``filters`` and one page of them, in ``filters.order``."""
    check_time_range(filters.started, filters.ended)
    clauses = ordering(filters.order or DEFAULT_NODE_ORDER, NODE_ORDER_FIELDS, NodeRow.id)
    query = select(NodeRow).where(*_conditions(filters))
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(*clauses).offset(offset).limit(limit))
        return count, list(rows)


def get_node(db: Database, node_id: int) -> NodeRow:
    with db.read() as session:
        row = session.get(NodeRow, node_id) if 0 < node_id <= MAX_INT32 else None
        if row is None:
            raise NotFound(f"node {node_id} does not exist")
        return row


def _validated(changes: NodeChanges) -> NodeChanges:
    """InvalidRequest naming every bad field; wire types are the caller's schema's job."""
    if not changes.given:
        raise InvalidRequest([FieldProblem("body", "give at least one field to change")])
    reason = changes.pause_reason
    if reason is not None:
        if "\x00" in reason:
            raise InvalidRequest([FieldProblem("pause_reason", "must not contain NUL characters")])
        if len(reason) > MAX_PAUSE_REASON:
            raise InvalidRequest(
                [FieldProblem("pause_reason", f"must be at most {MAX_PAUSE_REASON} characters")]
            )
    if "is_paused" in changes.given and changes.is_paused is None:
        raise InvalidRequest([FieldProblem("is_paused", "may not be null")])
    if "is_active" in changes.given and changes.is_active is None:
        raise InvalidRequest([FieldProblem("is_active", "may not be null")])
    return changes


def update_node(db: Database, node_id: int, changes: NodeChanges, *, now: datetime) -> NodeRow:
    """Apply ``changes`` to node ``node_id`` in one transaction; nothing is written on a rejection.

    - ``is_active`` false stamps ``deprecated`` (kept if the node was already inactive); true clears it;
    - ``is_paused`` false clears ``pause_reason`` (even one sent alongside, as Scale does);
    - ``last_modified`` becomes ``now``.

    NotFound for an unknown node, InvalidRequest for a bad value.
    """
    valid = _validated(changes)
    with db.session() as session:
        row = session.get(NodeRow, node_id, with_for_update=True) if 0 < node_id <= MAX_INT32 else None
        if row is None:
            raise NotFound(f"node {node_id} does not exist")
        if "pause_reason" in valid.given:
            row.pause_reason = valid.pause_reason
        if valid.is_paused is not None:
            row.is_paused = valid.is_paused
            if not valid.is_paused:
                row.pause_reason = None
        if valid.is_active is not None:
            if valid.is_active:
                row.deprecated = None
            elif row.is_active or row.deprecated is None:
                row.deprecated = now
            row.is_active = valid.is_active
        row.last_modified = now
        session.flush()
        return row
