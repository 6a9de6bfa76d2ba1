"""Every handler is idempotent: a message applied a second time changes nothing.

RabbitMQ redelivers a message whose consumer died after its transaction committed and before
its ack (``messaging.amqp``), so each handler type must shrug off a repeat. These tests apply
each message twice, the second time later (a different ``now``), and compare every table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from scale.domain import messages as mt
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.tables import Base
from tests.factories import T0, error_id, make_job_type, make_node, make_queued_job
from tests.messaging.test_handlers import job, start_execution


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the message queue itself, in primary-key order."""
    with db.read() as s:
        return {
            table.name: [tuple(row) for row in s.execute(select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
            if table.name != "message"
        }


def apply(db: Database, type_: str, body: dict[str, Any], minutes: int) -> None:
    with db.session() as session:
        HANDLERS[type_](session, mt.from_json(type_, body), T0 + timedelta(minutes=minutes))


def running(db: Database) -> tuple[str, dict[str, Any]]:
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    return mt.RUNNING_JOBS, {"jobs": [{"job_id": job_id, "exe_num": 1, "node_id": node_id}]}


def completed(db: Database) -> tuple[str, dict[str, Any]]:
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    return mt.COMPLETED_JOBS, {"jobs": [{"job_id": job_id, "exe_num": 1, "node_id": node_id}]}


def failed_retryable(db: Database) -> tuple[str, dict[str, Any]]:
    job_id = make_queued_job(db, make_job_type(db), max_tries=3)
    lost = error_id(db, "node-lost")  # retried: the first application requeues the job
    return mt.FAILED_JOBS, {"jobs": [{"job_id": job_id, "exe_num": 1, "error_id": lost}]}


def failed_for_good(db: Database) -> tuple[str, dict[str, Any]]:
    job_id = make_queued_job(db, make_job_type(db))
    return mt.FAILED_JOBS, {
        "jobs": [{"job_id": job_id, "exe_num": 1, "error_id": error_id(db, "algorithm-unknown")}]
    }


def exe_ends(db: Database) -> tuple[str, dict[str, Any]]:
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    exe_id = start_execution(db, job_id, type_id, node_id)
    end = {
        "job_exe_id": exe_id,
        "job_id": job_id,
        "exe_num": 1,
        "job_type_id": type_id,
        "node_id": node_id,
        "status": "COMPLETED",
        "task_results": [],
    }
    return mt.CREATE_JOB_EXE_ENDS, {"exe_ends": [end]}


def restart(db: Database) -> tuple[str, dict[str, Any]]:
    type_id, node_id = make_job_type(db), make_node(db)
    start_execution(db, make_queued_job(db, type_id), type_id, node_id)
    return mt.RESTART_SCHEDULER, {"when": T0.isoformat()}


SCENARIOS: dict[str, Callable[[Database], tuple[str, dict[str, Any]]]] = {
    "running_jobs": running,
    "completed_jobs": completed,
    "failed_jobs (retried)": failed_retryable,
    "failed_jobs (for good)": failed_for_good,
    "create_job_exe_ends": exe_ends,
    "restart_scheduler": restart,
}


def test_every_handler_type_has_a_scenario() -> None:
    assert {name.split(" ")[0] for name in SCENARIOS} == set(HANDLERS)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_applying_a_message_twice_changes_nothing_the_second_time(db: Database, scenario: str) -> None:
    type_, body = SCENARIOS[scenario](db)
    before = snapshot(db)
    apply(db, type_, body, minutes=1)
    once = snapshot(db)
    if type_ != mt.RESTART_SCHEDULER:
        assert once != before, "the first application must change something for the test to mean anything"
    apply(db, type_, body, minutes=2)
    assert snapshot(db) == once


def test_a_late_running_jobs_after_a_retry_changes_nothing(db: Database) -> None:
    """A redelivered ``running_jobs`` of an execution that already failed and was requeued."""
    type_, body = running(db)
    job_id = body["jobs"][0]["job_id"]
    apply(db, type_, body, minutes=1)
    lost = error_id(db, "node-lost")
    apply(db, mt.FAILED_JOBS, {"jobs": [{"job_id": job_id, "exe_num": 1, "error_id": lost}]}, minutes=2)
    requeued = snapshot(db)
    assert (job(db, job_id).status, job(db, job_id).num_exes) == ("QUEUED", 2)
    apply(db, type_, body, minutes=3)
    assert snapshot(db) == requeued
