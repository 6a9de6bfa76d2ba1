"""``/v6/queue/status/``: queued jobs grouped by job type, paused types last, best priority first."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from scale.store.db import Database
from scale.store.tables import QueueRow
from tests.factories import T0, make_job_type, make_queued_job

JOB_TYPE_FIELDS = {"id", "name", "version", "title", "description", "is_active", "is_paused", "icon_code"}


def names(client: TestClient, query: str = "") -> list[str]:
    response = client.get(f"/v6/queue/status/?{query}")
    assert response.status_code == 200, response.text
    return [entry["job_type"]["name"] for entry in response.json()["results"]]


def test_an_empty_queue_is_an_empty_page(client: TestClient) -> None:
    response = client.get("/v6/queue/status/")
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_jobs_are_grouped_by_job_type(client: TestClient, db: Database) -> None:
    # Given three jobs of one type with different priorities and queue times
    alpha = make_job_type(db, name="alpha", icon_code="f013")
    make_queued_job(db, alpha, priority=200, when=T0 + timedelta(minutes=5))
    make_queued_job(db, alpha, priority=50, when=T0 + timedelta(minutes=10))
    make_queued_job(db, alpha, priority=100, when=T0 + timedelta(minutes=1))

    # Then there is one entry: the count, the oldest queued time, the smallest priority number
    listing = client.get("/v6/queue/status/").json()
    assert listing["count"] == 1
    assert listing["results"] == [
        {
            "job_type": {
                "id": alpha,
                "name": "alpha",
                "version": "1.0.0",
                "title": "alpha",
                "description": "d",
                "is_active": True,
                "is_paused": False,
                "icon_code": "f013",
            },
            "count": 3,
            "longest_queued": "2026-01-01T00:01:00Z",
            "highest_priority": 50,
        }
    ]
    assert set(listing["results"][0]["job_type"]) == JOB_TYPE_FIELDS


def test_canceled_queue_rows_are_left_out(client: TestClient, db: Database) -> None:
    alpha = make_job_type(db, name="alpha")
    beta = make_job_type(db, name="beta")
    make_queued_job(db, alpha, priority=100, when=T0 + timedelta(minutes=2))
    canceled = make_queued_job(db, alpha, priority=1, when=T0)
    only_beta = make_queued_job(db, beta, priority=10, when=T0)
    with db.session() as session:
        session.execute(
            update(QueueRow).where(QueueRow.job_id.in_([canceled, only_beta])).values(is_canceled=True)
        )
    listing = client.get("/v6/queue/status/").json()
    assert listing["count"] == 1
    [entry] = listing["results"]
    assert entry["job_type"]["id"] == alpha
    assert entry["count"] == 1
    assert entry["highest_priority"] == 100
    assert entry["longest_queued"] == "2026-01-01T00:02:00Z"


def test_order_is_paused_last_then_best_priority_then_oldest(client: TestClient, db: Database) -> None:
    # Given: a paused type with the best priority, and three unpaused types
    paused = make_job_type(db, name="paused", is_paused=True)
    make_queued_job(db, paused, priority=1, when=T0)
    late = make_job_type(db, name="late")
    make_queued_job(db, late, priority=100, when=T0 + timedelta(minutes=9))
    early = make_job_type(db, name="early")
    make_queued_job(db, early, priority=100, when=T0 + timedelta(minutes=1))
    make_queued_job(db, early, priority=300, when=T0 + timedelta(minutes=20))
    urgent = make_job_type(db, name="urgent")
    make_queued_job(db, urgent, priority=5, when=T0 + timedelta(hours=1))

    # Then unpaused types come first, by the smallest priority number, then by the oldest job
    assert names(client) == ["urgent", "early", "late", "paused"]
    entries = client.get("/v6/queue/status/").json()["results"]
    assert [e["highest_priority"] for e in entries] == [5, 100, 100, 1]
    assert entries[-1]["job_type"]["is_paused"] is True
    assert entries[1]["count"] == 2


def test_paging_and_a_page_past_the_end(client: TestClient, db: Database) -> None:
    for n in range(5):
        type_id = make_job_type(db, name=f"type-{n}")
        make_queued_job(db, type_id, priority=10 + n, when=T0)
    first = client.get("/v6/queue/status/?page_size=2").json()
    assert first["count"] == 5
    assert [e["job_type"]["name"] for e in first["results"]] == ["type-0", "type-1"]
    assert first["next"] == "/v6/queue/status/?page_size=2&page=2"
    assert first["previous"] is None
    assert names(client, "page_size=2&page=3") == ["type-4"]
    past = client.get("/v6/queue/status/?page=9&page_size=2")
    assert past.status_code == 200
    assert past.json()["count"] == 5
    assert past.json()["results"] == []
    assert past.json()["next"] is None


def test_bad_paging_is_400_naming_it(client: TestClient) -> None:
    for query, name in (("page=0", "page"), ("page=x", "page"), ("page_size=1001", "page_size")):
        response = client.get(f"/v6/queue/status/?{query}")
        assert response.status_code == 400, query
        assert response.json()["detail"].startswith(f"{name}: ")


def test_the_queue_is_read_only(client: TestClient) -> None:
    assert client.post("/v6/queue/status/", json={}).status_code == 405
    assert client.get("/v6/queue/").status_code == 404
