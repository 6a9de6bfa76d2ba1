"""The dashboard's page and data routes and ``/metrics`` in the app, on SQLite and PostgreSQL: the
queue's reasons summed per job type, ETag/304, access like the reads, and metrics with no status."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from scale.api.app import create_app
from scale.clock import FakeClock
from scale.config import Settings
from scale.store.db import Database
from scale.store.tables import QueueRow
from tests.api.conftest import TestClient, _client
from tests.api.factories import job_type_body
from tests.factories import make_queued_job


def _reasons(db: Database, job_id: int, reasons: dict[str, int] | None) -> None:
    with db.session() as s:
        s.execute(update(QueueRow).where(QueueRow.job_id == job_id).values(unplaced_reasons=reasons))


def test_summary_counts_jobs_and_sums_the_reasons_queued_jobs_wait_per_type(
    client: TestClient, db: Database
) -> None:
    type_id = client.post("/v6/job-types/", json=job_type_body()).json()["id"]
    first, second, third = (make_queued_job(db, type_id) for _ in range(3))
    _reasons(db, first, {"insufficient mem": 3, "node paused": 1})
    _reasons(db, second, {"insufficient mem": 2})
    r = client.get("/dashboard/api/summary/")
    assert r.status_code == 200
    body = r.json()
    assert body["job_counts"]["QUEUED"] == 3 and body["job_counts"]["RUNNING"] == 0
    [queued] = body["queue"]
    assert queued["job_type"]["id"] == type_id and queued["count"] == 3
    assert queued["reasons"] == {"insufficient mem": 2, "node paused": 1}
    assert queued["not_yet_considered"] == 1
    # The same answer again is a 304 with no body; a change gives a new ETag
    again = client.get("/dashboard/api/summary/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    _reasons(db, third, {"busy": 1})
    changed = client.get("/dashboard/api/summary/", headers={"If-None-Match": r.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["queue"][0]["reasons"]["busy"] == 1


def test_execution_state_is_404_for_an_unknown_one(client: TestClient) -> None:
    r = client.get("/dashboard/api/executions/12345/")
    assert r.status_code == 404 and r.json() == {"detail": "job execution 12345 does not exist"}
    assert client.get("/dashboard/api/executions/0/").status_code == 400


def test_metrics_without_a_status_say_the_scheduler_is_down(client: TestClient) -> None:
    r = client.get("/metrics")
    assert r.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["scale_scheduler_up"].samples[0].value == 0
    assert "scale_nodes" not in families  # nothing is made up without a status
    assert {"scale_queue_jobs", "scale_executions_finished", "scale_http_requests"} <= set(families)


@pytest.fixture
def closed_app(tmp_path: Path, db: Database, clock: FakeClock) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path / "data", public_read=False), db, clock=clock)


def test_closed_reads_close_metrics_and_dashboard_data_but_not_the_page(
    closed_app: FastAPI, read_token: str
) -> None:
    with _client(closed_app, None) as anon:
        assert anon.get("/metrics").status_code == 401
        assert anon.get("/dashboard/api/summary/").status_code == 401
        page = anon.get("/")
        assert page.status_code == 200 and "dashboard.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert anon.get("/dashboard/static/dashboard.js").status_code == 200
    with _client(closed_app, read_token) as reader:
        assert reader.get("/metrics").status_code == 200
        assert reader.get("/dashboard/api/summary/").status_code == 200


def test_reasons_come_from_the_oldest_jobs_when_very_many_wait(client: TestClient, db: Database) -> None:
    """Counts stay exact; the reasons are read from a bounded number of the oldest jobs."""
    from datetime import timedelta

    from scale.services import overview
    from tests.factories import T0

    type_id = client.post("/v6/job-types/", json=job_type_body()).json()["id"]
    jobs = [make_queued_job(db, type_id, when=T0 + timedelta(minutes=i)) for i in range(3)]
    _reasons(db, jobs[0], {"busy": 1})
    _reasons(db, jobs[2], {"insufficient gpus": 1})  # the newest: outside the sample
    found = overview.overview(db, T0, reason_sample=2)
    assert found.reasons_sampled is True
    [queued] = found.queue
    assert queued.count == 3 and queued.oldest == T0
    assert queued.reasons == {"busy": 1} and queued.not_yet_considered == 1
    assert overview.overview(db, T0).reasons_sampled is False
    assert client.get("/dashboard/api/summary/").json()["reasons_sampled"] is False
