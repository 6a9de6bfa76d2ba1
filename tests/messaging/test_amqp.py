"""The RabbitMQ transport against the broker on this machine, on SQLite and PostgreSQL.

Each test gets a queue of its own (deleted afterwards), so tests never see each other's
messages. The broker is at ``SCALE_TEST_BROKER_URL`` (default: guest on 127.0.0.1:5672); the
tests skip with the reason when it is down, and fail instead under ``CI=true``.
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Callable
from pathlib import Path

import pika
import pytest
from sqlalchemy import func, select

from scale.api.app import create_app
from scale.clock import FakeClock
from scale.config import Settings
from scale.domain.messages import decode, from_json
from scale.messaging.amqp import AmqpTransport
from scale.messaging.base import Transport
from scale.messaging.monitor import MessagingMonitor, MessagingStats
from scale.messaging.pool import ThreadHandlerPool
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.tables import JobExecutionEndRow, JobRow, MessageRow
from tests.factories import make_job_type, make_node, make_queued_job
from tests.messaging.test_amqp_redelivery import snapshot
from tests.messaging.test_handlers import job, missing_execution_end, start_execution
from tests.util import wait_until

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

BROKER_URL = os.environ.get("SCALE_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def broker_reachable() -> str | None:
    """None when the broker answers, else why not (shared with the end-to-end tests)."""
    try:
        pika.BlockingConnection(pika.URLParameters(BROKER_URL + "?connection_attempts=1")).close()
    except Exception as exc:
        return f"RabbitMQ at {BROKER_URL} is not reachable: {exc!r}"
    return None


def count(db: Database, model: type[JobExecutionEndRow] | type[MessageRow], *where: object) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def statuses(db: Database, job_ids: list[int]) -> dict[str, int]:
    with db.read() as s:
        rows = s.execute(
            select(JobRow.status, func.count()).where(JobRow.id.in_(job_ids)).group_by(JobRow.status)
        )
        return {status: int(n) for status, n in rows}


def test_messages_are_all_applied_exactly_once_in_effect(
    db: Database, make_transport: Callable[[], AmqpTransport]
) -> None:
    """Three handler threads, each with its own connection, share the queue; every job ends
    COMPLETED, every execution end exists once, nothing is left in the outbox or the queue."""
    type_id, node_id = make_job_type(db), make_node(db)
    job_ids = [make_queued_job(db, type_id) for _ in range(40)]
    ends = []
    for job_id in job_ids:
        exe_id = start_execution(db, job_id, type_id, node_id)
        ends.append(
            {
                "job_exe_id": exe_id,
                "job_id": job_id,
                "exe_num": 1,
                "job_type_id": type_id,
                "node_id": node_id,
                "status": "COMPLETED",
                "task_results": [],
            }
        )
    producer = make_transport()
    sent = []
    for job_id, end in zip(job_ids, ends, strict=True):
        entry = {"job_id": job_id, "exe_num": 1, "node_id": node_id}
        sent += [
            from_json("running_jobs", {"jobs": [entry]}),
            from_json("completed_jobs", {"jobs": [entry]}),
            from_json("create_job_exe_ends", {"exe_ends": [end]}),
        ]
    # A producer writes in its own transaction: the outbox row commits with its change.
    with db.session() as session:
        producer.add(session, sent[: len(sent) // 2])
    producer.send(sent[len(sent) // 2 :])
    assert count(db, MessageRow) == len(sent)

    pool = ThreadHandlerPool(lambda: MessageWorker(make_transport(), HANDLERS), idle_wait=0.05)
    pool.resize(3)
    try:
        wait_until(lambda: pool.applied() >= len(sent), timeout=60, what="all messages applied")
        applied = pool.applied()
    finally:
        pool.close()
    assert applied == len(sent)
    assert statuses(db, job_ids) == {"COMPLETED": len(job_ids)}
    assert count(db, JobExecutionEndRow) == len(job_ids)
    assert count(db, MessageRow) == 0  # the outbox is empty and nothing went dead
    assert producer.backlog() == 0 and producer.dead_count() == 0


@pytest.mark.parametrize("kind", ["database", "amqp"])
def test_a_poison_message_goes_dead_after_five_tries_and_the_100_behind_it_are_applied(
    db: Database, make_transport: Callable[[], AmqpTransport], kind: str, tmp_path: Path
) -> None:
    type_id = make_job_type(db)
    job_ids = [make_queued_job(db, type_id) for _ in range(100)]
    transport: Transport = DatabaseTransport(db) if kind == "database" else make_transport()
    poison = missing_execution_end(job_ids[0], type_id)  # the handler fails on it every time
    transport.send([poison])
    transport.send([from_json("completed_jobs", {"jobs": [{"job_id": j, "exe_num": 1}]}) for j in job_ids])
    worker = MessageWorker(transport, HANDLERS)

    def settled() -> bool:
        worker.tick()
        return statuses(db, job_ids) == {"COMPLETED": 100} and transport.dead_count() == 1

    wait_until(settled, timeout=60, interval=0, what="good messages applied and the poison dead")
    assert worker.applied == 100 and worker.failed == 5
    assert transport.backlog() == 0

    app = create_app(Settings(data_dir=tmp_path / "data"), db, clock=FakeClock())
    with TestClient(app) as client:
        page = client.get("/v6/messages/dead-letters/").json()
    assert page["count"] == 1
    [dead] = page["results"]
    assert (dead["type"], dead["body"], dead["attempts"]) == ("create_job_exe_ends", poison.to_json(), 5)
    assert dead["error"].startswith("IntegrityError")


def test_a_consumer_killed_between_commit_and_ack_gets_it_redelivered_harmlessly(
    db: Database, make_transport: Callable[[], AmqpTransport]
) -> None:
    type_id, node_id = make_job_type(db), make_node(db)
    job_id = make_queued_job(db, type_id)
    first = make_transport()
    first.send([from_json("running_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1, "node_id": node_id}]})])
    [message] = wait_until(lambda: first.claim(), timeout=10, what="the message delivered")
    with db.session() as session:  # what MessageWorker does up to the commit
        HANDLERS[message.type](session, decode(message.type, message.body), FakeClock().now())
        first.ack(session, message.id)
    applied = snapshot(db)
    assert job(db, job_id).status == "RUNNING"
    first.close()  # the consumer dies: its channel closes with the delivery unacked

    second = MessageWorker(make_transport(), HANDLERS)
    wait_until(lambda: second.tick(), timeout=10, what="the message redelivered")
    assert second.applied == 1 and second.failed == 0
    assert snapshot(db) == applied  # applying it again changed nothing
    assert second.transport.backlog() == 0


def test_a_relay_killed_before_deleting_the_outbox_rows_only_duplicates(
    db: Database, make_transport: Callable[[], AmqpTransport]
) -> None:
    """Publish confirmed, outbox rows not yet deleted: the rows are published again once their
    lease runs out. Two copies reach the queue; the second application changes nothing."""
    job_id = make_queued_job(db, make_job_type(db))
    relay = make_transport()
    relay.outbox.lease_s = 0.0  # the killed relay's lease runs out at once
    relay.send([from_json("completed_jobs", {"jobs": [{"job_id": job_id, "exe_num": 1}]})])
    [row] = relay.outbox.claim()
    # The killed relay got the broker's confirm, then died before deleting the row.
    relay._publish(relay._publish_channel(), row.type, row.body, attempts=0, created=None)
    assert relay.relay() == 1  # the next relay publishes it again, and deletes it
    assert count(db, MessageRow) == 0
    worker = MessageWorker(make_transport(), HANDLERS)
    wait_until(lambda: (worker.tick(), worker.applied)[1] == 2, timeout=10, what="both copies applied")
    assert worker.failed == 0 and job(db, job_id).status == "COMPLETED"


def test_backlog_counts_the_outbox_and_the_broker_queue(
    db: Database, make_transport: Callable[[], AmqpTransport]
) -> None:
    transport = make_transport()
    transport.send([from_json("restart_scheduler", {}) for _ in range(5)])
    assert (transport.outbox.backlog(), transport.depth(), transport.backlog()) == (5, 0, 5)
    assert transport.relay() == 5
    assert transport.outbox.backlog() == 0
    wait_until(lambda: transport.depth() == 5, timeout=10, what="the broker to count five")
    assert transport.backlog() == 5
    worker = MessageWorker(transport, HANDLERS)
    wait_until(lambda: worker.tick() and transport.backlog() == 0, timeout=10, what="the queue drained")
    assert worker.applied == 5


def test_the_monitor_reports_backlog_consumers_and_dead_letters(
    db: Database, make_transport: Callable[[], AmqpTransport]
) -> None:
    """What the status's ``msg_queue`` shows, for both transports."""
    assert MessagingMonitor(DatabaseTransport(db)).sample() == MessagingStats("database", 0, 0, None, 0)
    producer = make_transport()
    producer.send([from_json("restart_scheduler", {}) for _ in range(3)])
    monitor = MessagingMonitor(make_transport())
    assert monitor.sample() == MessagingStats("amqp", 3, 0, 0, 0)
    producer.relay()
    stats = wait_until(lambda: (s := monitor.sample()).broker == 3 and s, timeout=10, what="three queued")
    assert (stats.outbox, stats.backlog) == (0, 3)
    worker = MessageWorker(make_transport(), HANDLERS)
    wait_until(lambda: worker.tick() or worker.applied == 3, timeout=10, what="the queue drained")
    stats = wait_until(lambda: (s := monitor.sample()).consumers == 1 and s, timeout=10, what="a consumer")
    assert (stats.backlog, stats.dead) == (0, 0)


def test_the_monitor_reports_a_broker_that_does_not_answer(db: Database) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = AmqpTransport(db, f"amqp://guest:guest@127.0.0.1:{port}/%2F?connection_attempts=1")
    down.send([from_json("restart_scheduler", {})])
    stats = MessagingMonitor(down).sample()
    assert (stats.outbox, stats.broker, stats.backlog) == (1, None, 1)
    assert stats.error
