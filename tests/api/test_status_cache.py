"""``GET /v6/status/`` served from ``StatusCache``: a new stored document shows on the next
request, and the offline rule (204) is applied to the stored timestamp exactly as before."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from scale.clock import FakeClock
from scale.services.status import StatusCache
from scale.store.db import Database
from scale.store.tables import SchedulerRow


def store(db: Database, status: dict[str, Any] | None, timestamp: datetime | None) -> None:
    with db.session() as session:
        session.execute(
            update(SchedulerRow).where(SchedulerRow.id == 1).values(status=status, status_timestamp=timestamp)
        )


def test_each_new_document_is_served_on_the_next_request(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, {"timestamp": "first", "nodes": [{"id": 1}]}, clock.now())
    assert client.get("/v6/status/").json() == {"timestamp": "first", "nodes": [{"id": 1}]}

    clock.advance(5.0)
    store(db, {"timestamp": "second", "nodes": [{"id": 1}, {"id": 2}], "text": "naïve ✓"}, clock.now())
    response = client.get("/v6/status/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"timestamp": "second", "nodes": [{"id": 1}, {"id": 2}], "text": "naïve ✓"}


def test_a_cached_document_goes_offline_when_it_grows_stale(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, {"timestamp": "only"}, clock.now())
    assert client.get("/v6/status/").status_code == 200
    clock.advance(12.0)
    assert client.get("/v6/status/").status_code == 200
    clock.advance(0.001)
    response = client.get("/v6/status/")
    assert response.status_code == 204
    assert response.content == b""


def test_a_cleared_or_emptied_status_after_a_served_one_is_offline(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, {"timestamp": "served"}, clock.now())
    assert client.get("/v6/status/").status_code == 200

    clock.advance(1.0)
    store(db, {}, clock.now())
    assert client.get("/v6/status/").status_code == 204

    clock.advance(1.0)
    store(db, None, clock.now())
    assert client.get("/v6/status/").status_code == 204

    store(db, {"timestamp": "again"}, None)
    assert client.get("/v6/status/").status_code == 204


def test_the_cache_rereads_the_document_only_when_the_timestamp_changes(
    db: Database, clock: FakeClock
) -> None:
    cache = StatusCache()
    store(db, {"n": 1}, clock.now())
    first = cache.read(db, clock.now(), 12.0)
    assert first is not None

    # The same timestamp: the cached bytes, even though the row now holds another document.
    store(db, {"n": 2}, clock.now())
    assert cache.read(db, clock.now(), 12.0) is first

    store(db, {"n": 3}, clock.now() + timedelta(seconds=1))
    body = cache.read(db, clock.now(), 12.0)
    assert body is not None and body is not first
    assert b'"n"' in body and b"3" in body
