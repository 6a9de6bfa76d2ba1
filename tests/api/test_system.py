"""``/v6/status/`` (the offline rule, spec 000) and ``/v6/version/``, plus app-wide conventions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

import scale
from scale.clock import FakeClock
from scale.services.status import is_fresh
from scale.store.db import Database
from scale.store.tables import SchedulerRow

SPEC_STATUS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "spec_status_example.json").read_text()
)


def store_status(db: Database, status: dict[str, Any] | None, timestamp: datetime | None) -> None:
    with db.session() as session:
        session.execute(
            update(SchedulerRow).where(SchedulerRow.id == 1).values(status=status, status_timestamp=timestamp)
        )


# --------------------------------------------------------------------------- is_fresh (pure)

T = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("age_s", "fresh"),
    [
        (0.0, True),
        (5.0, True),
        (11.999999, True),
        (12.0, True),
        (12.000001, False),
        (12.001, False),
        (60, False),
    ],
)
def test_is_fresh_boundary(age_s: float, fresh: bool) -> None:
    assert is_fresh(T, T + timedelta(seconds=age_s), 12.0) is fresh


def test_is_fresh_accepts_a_timestamp_slightly_ahead_of_now() -> None:
    assert is_fresh(T + timedelta(seconds=1), T, 12.0)


# --------------------------------------------------------------------------- /v6/status/


def test_status_without_a_stored_status_is_204_with_an_empty_body(client: TestClient) -> None:
    response = client.get("/v6/status/")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


def test_status_exactly_12_seconds_old_is_served_verbatim(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    # Given a status whose build started exactly 12.0 s ago
    store_status(db, SPEC_STATUS, clock.now() - timedelta(seconds=12))
    # When it is read
    response = client.get("/v6/status/")
    # Then it is returned as stored
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == SPEC_STATUS


def test_status_12_001_seconds_old_is_offline(client: TestClient, db: Database, clock: FakeClock) -> None:
    store_status(db, SPEC_STATUS, clock.now() - timedelta(seconds=12.001))
    response = client.get("/v6/status/")
    assert response.status_code == 204
    assert response.content == b""


def test_status_goes_offline_as_the_clock_moves(client: TestClient, db: Database, clock: FakeClock) -> None:
    store_status(db, SPEC_STATUS, clock.now())
    assert client.get("/v6/status/").status_code == 200
    clock.advance(12.0)
    assert client.get("/v6/status/").status_code == 200
    clock.advance(0.001)
    assert client.get("/v6/status/").status_code == 204


def test_status_with_a_timestamp_but_an_empty_document_is_offline(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    store_status(db, {}, clock.now())
    assert client.get("/v6/status/").status_code == 204


def test_status_without_the_scheduler_row_is_204_not_500(client: TestClient, db: Database) -> None:
    with db.session() as session:
        session.execute(delete(SchedulerRow))
    response = client.get("/v6/status/")
    assert response.status_code == 204
    assert response.content == b""


def test_status_respects_the_configured_threshold(db: Database, clock: FakeClock, tmp_path: Path) -> None:
    from scale.api.app import create_app
    from scale.config import Settings

    app = create_app(Settings(data_dir=tmp_path, status_freshness_s=30.0), db, clock=clock)
    store_status(db, SPEC_STATUS, clock.now() - timedelta(seconds=20))
    with TestClient(app) as other:
        assert other.get("/v6/status/").status_code == 200


# --------------------------------------------------------------------------- /v6/version/ and conventions


def test_version(client: TestClient) -> None:
    response = client.get("/v6/version/")
    assert response.status_code == 200
    assert response.json() == {"version": scale.__version__}


@pytest.mark.parametrize("path", ["/v6/version", "/v6/status", "/v6/scheduler", "/v6/jobs", "/v6/job-types"])
def test_a_path_without_its_trailing_slash_is_404(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 404


def test_other_api_versions_are_404(client: TestClient) -> None:
    assert client.get("/v5/version/").status_code == 404
    assert client.get("/v7/version/").status_code == 404


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in (
        "/v6/status/",
        "/v6/version/",
        "/v6/scheduler/",
        "/v6/job-types/",
        "/v6/job-types/validation/",
        "/v6/job-types/{name}/{version}/",
        "/v6/jobs/",
        "/v6/jobs/{job_id}/",
        "/v6/jobs/{job_id}/executions/",
        "/v6/jobs/{job_id}/executions/{exe_num}/",
    ):
        assert path in paths
    assert client.get("/docs").status_code == 200
