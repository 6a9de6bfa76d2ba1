"""GET ``/v6/scheduler/queued-resources/`` (Scale HEAD): cluster totals, job counts and resource
sums per status."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete

from scale.store.db import Database
from scale.store.tables import JobRow, SchedulerRow
from tests.factories import make_job_type, make_queued_job

URL = "/v6/scheduler/queued-resources/"
ZERO = {"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}


def set_status(db: Database, status: dict[str, Any] | None) -> None:
    with db.session() as session:
        row = session.get(SchedulerRow, 1)
        assert row is not None
        row.status = status


def set_job(db: Database, job_id: int, status: str, resources: dict[str, Any]) -> None:
    with db.session() as session:
        job = session.get(JobRow, job_id)
        assert job is not None
        job.status, job.resources = status, resources


def test_empty_system_is_all_zeros(client: TestClient, db: Database) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "cluster_resources": ZERO,
        "queue_lengths": {"PENDING": 0, "QUEUED": 0, "RUNNING": 0},
        "total_resources": {"PENDING": ZERO, "QUEUED": ZERO, "RUNNING": ZERO},
    }


def test_sums_by_status_and_cluster_totals(client: TestClient, db: Database) -> None:
    set_status(
        db,
        {
            "resources": {
                "cpus": {"total": 16.0, "running": 2.0},
                "mem": {"total": 65536.0},
                "disk": {"total": 1000.5},
                "gpus": {"total": 1.0},
            }
        },
    )
    job_type_id = make_job_type(db)
    queued = [make_queued_job(db, job_type_id) for _ in range(3)]
    set_job(db, queued[0], "RUNNING", {"cpus": 2.0, "mem": 1024.0, "disk": 10.0, "gpus": 1.0})
    set_job(db, queued[1], "PENDING", {"cpus": 1.5, "mem": 64.0})
    done = make_queued_job(db, job_type_id)
    set_job(db, done, "COMPLETED", {"cpus": 99.0, "mem": 99.0, "disk": 99.0, "gpus": 99.0})

    body = client.get(URL).json()
    assert body["cluster_resources"] == {"cpus": 16.0, "mem": 65536.0, "disk": 1000.5, "gpus": 1.0}
    assert body["queue_lengths"] == {"PENDING": 1, "QUEUED": 1, "RUNNING": 1}
    assert body["total_resources"] == {
        "PENDING": {"cpus": 1.5, "mem": 64.0, "disk": 0.0, "gpus": 0.0},
        "QUEUED": {"cpus": 0.25, "mem": 128.0, "disk": 0.0, "gpus": 0.0},
        "RUNNING": {"cpus": 2.0, "mem": 1024.0, "disk": 10.0, "gpus": 1.0},
    }


def test_a_status_document_without_resources_counts_as_zero(client: TestClient, db: Database) -> None:
    set_status(db, {"resources": {"cpus": {"total": "many"}, "mem": 5}})
    assert client.get(URL).json()["cluster_resources"] == ZERO


def test_without_a_scheduler_row_the_cluster_is_zero(client: TestClient, db: Database) -> None:
    with db.session() as session:
        session.execute(delete(SchedulerRow))
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["cluster_resources"] == ZERO


def test_reading_writes_nothing(client: TestClient, db: Database) -> None:
    job_type_id = make_job_type(db)
    make_queued_job(db, job_type_id)
    first = client.get(URL).json()
    assert client.get(URL).json() == first
    assert first["queue_lengths"]["QUEUED"] == 1
