"""``/v6/messages/dead-letters/``: a message that keeps failing is set aside, visible with its error."""

from __future__ import annotations

from fastapi.testclient import TestClient

from scale.messaging.messages import Message
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.services.handlers import HANDLERS
from scale.store.db import Database


def test_dead_letters_show_the_poison_message_and_its_error(client: TestClient, db: Database) -> None:
    assert client.get("/v6/messages/dead-letters/").json()["count"] == 0
    transport = DatabaseTransport(db)
    transport.send([Message("completed_jobs", {"jobs": [{"no_job_id": 1}]})])
    transport.send([Message("completed_jobs", {"jobs": []})])
    MessageWorker(transport, HANDLERS).drain()
    page = client.get("/v6/messages/dead-letters/").json()
    assert page["count"] == 1
    [dead] = page["results"]
    assert dead["type"] == "completed_jobs" and dead["attempts"] == 5
    assert dead["body"] == {"jobs": [{"no_job_id": 1}]}
    assert dead["error"].startswith("KeyError")
    assert dead["created"].endswith("Z")
    assert transport.backlog() == 0  # the message behind it was not blocked


def test_dead_letters_paging(client: TestClient) -> None:
    assert client.get("/v6/messages/dead-letters/?page=3").json()["results"] == []
    assert client.get("/v6/messages/dead-letters/?page_size=0").status_code == 400
