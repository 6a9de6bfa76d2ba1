"""``/v6/jobs/``: create (queued at once, one transaction), list with filters, detail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from scale.clock import FakeClock
from scale.store.db import Database
from scale.store.tables import JobRow, JobTypeRevisionRow, QueueRow
from tests.api.factories import count_rows, insert_node, job_type_body, minimal_manifest
from tests.factories import error_id

SUMMARY_FIELDS = {
    "id",
    "job_type",
    "job_type_rev",
    "status",
    "node",
    "error",
    "num_exes",
    "max_tries",
    "priority",
    "created",
    "queued",
    "started",
    "ended",
    "last_status_change",
    "last_modified",
    # what Scale's UI reads on every job (issue 17): the trigger event and the latest execution
    "event",
    "execution",
    "recipe",
    "batch",
    "is_superseded",
    "superseded_job",
    "input_file_size",
    "timeout",
}
DETAIL_FIELDS = SUMMARY_FIELDS | {
    "resources",
    "input",
    "output",
    "configuration",
    "inputs",
    "outputs",
    "queue_reasons",
}

JSON_INPUTS = [
    {"name": "count", "type": "integer", "required": True},
    {"name": "label", "type": "string", "required": False},
]


def make_type(client: TestClient, name: str = "test-job", **fields: Any) -> int:
    manifest = fields.pop("manifest", None) or minimal_manifest(name, json_inputs=JSON_INPUTS, timeout=90)
    response = client.post("/v6/job-types/", json=job_type_body(manifest, **fields))
    assert response.status_code == 201, response.text
    type_id: int = response.json()["id"]
    return type_id


def make_job(client: TestClient, type_id: int, count: int = 1) -> dict[str, Any]:
    response = client.post("/v6/jobs/", json={"job_type_id": type_id, "input": {"json": {"count": count}}})
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


# --------------------------------------------------------------------------- create


def test_create_queues_the_job_in_one_go(client: TestClient, db: Database, clock: FakeClock) -> None:
    type_id = make_type(client, configuration={"priority": 42}, max_tries=4)
    response = client.post(
        "/v6/jobs/", json={"job_type_id": type_id, "input": {"json": {"count": 3}}, "configuration": {}}
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["location"] == f"/v6/jobs/{job['id']}/"
    assert set(job) == DETAIL_FIELDS
    assert job["status"] == "QUEUED"
    assert (job["num_exes"], job["priority"], job["max_tries"], job["timeout"]) == (1, 42, 4, 90)
    assert job["resources"] == {"resources": {"cpus": 0.5, "mem": 256.0, "disk": 0.0, "gpus": 0.0}}
    assert job["input"] == {"json": {"count": 3}, "files": {}}
    assert job["output"] is None
    assert job["execution"] is None
    assert job["queue_reasons"] is None
    assert job["node"] is None and job["error"] is None
    assert job["job_type"] == {
        "id": type_id,
        "name": "test-job",
        "version": "1.0.0",
        "title": "Test Job",
        "description": "test-job for API tests",
        "icon_code": None,
        "is_system": False,
        "is_long_running": False,
        "is_active": True,
        "is_paused": False,
        "is_published": False,
        "revision_num": 1,
        "unmet_resources": None,
    }
    assert job["event"] == {"id": job["id"], "type": "USER", "occurred": job["created"]}
    assert job["configuration"]["priority"] == 42
    assert job["inputs"] == [{"name": "count", "type": "property", "value": 3}] and job["outputs"] == []
    assert job["job_type_rev"]["revision_num"] == 1
    for stamp in ("created", "queued", "last_status_change", "last_modified"):
        assert job[stamp] == "2026-01-01T00:00:00Z"
    assert job["started"] is None and job["ended"] is None
    with db.read() as session:
        queue = session.get(QueueRow, job["id"])
        assert queue is not None
        assert (queue.job_type_id, queue.exe_num, queue.priority) == (type_id, 1, 42)
        assert queue.resources == {"cpus": 0.5, "mem": 256.0, "disk": 0.0, "gpus": 0.0}
        row = session.get(JobRow, job["id"])
        assert row is not None
        revision = session.get(JobTypeRevisionRow, row.job_type_rev_id)
        assert revision is not None and revision.revision_num == 1
    assert client.get(response.headers["location"]).json() == job


def test_a_job_points_at_the_current_revision(client: TestClient) -> None:
    type_id = make_type(client)
    client.post("/v6/job-types/", json=job_type_body(minimal_manifest(json_inputs=JSON_INPUTS, timeout=5)))
    job = make_job(client, type_id)
    assert job["job_type_rev"]["revision_num"] == 2
    assert job["timeout"] == 5


def test_input_defaults_to_empty(client: TestClient) -> None:
    type_id = make_type(client, manifest=minimal_manifest("no-inputs"))
    response = client.post("/v6/jobs/", json={"job_type_id": type_id})
    assert response.status_code == 201
    assert response.json()["input"] == {"json": {}, "files": {}}


def test_unknown_job_type_is_404(client: TestClient, db: Database) -> None:
    before = count_rows(db, JobRow, QueueRow)
    response = client.post("/v6/jobs/", json={"job_type_id": 999})
    assert response.status_code == 404
    assert "999" in response.json()["detail"]
    assert client.post("/v6/jobs/", json={"job_type_id": 2**62}).status_code == 404
    assert client.post("/v6/jobs/", json={"job_type_id": -1}).status_code == 404
    assert count_rows(db, JobRow, QueueRow) == before


def test_inactive_job_type_is_400(client: TestClient, db: Database) -> None:
    type_id = make_type(client, is_active=False)
    response = client.post("/v6/jobs/", json={"job_type_id": type_id, "input": {"json": {"count": 1}}})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("job_type_id: ")
    assert count_rows(db, JobRow, QueueRow) == {"JobRow": 0, "QueueRow": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": {"json": {}}}, "input.json.count"),
        ({"input": {"json": {"count": "three"}}}, "input.json.count"),
        ({"input": {"json": {"count": 1, "label": 7}}}, "input.json.label"),
        ({"input": {"json": []}}, "input.json"),
        ({"input": {"files": {"f": ["a"]}}}, "input.files.f[0]"),
        ({"input": {"json": {"count": 1}, "extra": {}}}, "input.extra"),
        ({"input": "count=1"}, "input"),
        ({"input": None}, "input"),
        ({"configuration": "fast"}, "configuration"),
        ({"priority": 1}, "priority"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    client: TestClient, db: Database, body: dict[str, Any], field: str
) -> None:
    type_id = make_type(client)
    before = count_rows(db, JobRow, QueueRow)
    response = client.post("/v6/jobs/", json={"job_type_id": type_id, **body})
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert count_rows(db, JobRow, QueueRow) == before


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        (b'{"job_type_id": 1,', "body: malformed JSON"),
        (b"{'job_type_id': 1}", "body: malformed JSON"),
        (b"", "body: "),
        (b"[1]", "body: "),
        (b'{"job_type_id": "abc"}', "job_type_id: Input should be a valid integer"),
        (b'{"job_type_id": "1"}', "job_type_id: Input should be a valid integer"),
        (b'{"job_type_id": 1.5}', "job_type_id: Input should be a valid integer"),
        (b'{"job_type_id": true}', "job_type_id: Input should be a valid integer"),
        (b'{"input": {}}', "job_type_id: "),
    ],
)
def test_malformed_bodies_are_400(client: TestClient, db: Database, raw: bytes, start: str) -> None:
    response = client.post("/v6/jobs/", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(start)
    assert count_rows(db, JobRow, QueueRow) == {"JobRow": 0, "QueueRow": 0}


# --------------------------------------------------------------------------- detail


def test_unknown_job_is_404(client: TestClient) -> None:
    assert client.get("/v6/jobs/12345/").status_code == 404
    assert client.get(f"/v6/jobs/{2**63 - 1}/").status_code == 404
    assert client.get(f"/v6/jobs/{2**64}/").status_code == 400
    assert client.get("/v6/jobs/0/").status_code == 400
    assert client.get("/v6/jobs/abc/").json()["detail"].startswith("job_id: ")


def test_queue_reasons_show_why_a_queued_job_waits(client: TestClient, db: Database) -> None:
    job = make_job(client, make_type(client))
    reasons = {"insufficient mem": 3, "node paused": 1}
    with db.session() as session:
        session.execute(update(QueueRow).where(QueueRow.job_id == job["id"]).values(unplaced_reasons=reasons))
    assert client.get(f"/v6/jobs/{job['id']}/").json()["queue_reasons"] == reasons
    # Once it is no longer queued, there is nothing to explain
    with db.session() as session:
        session.execute(update(JobRow).where(JobRow.id == job["id"]).values(status="RUNNING"))
    assert client.get(f"/v6/jobs/{job['id']}/").json()["queue_reasons"] is None


# --------------------------------------------------------------------------- list


def test_list_shape_and_default_order(client: TestClient, clock: FakeClock) -> None:
    type_id = make_type(client)
    first = make_job(client, type_id)
    clock.advance(1)
    second = make_job(client, type_id)
    listing = client.get("/v6/jobs/").json()
    assert listing["count"] == 2
    assert [j["id"] for j in listing["results"]] == [second["id"], first["id"]]
    assert set(listing["results"][0]) == SUMMARY_FIELDS
    assert listing["next"] is None and listing["previous"] is None


def test_filters_narrow_the_list(client: TestClient, db: Database, clock: FakeClock) -> None:
    # Given jobs of two types, in several states, on a node, with an error
    alpha = make_type(client, "alpha")
    beta = make_type(client, "beta")
    a1 = make_job(client, alpha)["id"]
    clock.advance(60)
    a2 = make_job(client, alpha)["id"]
    clock.advance(60)
    b1 = make_job(client, beta)["id"]
    node = insert_node(db, "node-1", now=clock.now())
    failed_with = error_id(db, "node-lost")
    data_error = error_id(db, "timeout")
    with db.session() as session:
        session.execute(update(JobRow).where(JobRow.id == a2).values(status="RUNNING", node_id=node))
        session.execute(update(JobRow).where(JobRow.id == b1).values(status="FAILED", error_id=failed_with))
        session.execute(update(JobRow).where(JobRow.id == a1).values(status="FAILED", error_id=data_error))

    def ids(query: str) -> list[int]:
        response = client.get(f"/v6/jobs/?{query}")
        assert response.status_code == 200, response.text
        return sorted(j["id"] for j in response.json()["results"])

    # Then each filter narrows the list
    assert ids("") == sorted([a1, a2, b1])
    assert ids("status=RUNNING") == [a2]
    assert ids("status=RUNNING&status=FAILED") == sorted([a1, a2, b1])
    assert ids("status=QUEUED") == []
    assert ids(f"job_id={a1}&job_id={b1}") == sorted([a1, b1])
    assert ids(f"job_type_id={beta}") == [b1]
    assert ids(f"job_type_id={alpha}&job_type_id={beta}") == sorted([a1, a2, b1])
    assert ids("job_type_name=alpha") == sorted([a1, a2])
    assert ids("job_type_name=gamma") == []
    assert ids("error_category=SYSTEM") == [b1]
    assert ids("error_category=ALGORITHM") == [a1]
    assert ids(f"error_id={failed_with}") == [b1]
    assert ids(f"node_id={node}") == [a2]
    assert ids("started=2026-01-01T00:01:00Z") == sorted([a2, b1])
    assert ids("ended=2026-01-01T00:01:00Z") == sorted([a1, a2])
    assert ids("started=2026-01-01T00:00:30&ended=2026-01-01T00:01:30%2B00:00") == [a2]
    assert ids("started=PT30S") == [b1]  # now is 00:02:00
    assert ids("started=PT1M30S") == sorted([a2, b1])
    assert ids("status=FAILED&job_type_name=alpha") == [a1]

    # And the summary names the node and the error
    running = client.get(f"/v6/jobs/?node_id={node}").json()["results"][0]
    assert running["node"] == {"id": node, "hostname": "node-1"}
    failed = client.get(f"/v6/jobs/{b1}/").json()
    assert failed["error"]["name"] == "node-lost"
    assert failed["error"]["category"] == "SYSTEM"
    assert set(failed["error"]) == {"id", "name", "title", "description", "category"}


def test_order(client: TestClient, clock: FakeClock) -> None:
    type_id = make_type(client)
    made = []
    for _ in range(3):
        made.append(make_job(client, type_id)["id"])
        clock.advance(1)
    assert [j["id"] for j in client.get("/v6/jobs/?order=id").json()["results"]] == made
    assert [j["id"] for j in client.get("/v6/jobs/?order=-id").json()["results"]] == made[::-1]
    assert [j["id"] for j in client.get("/v6/jobs/?order=last_modified").json()["results"]] == made
    assert [j["id"] for j in client.get("/v6/jobs/?order=priority&order=-created").json()["results"]] == made[
        ::-1
    ]


def test_paging(client: TestClient) -> None:
    type_id = make_type(client)
    for _ in range(5):
        make_job(client, type_id)
    first = client.get("/v6/jobs/?page_size=2&status=QUEUED").json()
    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert first["next"] == "/v6/jobs/?page_size=2&status=QUEUED&page=2"
    last = client.get("/v6/jobs/?page_size=2&page=3").json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    assert last["previous"] == "/v6/jobs/?page_size=2&page=2"
    seen = {
        j["id"] for p in (1, 2, 3) for j in client.get(f"/v6/jobs/?page_size=2&page={p}").json()["results"]
    }
    assert len(seen) == 5


def test_a_page_past_the_end_is_empty_not_404(client: TestClient) -> None:
    make_job(client, make_type(client))
    response = client.get("/v6/jobs/?page=50")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"] == []
    assert response.json()["next"] is None
    huge = client.get(f"/v6/jobs/?page={2**31 - 1}&page_size=1000")
    assert huge.status_code == 200
    assert huge.json()["results"] == []


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        (f"page={2**31}", "page"),
        ("page_size=0", "page_size"),
        ("page_size=1001", "page_size"),
        ("status=DONE", "status"),
        ("status=queued", "status"),
        ("job_id=x", "job_id"),
        ("job_id=1&job_id=x", "job_id"),
        ("job_id=0", "job_id"),
        ("job_type_id=1.5", "job_type_id"),
        ("error_category=BAD", "error_category"),
        ("error_id=x", "error_id"),
        ("node_id=x", "node_id"),
        (f"node_id={2**64}", "node_id"),
        ("started=yesterday", "started"),
        ("ended=2026-13-01T00:00:00Z", "ended"),
        ("started=P", "started"),
        ("order=colour", "order"),
        ("order=-", "order"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(client: TestClient, query: str, name: str) -> None:
    response = client.get(f"/v6/jobs/?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{name}: ")


def test_jobs_of_other_tables_are_read_without_a_revision_row(client: TestClient, db: Database) -> None:
    # Given a job whose revision is unknown (a job type made by another part of the system)
    job = make_job(client, make_type(client))
    with db.session() as session:
        session.execute(update(JobRow).where(JobRow.id == job["id"]).values(job_type_rev_id=None))
        assert session.scalar(select(JobRow.job_type_rev_id).where(JobRow.id == job["id"])) is None
    # Then it is still listed, with no revision
    assert client.get(f"/v6/jobs/{job['id']}/").json()["job_type_rev"] is None
