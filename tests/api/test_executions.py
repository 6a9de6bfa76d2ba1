"""``/v6/jobs/{id}/executions/`` and the latest execution in the job detail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from scale.clock import FakeClock
from scale.store.db import Database
from tests.api.factories import insert_execution, insert_node, job_type_body, minimal_manifest
from tests.factories import error_id

EXECUTION_FIELDS = {
    "id",
    "status",
    "exe_num",
    "cluster_id",
    "created",
    "queued",
    "started",
    "ended",
    "job",
    "node",
    "error",
    "job_type",
    "timeout",
    "exit_code",
    "job_exit_code",
    "last_modified",
}


def queued_job(client: TestClient) -> dict[str, Any]:
    response = client.post("/v6/job-types/", json=job_type_body(minimal_manifest("exe-job", timeout=30)))
    assert response.status_code == 201, response.text
    job = client.post("/v6/jobs/", json={"job_type_id": response.json()["id"]})
    assert job.status_code == 201, job.text
    body: dict[str, Any] = job.json()
    return body


def test_executions_newest_first_with_running_and_ended(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    # Given a job whose first execution failed and whose second is running
    job = queued_job(client)
    node = insert_node(db, "node-a", now=clock.now())
    lost = error_id(db, "node-lost")
    first = insert_execution(
        db, job["id"], 1, node_id=node, started=clock.now(), end_status="FAILED", error_id=lost, exit_code=137
    )
    second = insert_execution(db, job["id"], 2, node_id=node, started=clock.now() + timedelta(minutes=1))

    # When the executions are listed
    response = client.get(f"/v6/jobs/{job['id']}/executions/")

    # Then the newest comes first, RUNNING while it has no end record
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 2
    newest, oldest = page["results"]
    assert set(newest) == EXECUTION_FIELDS
    assert (newest["id"], newest["exe_num"], newest["status"]) == (second, 2, "RUNNING")
    assert newest["ended"] is None and newest["exit_code"] is None and newest["error"] is None
    assert newest["started"] == "2026-01-01T00:01:00Z"
    assert (oldest["id"], oldest["exe_num"], oldest["status"]) == (first, 1, "FAILED")
    assert oldest["ended"] == "2026-01-01T00:00:30Z"
    assert oldest["exit_code"] == 137
    assert oldest["error"]["name"] == "node-lost"
    assert oldest["node"] == {"id": node, "hostname": "node-a"}
    assert oldest["job"] == {"id": job["id"]}
    assert oldest["job_type"] == {"id": job["job_type"]["id"], "name": "exe-job", "version": "1.0.0"}
    assert oldest["cluster_id"] == f"scale_{job['id']}_1"
    assert oldest["timeout"] == 30

    # And the job detail shows the latest execution
    assert client.get(f"/v6/jobs/{job['id']}/").json()["execution"] == newest


def test_execution_filters_and_paging(client: TestClient, db: Database, clock: FakeClock) -> None:
    job = queued_job(client)
    node_a = insert_node(db, "node-a", now=clock.now())
    node_b = insert_node(db, "node-b", now=clock.now())
    insert_execution(db, job["id"], 1, node_id=node_a, started=clock.now(), end_status="FAILED")
    insert_execution(db, job["id"], 2, node_id=node_b, started=clock.now(), end_status="COMPLETED")
    insert_execution(db, job["id"], 3, node_id=node_a, started=clock.now())

    def nums(query: str) -> list[int]:
        response = client.get(f"/v6/jobs/{job['id']}/executions/?{query}")
        assert response.status_code == 200, response.text
        return [e["exe_num"] for e in response.json()["results"]]

    assert nums("") == [3, 2, 1]
    assert nums("status=RUNNING") == [3]
    assert nums("status=COMPLETED&status=FAILED") == [2, 1]
    assert nums("status=RUNNING&status=FAILED") == [3, 1]
    assert nums(f"node_id={node_a}") == [3, 1]
    assert nums("page_size=2&page=2") == [1]
    assert nums("page=9") == []
    assert client.get(f"/v6/jobs/{job['id']}/executions/?status=LOST").status_code == 400


def test_execution_detail_adds_task_results_and_resources(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    job = queued_job(client)
    node = insert_node(db, "node-a", now=clock.now())
    insert_execution(db, job["id"], 1, node_id=node, started=clock.now(), end_status="COMPLETED", exit_code=0)
    insert_execution(db, job["id"], 2, node_id=node, started=clock.now())

    ended = client.get(f"/v6/jobs/{job['id']}/executions/1/")
    assert ended.status_code == 200
    body = ended.json()
    assert set(body) == EXECUTION_FIELDS | {"task_results", "resources"}
    assert body["status"] == "COMPLETED"
    assert body["task_results"] == [{"type": "main", "exit_code": 0}]
    assert body["resources"] == job["resources"]

    running = client.get(f"/v6/jobs/{job['id']}/executions/2/").json()
    assert running["status"] == "RUNNING"
    assert running["task_results"] is None


def test_unknown_job_or_execution_is_404(client: TestClient) -> None:
    job = queued_job(client)
    assert client.get("/v6/jobs/999/executions/").status_code == 404
    assert client.get(f"/v6/jobs/{job['id']}/executions/").json()["results"] == []
    assert client.get(f"/v6/jobs/{job['id']}/executions/1/").status_code == 404
    assert client.get("/v6/jobs/999/executions/1/").status_code == 404
    assert client.get(f"/v6/jobs/{job['id']}/executions/0/").status_code == 400
    assert client.get(f"/v6/jobs/{job['id']}/executions/x/").json()["detail"].startswith("exe_num: ")
