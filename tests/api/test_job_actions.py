"""POST /v6/jobs/cancel/ and /v6/jobs/requeue/: 202, selected by filters; bad bodies are 400."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from scale.store.db import Database
from scale.store.tables import JobRow, QueueRow
from tests.factories import error_id, make_job_type, make_queued_job


def statuses(db: Database) -> dict[int, str]:
    with db.read() as s:
        return {j.id: j.status for j in s.scalars(select(JobRow))}


def test_cancel_selected_jobs_and_requeue_them(client: TestClient, db: Database) -> None:
    a, b = make_job_type(db, name="a"), make_job_type(db, name="b")
    ja, jb = make_queued_job(db, a), make_queued_job(db, b)
    r = client.post("/v6/jobs/cancel/", json={"job_type_ids": [a]})
    assert r.status_code == 202 and r.content == b""
    assert statuses(db) == {ja: "CANCELED", jb: "QUEUED"}
    with db.read() as s:
        assert s.get(QueueRow, ja) is None and s.get(QueueRow, jb) is not None
    # Canceling again changes nothing; requeue brings it back with a new priority
    assert client.post("/v6/jobs/cancel/", json={"job_ids": [ja]}).status_code == 202
    assert client.post("/v6/jobs/requeue/", json={"job_ids": [ja, jb], "priority": 7}).status_code == 202
    with db.read() as s:
        job = s.get(JobRow, ja)
        queue = s.get(QueueRow, ja)
        assert job is not None and queue is not None
        assert (job.status, job.num_exes, job.priority, queue.exe_num) == ("QUEUED", 2, 7, 2)
        other = s.get(JobRow, jb)
        assert other is not None and other.num_exes == 1  # a QUEUED job is not requeued


def test_cancel_with_a_status_filter(client: TestClient, db: Database) -> None:
    t = make_job_type(db)
    j = make_queued_job(db, t)
    assert client.post("/v6/jobs/cancel/", json={"status": ["RUNNING"]}).status_code == 202
    assert statuses(db) == {j: "QUEUED"}
    assert client.post("/v6/jobs/cancel/", json={}).status_code == 202
    assert statuses(db) == {j: "CANCELED"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v6/jobs/cancel/", {"job_ids": "1"}, "job_ids"),
        ("/v6/jobs/cancel/", {"jobs": [1]}, "jobs"),
        ("/v6/jobs/cancel/", {"status": ["DONE"]}, "status"),
        ("/v6/jobs/requeue/", {"priority": "high"}, "priority"),
        ("/v6/jobs/requeue/", {"priority": -1}, "priority"),
        ("/v6/jobs/requeue/", {"job_type_ids": [True]}, "job_type_ids"),
        ("/v6/jobs/cancel/", {"job_ids": [2**63]}, "job_ids[0]"),
        ("/v6/jobs/requeue/", {"job_type_ids": [1, 0]}, "job_type_ids[1]"),
        ("/v6/jobs/cancel/", {"error_categories": ["BAD"]}, "error_categories[0]"),
        ("/v6/jobs/cancel/", {"job_type_names": [""]}, "job_type_names[0]"),
        ("/v6/jobs/requeue/", {"error_ids": [0]}, "error_ids[0]"),
        ("/v6/jobs/cancel/", {"started": "yesterday"}, "started"),
        ("/v6/jobs/requeue/", {"ended": 12.5e99}, "ended"),
    ],
)
def test_bad_bodies_are_400_naming_the_field_and_change_nothing(
    client: TestClient, db: Database, path: str, body: dict[str, object], field: str
) -> None:
    t = make_job_type(db)
    j = make_queued_job(db, t)
    r = client.post(path, json=body)
    assert r.status_code == 400 and field in r.json()["detail"], r.text
    assert statuses(db) == {j: "QUEUED"}


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/v6/jobs/cancel/", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


def _fail(db: Database, job_id: int, error_name: str, when: str) -> None:
    from datetime import datetime

    with db.session() as s:
        job = s.get(JobRow, job_id)
        assert job is not None
        job.status, job.error_id = "FAILED", error_id(db, error_name)
        job.last_modified = datetime.fromisoformat(when)
        s.execute(delete(QueueRow).where(QueueRow.job_id == job_id))


def test_requeue_filters_narrow_by_type_name_error_and_time(client: TestClient, db: Database) -> None:
    a, b = make_job_type(db, name="alpha"), make_job_type(db, name="beta")
    data_early, system_late, other_type = (
        make_queued_job(db, a),
        make_queued_job(db, a),
        make_queued_job(db, b),
    )
    _fail(db, data_early, "unknown", "2026-01-01T00:00:00+00:00")  # SYSTEM
    _fail(db, system_late, "node-lost", "2026-06-01T00:00:00+00:00")  # SYSTEM
    _fail(db, other_type, "node-lost", "2026-06-01T00:00:00+00:00")
    assert (
        client.post(
            "/v6/jobs/requeue/", json={"job_type_names": ["alpha"], "ended": "2026-03-01T00:00:00Z"}
        ).status_code
        == 202
    )
    assert statuses(db) == {data_early: "QUEUED", system_late: "FAILED", other_type: "FAILED"}
    node_lost = error_id(db, "node-lost")
    body = {"error_ids": [node_lost], "started": "2026-05-01T00:00:00Z", "job_type_names": ["beta"]}
    assert client.post("/v6/jobs/requeue/", json=body).status_code == 202
    assert statuses(db) == {data_early: "QUEUED", system_late: "FAILED", other_type: "QUEUED"}
    assert client.post("/v6/jobs/cancel/", json={"error_categories": ["DATA"]}).status_code == 202
    assert statuses(db)[system_late] == "FAILED"  # a SYSTEM failure is not a DATA one
    assert (
        client.post(
            "/v6/jobs/cancel/", json={"error_categories": ["SYSTEM"], "status": ["FAILED"]}
        ).status_code
        == 202
    )
    assert statuses(db) == {data_early: "QUEUED", system_late: "CANCELED", other_type: "QUEUED"}
