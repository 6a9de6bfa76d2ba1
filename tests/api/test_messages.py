"""``/v6/messages/dead-letters/``: a message that keeps failing is set aside, visible with its error."""

from __future__ import annotations

from fastapi.testclient import TestClient

from scale.domain.messages import from_json
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from tests.factories import make_job_type, make_queued_job
from tests.messaging.test_handlers import missing_execution_end


def test_dead_letters_show_the_poison_message_and_its_error(client: TestClient, db: Database) -> None:
    assert client.get("/v6/messages/dead-letters/").json()["count"] == 0
    transport = DatabaseTransport(db)
    type_id = make_job_type(db)
    job_id = make_queued_job(db, type_id)
    poison = missing_execution_end(job_id, type_id)
    transport.send([poison])
    transport.send([from_json("completed_jobs", {"jobs": []})])
    MessageWorker(transport, HANDLERS).drain()
    page = client.get("/v6/messages/dead-letters/").json()
    assert page["count"] == 1
    [dead] = page["results"]
    assert dead["type"] == "create_job_exe_ends" and dead["attempts"] == 5
    assert dead["body"] == poison.to_json()
    assert dead["error"].startswith("IntegrityError")
    assert dead["created"].endswith("Z")
    assert transport.backlog() == 0  # the message behind it was not blocked


def test_dead_letters_paging(client: TestClient) -> None:
    assert client.get("/v6/messages/dead-letters/?page=3").json()["results"] == []
    assert client.get("/v6/messages/dead-letters/?page_size=0").status_code == 400
