"""``/v6/scheduler/``: GET the four runtime settings, PATCH any subset with strict validation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from scale.store.db import Database
from scale.store.tables import SchedulerRow

DEFAULTS = {
    "is_paused": False,
    "num_message_handlers": 1,
    "system_logging_level": "INFO",
    "queue_mode": "FIFO",
}


def stored(db: Database) -> dict[str, Any]:
    with db.read() as session:
        row = session.get(SchedulerRow, 1)
        assert row is not None
        return {
            "is_paused": row.is_paused,
            "num_message_handlers": row.num_message_handlers,
            "system_logging_level": row.system_logging_level,
            "queue_mode": row.queue_mode,
        }


def test_get_returns_the_defaults(client: TestClient) -> None:
    response = client.get("/v6/scheduler/")
    assert response.status_code == 200
    assert response.json() == DEFAULTS


def test_get_without_a_scheduler_row_is_404(client: TestClient, db: Database) -> None:
    with db.session() as session:
        session.execute(delete(SchedulerRow))
    response = client.get("/v6/scheduler/")
    assert response.status_code == 404
    assert "scheduler" in response.json()["detail"]


def test_patch_every_field_returns_200_with_the_new_settings(client: TestClient, db: Database) -> None:
    body = {
        "is_paused": True,
        "num_message_handlers": 10,
        "system_logging_level": "debug",
        "queue_mode": "lifo",
    }
    response = client.patch("/v6/scheduler/", json=body)
    assert response.status_code == 200
    expected = {
        "is_paused": True,
        "num_message_handlers": 10,
        "system_logging_level": "DEBUG",
        "queue_mode": "LIFO",
    }
    assert response.json() == expected
    assert stored(db) == expected
    assert client.get("/v6/scheduler/").json() == expected


def test_patch_one_field_changes_only_that_field(client: TestClient, db: Database) -> None:
    response = client.patch("/v6/scheduler/", json={"is_paused": True})
    assert response.status_code == 200
    assert stored(db) == {**DEFAULTS, "is_paused": True}


@pytest.mark.parametrize("handlers", [0, 100])
def test_patch_accepts_the_handler_count_bounds(client: TestClient, handlers: int) -> None:
    response = client.patch("/v6/scheduler/", json={"num_message_handlers": handlers})
    assert response.status_code == 200
    assert response.json()["num_message_handlers"] == handlers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"foo": "bar"}, "foo"),
        ({"is_paused": True, "bogus": 1}, "bogus"),
        ({"is_paused": "true"}, "is_paused"),
        ({"is_paused": 1}, "is_paused"),
        ({"is_paused": None}, "is_paused"),
        ({"num_message_handlers": -1}, "num_message_handlers"),
        ({"num_message_handlers": 101}, "num_message_handlers"),
        ({"num_message_handlers": True}, "num_message_handlers"),
        ({"num_message_handlers": 1.5}, "num_message_handlers"),
        ({"num_message_handlers": "3"}, "num_message_handlers"),
        ({"queue_mode": "RANDOM"}, "queue_mode"),
        ({"queue_mode": 1}, "queue_mode"),
        ({"system_logging_level": "LOUD"}, "system_logging_level"),
        ({"system_logging_level": ["INFO"]}, "system_logging_level"),
    ],
)
def test_patch_rejects_a_bad_field_naming_it_and_changes_nothing(
    client: TestClient, db: Database, body: dict[str, Any], field: str
) -> None:
    # Given a valid change next to the bad one (where there is room for one)
    if field != "body" and "is_paused" not in body:
        body = {**body, "is_paused": True}
    # When it is patched
    response = client.patch("/v6/scheduler/", json=body)
    # Then it is rejected, naming the field, and nothing was written
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}: ") or f"; {field}: " in response.json()["detail"]
    assert stored(db) == DEFAULTS


def test_patch_names_every_bad_value_at_once(client: TestClient, db: Database) -> None:
    response = client.patch("/v6/scheduler/", json={"queue_mode": "X", "system_logging_level": "Y"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "queue_mode: " in detail
    assert "system_logging_level: " in detail
    assert stored(db) == DEFAULTS


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'"paused"'])
def test_patch_rejects_a_body_that_is_not_a_json_object(client: TestClient, db: Database, raw: bytes) -> None:
    response = client.patch("/v6/scheduler/", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body")
    assert stored(db) == DEFAULTS


def test_patch_without_a_scheduler_row_is_404(client: TestClient, db: Database) -> None:
    with db.session() as session:
        session.execute(delete(SchedulerRow))
    assert client.patch("/v6/scheduler/", json={"is_paused": True}).status_code == 404
