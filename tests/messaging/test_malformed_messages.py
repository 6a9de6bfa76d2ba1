"""Messages that cannot be read never stall the handlers and are never silent no-ops (issue 14,
case 4): each becomes a dead letter at once, with its raw body and the reason, and is let go.

On RabbitMQ (the broker on this machine, a queue of each test's own) and on the database
transport, on SQLite and PostgreSQL. Rows and deliveries are written raw, as an outside
publisher or a hand-written row would: the typed senders cannot make them.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import select, text

from scale.api.app import create_app
from scale.clock import FakeClock
from scale.config import Settings
from scale.messaging.amqp import AmqpTransport
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.tables import JobRow, MessageRow
from tests.factories import T0, make_job_type, make_queued_job
from tests.messaging.test_amqp import BROKER_URL, statuses
from tests.scheduler.test_core import code_job_type, make_harness
from tests.util import wait_until

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def dead_letters(db: Database, tmp_path: Path) -> list[dict[str, Any]]:
    """``GET /v6/messages/dead-letters/`` (all of them, newest first)."""
    app = create_app(Settings(data_dir=tmp_path / "data"), db, clock=FakeClock())
    with TestClient(app) as client:
        response = client.get("/v6/messages/dead-letters/?page_size=100")
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["count"] == len(page["results"])
    results: list[dict[str, Any]] = page["results"]
    return results


def publish_raw(queue: str, body: bytes, *, type_: str | None, headers: dict[str, Any] | None = None) -> None:
    """Publish to the test's queue as any client of the broker can, with no Scale code."""
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True)
        channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=body,
            properties=pika.BasicProperties(type=type_, headers=headers, delivery_mode=2),
        )
    finally:
        connection.close()


