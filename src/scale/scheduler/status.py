"""The status snapshot served at ``GET /v6/status/`` (DESIGN §9), built as a pure function of the
scheduler's in-memory state. Every key of the spec is present in every snapshot: empty lists
and zeros where there is nothing; ``database_update.completed`` is null until the update ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scale.domain.tasks import Registration
from scale.scheduler.metrics import FinishedMetrics, running_json
from scale.scheduler.node_state import SCHEDULER_STATE_TEXT, NodeState, state_json
from scale.scheduler.offers import EMPTY_BREAKDOWN, ResourceBreakdown, sum_breakdowns


def format_time(when: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix, microseconds kept (Scale's ``datetime_to_string``)."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class NodeView:
    node_id: int
    hostname: str
    agent_id: str
    is_active: bool
    state: NodeState
    resources: ResourceBreakdown = EMPTY_BREAKDOWN
    num_offers: int = 0
    running_by_type: Mapping[int, int] = field(default_factory=dict)
    node_tasks: Sequence[Mapping[str, Any]] = ()
    system_tasks: Sequence[Mapping[str, Any]] = ()
    errors: Sequence[Mapping[str, Any]] = ()
    warnings: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True)
class StatusInputs:
    now: datetime
    rates: Mapping[str, float]
    hostname: str
    registration: Registration | None
    is_paused: bool
    db_update_completed: datetime | None
    services: Sequence[Mapping[str, Any]]
    nodes: Sequence[NodeView]
    job_types: Sequence[Mapping[str, Any]]
    finished: FinishedMetrics
    warnings: Sequence[Mapping[str, Any]] = ()
    message_backlog: int = 0
    dead_messages: int = 0
    #: the transport's name and extra figures (outbox, broker depth, handler throughput)
    queue_transport: str = "database"
    queue_detail: Mapping[str, Any] = field(default_factory=dict)
    queue_error: str | None = None
    database_ok: bool = True
    #: the rates' running totals since the scheduler started (``RateCounters.totals``)
    totals: Mapping[str, int] = field(default_factory=dict)
    #: how long the previous status build and store took, in seconds
    build_seconds: float = 0.0


def _mesos(reg: Registration | None) -> dict[str, Any]:
    if reg is None:
        return {"framework_id": None, "master_hostname": None, "master_port": None}
    return {
        "framework_id": reg.framework_id,
        "master_hostname": reg.master_hostname,
        "master_port": reg.master_port,
    }


def _node_json(node: NodeView, finished: FinishedMetrics) -> dict[str, Any]:
    done = finished.node_json(node.node_id)
    return {
        "id": node.node_id,
        "hostname": node.hostname,
        "agent_id": node.agent_id,
        "is_active": node.is_active,
        "state": state_json(node.state),
        "errors": [dict(e) for e in node.errors],
        "warnings": [dict(w) for w in node.warnings],
        "node_tasks": [dict(t) for t in node.node_tasks],
        "system_tasks": [dict(t) for t in node.system_tasks],
        "num_offers": node.num_offers,
        "resources": node.resources.to_status(),
        "job_executions": {
            "running": running_json(Counter(node.running_by_type)),
            "completed": done["completed"],
            "failed": done["failed"],
        },
    }


def build_status(inputs: StatusInputs) -> dict[str, Any]:
    active = [n for n in inputs.nodes if n.is_active]
    cluster = sum_breakdowns([n.resources for n in active])
    completed = inputs.db_update_completed
    return {
        "timestamp": format_time(inputs.now),
        "scheduler": {
            "metrics": dict(inputs.rates),
            "hostname": inputs.hostname,
            "mesos": _mesos(inputs.registration),
            "state": dict(SCHEDULER_STATE_TEXT[inputs.is_paused]),
            "warnings": [dict(w) for w in inputs.warnings],
            # Beyond the spec (clients ignore extra keys): what /metrics exports as counters.
            "counters": dict(inputs.totals),
            "status_build_seconds": round(inputs.build_seconds, 6),
        },
        "system": {
            "database_update": {
                "is_completed": completed is not None,
                "completed": format_time(completed) if completed is not None else None,
            },
            "services": [dict(s) for s in inputs.services],
        },
        "num_offers": sum(n.num_offers for n in active),
        "resources": cluster.to_status(),
        "job_types": [dict(jt) for jt in inputs.job_types],
        "nodes": [_node_json(n, inputs.finished) for n in inputs.nodes],
        "dependencies": _dependencies(inputs),
    }


def _dependency(ok: bool, msg: str, errors: list[dict[str, str]], **detail: Any) -> dict[str, Any]:
    return {"OK": ok, "detail": {"msg": msg, **detail}, "errors": errors, "warnings": []}


def _dependencies(inputs: StatusInputs) -> dict[str, Any]:
    """Scale HEAD's ``dependencies`` block, from state the scheduler already holds (no I/O)."""
    nodes = [n for n in inputs.nodes if n.is_active]
    offline = sum(1 for n in nodes if n.state == NodeState.OFFLINE)
    degraded = sum(1 for n in nodes if n.state == NodeState.DEGRADED)
    nodes_ok = bool(nodes) and (offline + degraded) <= 0.3 * len(nodes)
    node_errors = []
    if not nodes:
        node_errors.append({"NODES_EMPTY": "No nodes reported"})
    elif not nodes_ok:
        node_errors.append(
            {"NODES_ERRORED": f"{offline + degraded} of {len(nodes)} nodes are offline or degraded"}
        )
    queue_errors = []
    if inputs.dead_messages:
        queue_errors.append(
            {"DEAD_LETTERS": f"{inputs.dead_messages} message(s) failed 5 times and were set aside"}
        )
    if inputs.queue_error:
        queue_errors.append(
            {"BROKER_UNREACHABLE": f"The message broker did not answer: {inputs.queue_error}"}
        )
    return {
        "database": _dependency(
            inputs.database_ok,
            "Database alive and well" if inputs.database_ok else "Database is not answering",
            [] if inputs.database_ok else [{"DATABASE_ERROR": "The database did not answer"}],
        ),
        "msg_queue": _dependency(
            not queue_errors,
            "Message queue is alive" if not queue_errors else "Messages are failing",
            queue_errors,
            type=inputs.queue_transport,
            queue_depth=inputs.message_backlog,
            dead_letters=inputs.dead_messages,
            **inputs.queue_detail,
        ),
        "nodes": _dependency(
            nodes_ok,
            "Enough nodes are online" if nodes_ok else "Too many nodes are offline or degraded",
            node_errors,
            num_nodes=len(nodes),
            num_offline=offline,
            num_degraded=degraded,
        ),
        "logs": _dependency(True, "Task output is written to each execution's logs directory", []),
    }
