"""The core end-to-end scenario, unchanged, with RabbitMQ as the message transport.

The processes (``scale up``, or ``scale api`` + ``scale scheduler``, and the
``scale message-handler`` system tasks the scheduler launches) get ``SCALE_BROKER_URL`` and a
queue of this test's own through their environment; the queue is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from sqlalchemy import create_engine, func, select

from scale.store.tables import MessageRow
from tests.e2e.conftest import Cluster, running_cluster
from tests.e2e.test_cluster import test_status_is_live_complete_and_counts_what_ran as status_scenario
from tests.messaging.test_amqp import BROKER_URL, broker_reachable


@pytest.fixture(params=["sqlite", "postgresql"])
def amqp_cluster(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Cluster, str]]:
    """The ``cluster`` fixture's two set-ups, with every process on RabbitMQ."""
    reason = broker_reachable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    queue = f"scale-e2e-{uuid.uuid4().hex[:12]}"
    # running_cluster hands the processes this process's environment (plus its own settings).
    monkeypatch.setenv("SCALE_BROKER_URL", BROKER_URL)
    monkeypatch.setenv("SCALE_BROKER_QUEUE", queue)
    try:
        with running_cluster(tmp_path, request.param, split=request.param == "postgresql") as c:
            yield c, queue
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
        connection.channel().queue_delete(queue)
        connection.close()


def test_status_is_live_complete_and_counts_what_ran_over_rabbitmq(amqp_cluster: tuple[Cluster, str]) -> None:
    c, queue = amqp_cluster
    # The scenario's first status must already count the running handler; the handler is a
    # system task the scheduler launches after the nodes register, so wait for it first.
    c.wait_status(
        lambda s: s["system"]["services"][0]["actual_count"] == 1, timeout=60, what="the message handler"
    )
    status_scenario(c)

    # The messages went through the broker: a handler consumes the test's queue, which is
    # empty, and the outbox holds nothing (no dead letters either).
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        declared = connection.channel().queue_declare(queue, durable=True, passive=True)
    finally:
        connection.close()
    assert declared.method.consumer_count >= 1
    assert declared.method.message_count == 0
    url = c.env.get("SCALE_DATABASE_URL") or f"sqlite:///{c.data_dir / 'data' / 'scale.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(MessageRow.__table__)) == 0
    finally:
        engine.dispose()