def queue_counts(queue: str) -> tuple[int, int]:
    """(ready, consumers) on the queue, asked of the broker with a connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        method = connection.channel().queue_declare(queue, durable=True, passive=True).method
        return int(method.message_count), int(method.consumer_count)
    finally:
        connection.close()


# ---------------------------------------------------------------------------- the case as reported


def test_25_running_jobs_with_a_bad_attempts_header_do_not_stall_the_jobs_behind_them(
    db: Database, queue: str, tmp_path: Path
) -> None:
    """RabbitMQ transport; 25 ``running_jobs`` with body ``{"jobs": []}`` and header
    ``x-scale-attempts: "abc"``, then three small jobs. Before: the handler tick raised
    (``invalid literal for int()``) on every claim, 20 of the 25 sat unacked in the prefetch
    window, the jobs stayed QUEUED. Now: all 25 are dead letters (raw body, reason), acked; the
    three jobs run to COMPLETED on the scheduler (sim backend) through the broker."""
    for _ in range(25):
        publish_raw(queue, b'{"jobs": []}', type_="running_jobs", headers={"x-scale-attempts": "abc"})
    assert queue_counts(queue)[0] == 25

    h = make_harness(db)
    h.worker = MessageWorker(AmqpTransport(db, BROKER_URL, queue=queue), HANDLERS, now=h.clock.now)
    type_id = code_job_type(db)
    job_ids = [make_queued_job(db, type_id, CODE=0) for _ in range(3)]
    try:
        h.run_until(lambda: statuses(db, job_ids) == {"COMPLETED": 3}, max_steps=60)
        assert (h.worker.rejected, h.worker.failed) == (25, 25)
    finally:
        h.worker.transport.close()

    letters = dead_letters(db, tmp_path)
    assert len(letters) == 25
    for letter in letters:
        assert (letter["type"], letter["body"], letter["attempts"]) == ("running_jobs", {"jobs": []}, 1)
        assert letter["error"].startswith("InvalidMessage: header x-scale-attempts:"), letter["error"]
        assert "'abc'" in letter["error"]
    # Every delivery was acknowledged: with the consumer gone nothing comes back to the queue.
    assert queue_counts(queue) == (0, 0)


# ---------------------------------------------------------------------------- more of the kind, on RabbitMQ

#: (what, body, AMQP type, headers, what the dead letter's body shows, words in the reason)
AMQP_CASES: list[tuple[str, bytes, str | None, dict[str, Any] | None, Any, str]] = [
    ("not JSON", b"{not json", "completed_jobs", None, {"undecodable": "{not json"}, "body: not JSON"),
    ("not UTF-8", b"\xff{}", "completed_jobs", None, {"undecodable": "\\xff{}"}, "body: not UTF-8"),
    ("a JSON array", b"[1, 2]", "completed_jobs", None, [1, 2], "expected an object, got array"),
    ("no type", b'{"jobs": []}', None, None, {"jobs": []}, "unknown message type ''"),
    ("an unknown type", b"{}", "drop_tables", None, {}, "unknown message type 'drop_tables'"),
    ("jobs missing", b"{}", "completed_jobs", None, {}, "jobs: required"),
    (
        "a string id",
        b'{"jobs": [{"job_id": "7", "exe_num": 1}]}',
        "completed_jobs",
        None,
        {"jobs": [{"job_id": "7", "exe_num": 1}]},
        "jobs[0].job_id: expected an id",
    ),
    (
        "an unknown field",
        b'{"jobs": [], "priority": 1}',
        "running_jobs",
        None,
        {"jobs": [], "priority": 1},
        "unknown field 'priority'",
    ),
    ("NaN", b'{"when": NaN}', "restart_scheduler", None, {"undecodable": '{"when": NaN}'}, "NaN is not JSON"),
    (
        "a bad created header",
        b'{"jobs": []}',
        "running_jobs",
        {"x-scale-created": "last tuesday"},
        {"jobs": []},
        "header x-scale-created",
    ),
    (
        "a boolean attempts header",
        b'{"jobs": []}',
        "running_jobs",
        {"x-scale-attempts": True},
        {"jobs": []},
        "header x-scale-attempts",
    ),
]


@pytest.mark.parametrize(
    ("what", "body", "type_", "headers", "shown", "reason"), AMQP_CASES, ids=[c[0] for c in AMQP_CASES]
)
def test_an_unreadable_delivery_is_a_dead_letter_at_once_and_acked(
    db: Database,
    queue: str,
    make_transport: Callable[[], AmqpTransport],
    tmp_path: Path,
    what: str,
    body: bytes,
    type_: str | None,
    headers: dict[str, Any] | None,
    shown: Any,
    reason: str,
) -> None:
    job_id = make_queued_job(db, make_job_type(db))
    publish_raw(queue, body, type_=type_, headers=headers)
    good = json.dumps({"jobs": [{"job_id": job_id, "exe_num": 1}]}).encode()
    publish_raw(queue, good, type_="completed_jobs")
    worker = MessageWorker(make_transport(), HANDLERS)
    wait_until(
        lambda: (worker.tick(), worker.applied + worker.failed)[1] == 2, timeout=20, what="both handled"
    )
    assert (worker.applied, worker.rejected, worker.failed) == (1, 1, 1)
    assert statuses(db, [job_id]) == {"COMPLETED": 1}  # the message behind it was applied
    [letter] = dead_letters(db, tmp_path)
    assert (letter["type"], letter["body"], letter["attempts"]) == (type_ or "", shown, 1)
    assert letter["error"].startswith("InvalidMessage: ") and reason in letter["error"], letter["error"]
    worker.transport.close()
    assert queue_counts(queue) == (0, 0)  # acknowledged, not waiting to be redelivered


# ---------------------------------------------------------------------------- the database transport


def insert_raw(db: Database, type_: str, body: str) -> int:
    """A ``message`` row as something other than Scale would write it: ``body`` is the text the
    JSON column holds (PostgreSQL checks that it is JSON; SQLite keeps any text)."""
    value = "CAST(:body AS JSON)" if db.dialect == "postgresql" else ":body"
    with db.session() as s:
        s.execute(
            text(
                "INSERT INTO message (type, body, created, attempts, claimed_until, dead) "
                f"VALUES (:type, {value}, :created, 0, 0, :dead)"
            ),
            {"type": type_, "body": body, "created": T0, "dead": False},
        )
        return int(s.scalar(select(MessageRow.id).order_by(MessageRow.id.desc()).limit(1)) or 0)


#: (what, type, body text, what the dead letter's body shows, words in the reason)
DB_CASES: list[tuple[str, str, str, Any, str]] = [
    ("a JSON array", "completed_jobs", "[1, 2]", [1, 2], "body: expected an object, got array"),
    ("JSON null", "running_jobs", "null", None, "body: expected an object, got null"),
    ("jobs missing", "running_jobs", "{}", {}, "jobs: required"),
    (
        "jobs not a list",
        "failed_jobs",
        '{"jobs": {"job_id": 1}}',
        {"jobs": {"job_id": 1}},
        "jobs: expected an array",
    ),
    (
        "an entry missing its exe_num",
        "completed_jobs",
        '{"jobs": [{"job_id": 1}]}',
        {"jobs": [{"job_id": 1}]},
        "jobs[0].exe_num: required",
    ),
    (
        "a boolean id",
        "running_jobs",
        '{"jobs": [{"job_id": true, "exe_num": 1}]}',
        {"jobs": [{"job_id": True, "exe_num": 1}]},
        "jobs[0].job_id: expected an id",
    ),
    (
        "a time without its offset",
        "running_jobs",
        '{"jobs": [{"job_id": 1, "exe_num": 1, "started": "2026-01-01T00:00:00"}]}',
        {"jobs": [{"job_id": 1, "exe_num": 1, "started": "2026-01-01T00:00:00"}]},
        "jobs[0].started: an ISO 8601 time needs its UTC offset",
    ),
    (
        "an unknown execution status",
        "create_job_exe_ends",
        '{"exe_ends": [{"job_exe_id": 1, "job_id": 1, "exe_num": 1, "job_type_id": 1, "status": "DONE"}]}',
        {"exe_ends": [{"job_exe_id": 1, "job_id": 1, "exe_num": 1, "job_type_id": 1, "status": "DONE"}]},
        "exe_ends[0].status: expected one of",
    ),
    ("an unknown type", "cancel_everything", "{}", {}, "type: unknown message type 'cancel_everything'"),
]


@pytest.mark.parametrize(("what", "type_", "body", "shown", "reason"), DB_CASES, ids=[c[0] for c in DB_CASES])
def test_an_unreadable_row_is_a_dead_letter_at_once_on_the_database_transport(
    db: Database, tmp_path: Path, what: str, type_: str, body: str, shown: Any, reason: str
) -> None:
    """Before: a row whose body was not an object made every claim raise (all messages
    stalled); one of the wrong shape was applied as a no-op, or failed five times."""
    job_id = make_queued_job(db, make_job_type(db))
    bad = insert_raw(db, type_, body)
    insert_raw(db, "completed_jobs", json.dumps({"jobs": [{"job_id": job_id, "exe_num": 1}]}))
    worker = MessageWorker(DatabaseTransport(db), HANDLERS, now=lambda: T0 + timedelta(minutes=1))
    assert worker.drain() == 2
    assert (worker.applied, worker.rejected, worker.failed) == (1, 1, 1)
    assert statuses(db, [job_id]) == {"COMPLETED": 1}
    [letter] = dead_letters(db, tmp_path)
    assert (letter["id"], letter["type"], letter["body"], letter["attempts"]) == (bad, type_, shown, 1)
    assert letter["error"].startswith("InvalidMessage: ") and reason in letter["error"], letter["error"]
    assert DatabaseTransport(db).backlog() == 0


def test_a_row_whose_body_is_not_json_is_a_dead_letter_on_sqlite(db: Database, tmp_path: Path) -> None:
    """SQLite keeps any text in a JSON column. Before: loading the row raised inside the claim,
    so no message was handled again; and the dead-letter list could not be read either."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL refuses a body that is not JSON when it is written")
    job_id = make_queued_job(db, make_job_type(db))
    insert_raw(db, "completed_jobs", "{oops")
    insert_raw(db, "completed_jobs", json.dumps({"jobs": [{"job_id": job_id, "exe_num": 1}]}))
    worker = MessageWorker(DatabaseTransport(db), HANDLERS)
    assert worker.drain() == 2
    assert statuses(db, [job_id]) == {"COMPLETED": 1}
    [letter] = dead_letters(db, tmp_path)
    assert letter["body"] == {"undecodable": "{oops"}
    assert letter["error"].startswith("InvalidMessage: body: not JSON")
    with db.read() as s:  # the row keeps the text it was written with
        assert (
            s.scalar(select(text("body")).select_from(MessageRow).where(MessageRow.id == letter["id"]))
            == "{oops"
        )
        assert s.scalar(select(JobRow.status).where(JobRow.id == job_id)) == "COMPLETED"


