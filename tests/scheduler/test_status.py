"""The status builder: every spec key with the spec's type, empty lists and zeros by default."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from scale.domain.resources import Resources
from scale.domain.states import ErrorCategory, ExecutionStatus
from scale.domain.tasks import Registration
from scale.scheduler.metrics import FinishedExecution, FinishedMetrics
from scale.scheduler.node_state import NodeState
from scale.scheduler.offers import ResourceBreakdown
from scale.scheduler.status import NodeView, StatusInputs, build_status, format_time
from tests.status_schema import SPEC_EXAMPLE, mismatches

NOW = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def inputs(**changes: object) -> StatusInputs:
    values: dict[str, object] = {
        "now": NOW,
        "rates": dict.fromkeys(SPEC_EXAMPLE["scheduler"]["metrics"], 0.0),
        "hostname": "sched.example.com",
        "registration": Registration("fw-1", "master", 5050),
        "is_paused": False,
        "db_update_completed": NOW,
        "services": [
            {
                "name": "messaging",
                "title": "Messaging",
                "description": "d",
                "actual_count": 1,
                "desired_count": 1,
            }
        ],
        "nodes": [],
        "job_types": [],
        "finished": FinishedMetrics(),
    }
    values.update(changes)
    return StatusInputs(**values)  # type: ignore[arg-type]


def test_empty_cluster_has_every_spec_key() -> None:
    doc = build_status(inputs())
    assert mismatches(SPEC_EXAMPLE, doc) == []
    assert doc["nodes"] == [] and doc["job_types"] == [] and doc["num_offers"] == 0
    assert set(doc["resources"]) == {"cpus", "mem", "disk", "gpus"}
    assert doc["timestamp"] == "2026-03-04T05:06:07.123456Z"


def test_database_update_completed_is_null_until_done() -> None:
    doc = build_status(inputs(db_update_completed=None))
    assert doc["system"]["database_update"] == {"is_completed": False, "completed": None}


def test_populated_status_matches_spec_shapes_and_sums_active_nodes_only() -> None:
    res = ResourceBreakdown(
        offered=Resources(1, 100, 10, 0),
        running=Resources(1, 200, 0, 0),
        free=Resources(0.5, 0, 0, 0),
        unavailable=Resources(1.5, 700, 90, 0),
        total=Resources(4, 1000, 100, 0),
    )
    finished = FinishedMetrics()
    finished.add(FinishedExecution(1, 7, ExecutionStatus.FAILED, ErrorCategory.DATA, NOW), NOW)
    nodes = [
        NodeView(1, "h1", "a1", True, NodeState.READY, res, 2, Counter({7: 3})),
        NodeView(2, "h2", "a2", False, NodeState.DEPRECATED, res, 1),
    ]
    jt = {
        "id": 7,
        "name": "x",
        "version": "1.0",
        "title": "X",
        "description": "d",
        "is_system": False,
        "icon_code": None,
    }
    doc = build_status(inputs(nodes=nodes, job_types=[jt], is_paused=True, finished=finished))
    assert mismatches(SPEC_EXAMPLE, doc) == []
    assert doc["num_offers"] == 2
    assert doc["resources"]["cpus"] == {
        "offered": 1,
        "total": 4,
        "running": 1,
        "free": 0.5,
        "unavailable": 1.5,
    }
    assert doc["scheduler"]["state"]["name"] == "PAUSED"
    n1 = doc["nodes"][0]
    assert n1["job_executions"]["running"] == {"total": 3, "by_job_type": [{"job_type_id": 7, "count": 3}]}
    assert n1["job_executions"]["failed"]["data"]["total"] == 1
    assert doc["nodes"][1]["state"]["name"] == "DEPRECATED"


def test_format_time_uses_z() -> None:
    assert format_time(NOW).endswith("Z")


def test_mismatch_detector_catches_a_missing_key() -> None:
    doc = build_status(inputs())
    del doc["scheduler"]["metrics"]["new_offers_per_sec"]
    doc["num_offers"] = "4"
    assert mismatches(SPEC_EXAMPLE, doc) == [
        "scheduler.metrics.new_offers_per_sec: missing",
        "num_offers: expected number, got string",
    ]


def test_dependencies_flag_too_many_offline_nodes_and_dead_messages() -> None:
    nodes = [
        NodeView(1, "h1", "a1", True, NodeState.OFFLINE),
        NodeView(2, "h2", "a2", True, NodeState.READY),
    ]
    deps = build_status(inputs(nodes=nodes, dead_messages=2, message_backlog=7))["dependencies"]
    assert deps["nodes"]["OK"] is False
    assert deps["nodes"]["detail"]["num_offline"] == 1
    assert deps["msg_queue"]["OK"] is False
    assert deps["msg_queue"]["detail"] == {
        "msg": "Messages are failing",
        "type": "database",
        "queue_depth": 7,
        "dead_letters": 2,
    }
    assert deps["database"]["OK"] is True


def test_status_carries_the_running_counters_and_the_last_build_duration() -> None:
    doc = build_status(inputs(totals={"jobs_launched": 7}, build_seconds=0.0123456789))
    assert doc["scheduler"]["counters"] == {"jobs_launched": 7}
    assert doc["scheduler"]["status_build_seconds"] == 0.012346
    assert mismatches(SPEC_EXAMPLE, doc) == []
