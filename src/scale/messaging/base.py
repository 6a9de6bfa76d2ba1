"""What a message transport offers the handler loop, so ``MessageWorker`` never asks which one
it has (the database itself, or RabbitMQ behind a database outbox).

Producers always write through ``add`` inside their own transaction: whatever the transport,
a message exists exactly when the change that caused it committed. A consumer claims a batch,
applies each message in a database transaction, calls ``ack`` inside that transaction (the
database transport deletes its row there) and ``done`` after the commit (RabbitMQ's ack goes
there: it cannot join the database transaction, so a crash in between redelivers the message
and the idempotent handlers make the second application a no-op).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from scale.messaging.messages import ClaimedMessage, Message
from scale.store.db import Database


class Transport(Protocol):
    #: "database" or "amqp": what ``dependencies.msg_queue`` reports as its type
    name: str
    #: the database the handlers apply messages to (and where dead letters are kept)
    db: Database

    def add(self, session: Session, messages: Sequence[Message], now: datetime | None = None) -> None:
        """Queue messages inside the caller's transaction, so they commit with its changes."""
        ...

    def send(self, messages: Sequence[Message]) -> None:
        """Queue messages in a transaction of their own."""
        ...

    def claim(self, limit: int = 20) -> list[ClaimedMessage]:
        """Up to ``limit`` messages this consumer now holds; an empty list when none are waiting."""
        ...

    def ack(self, session: Session, message_id: int) -> None:
        """Inside the applying transaction: the message is applied once this commits."""
        ...

    def done(self, message_id: int) -> None:
        """After the applying transaction committed: let the message go for good."""
        ...

    def fail(self, message_id: int, error: str) -> bool:
        """Record a failed attempt; returns True when the message is now a dead letter."""
        ...

    def backlog(self) -> int:
        """Messages waiting to be applied (for AMQP: outbox rows plus the broker queue)."""
        ...

    def dead_count(self) -> int: ...

    def close(self) -> None:
        """Release connections; claimed messages not yet done are redelivered to someone else."""
        ...