def test_an_outbox_row_the_broker_cannot_take_is_a_dead_letter_and_the_relay_goes_on(
    db: Database, make_transport: Callable[[], AmqpTransport], tmp_path: Path
) -> None:
    """A type longer than an AMQP short string (SQLite does not hold ``type`` to its 100
    characters). Before: publishing it raised, so every relay, and with it every claim, failed
    on the same row for good."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL refuses a type over 100 characters when it is written")
    job_id = make_queued_job(db, make_job_type(db))
    insert_raw(db, "x" * 300, "{}")
    insert_raw(db, "completed_jobs", json.dumps({"jobs": [{"job_id": job_id, "exe_num": 1}]}))
    worker = MessageWorker(make_transport(), HANDLERS)
    wait_until(lambda: (worker.tick(), worker.applied)[1] == 1, timeout=20, what="the good message applied")
    assert statuses(db, [job_id]) == {"COMPLETED": 1}
    [letter] = dead_letters(db, tmp_path)
    assert (letter["type"], letter["body"]) == ("x" * 300, {})
    assert letter["error"] == "InvalidMessage: type: longer than 255 bytes"


def test_a_hand_written_row_with_a_created_that_is_no_time_can_still_be_listed(
    db: Database, tmp_path: Path
) -> None:
    """``GET /v6/messages/dead-letters/`` answered 500 for it (the column could not be loaded)."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL refuses a created that is not a time when it is written")
    with db.session() as s:
        s.execute(
            text(
                "INSERT INTO message (type, body, created, attempts, claimed_until, dead) "
                "VALUES ('running_jobs', '{}', 'yesterday', 0, 0, 0)"
            )
        )
    assert MessageWorker(DatabaseTransport(db), HANDLERS).drain() == 1
    [letter] = dead_letters(db, tmp_path)
    assert (letter["type"], letter["body"], letter["created"]) == ("running_jobs", {}, "1970-01-01T00:00:00Z")
    assert letter["error"] == "InvalidMessage: jobs: required"
