"""Fixtures of the RabbitMQ tests: a queue of each test's own, and transports on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pika
import pytest

from scale.messaging.amqp import AmqpTransport
from scale.store.db import Database
from tests.messaging.test_amqp import BROKER_URL, broker_reachable


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue name of this test's own; the queue is deleted afterwards."""
    reason = broker_reachable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"scale-test-{uuid.uuid4().hex[:12]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    connection.channel().queue_delete(name)
    connection.close()


@pytest.fixture
def make_transport(db: Database, queue: str) -> Iterator[Callable[[], AmqpTransport]]:
    """Transports on the test's queue; each is closed at the end."""
    made: list[AmqpTransport] = []

    def make() -> AmqpTransport:
        made.append(AmqpTransport(db, BROKER_URL, queue=queue))
        return made[-1]

    yield make
    for transport in made:
        transport.close()
