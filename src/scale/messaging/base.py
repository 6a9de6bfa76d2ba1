"""What a message transport offers the handler loop, so ``MessageWorker`` never asks which one
it has (the database itself, or RabbitMQ behind a database outbox).

Producers always write through ``add`` inside their own transaction: whatever the transport,
a message exists exactly when the change that caused it committed. A consumer claims a batch,
applies each message in a database transaction, calls ``ack`` inside that transaction (the
database transport deletes its row there) and ``done`` after the commit (RabbitMQ's ack goes
there: it cannot join the database transaction, so a crash in between redelivers the message
and the idempotent handlers make the second application a no-op).

A claimed message is handed over as it arrived (its type and its raw body): the worker decodes
and validates each one inside its own failure accounting (``MessageWorker._apply``), so no
delivery, however malformed, can fail a whole batch or hold a consumer's place for good
(issue 14, case 4). One the worker cannot read goes to ``reject``: a dead letter at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.orm import Session

from scale.domain.messages import CommandMessage
from scale.store.db import Database


@dataclass(frozen=True)
class ClaimedMessage:
    """A message a consumer now holds, exactly as the transport has it: nothing here has been
    trusted yet. ``problem`` says why the transport could not read the delivery's own envelope
    (an AMQP header), in which case the worker rejects it without reading the body."""

    id: int
    type: str
    body: bytes
    attempts: int
    problem: str | None = None


def parse_stored_time(text: str | None) -> datetime | None:
    """A ``message`` row's time read as text (``CAST(created AS TEXT)``, either database's
    form), or None when it is not a time: rows may be written by hand, and reading one must not
    fail the relay or the dead-letter list."""
    try:
        when = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # SQLite keeps UTC without its offset (UTCDateTime)
    return when


class Transport(Protocol):
    #: "database" or "amqp": what ``dependencies.msg_queue`` reports as its type
    name: str
    #: the database the handlers apply messages to (and where dead letters are kept)
    db: Database

    def add(self, session: Session, messages: Sequence[CommandMessage], now: datetime | None = None) -> None:
        """Queue messages inside the caller's transaction, so they commit with its changes."""
        ...

    def send(self, messages: Sequence[CommandMessage]) -> None:
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

    def reject(self, message_id: int, reason: str) -> None:
        """A message that cannot be read (not JSON, unknown type, wrong shape, bad header): a dead
        letter at once, with its raw body and the reason, and let go (acknowledged)."""
        ...

    def backlog(self) -> int:
        """Messages waiting to be applied (for AMQP: outbox rows plus the broker queue)."""
        ...

    def dead_count(self) -> int: ...

    def close(self) -> None:
        """Release connections; claimed messages not yet done are redelivered to someone else."""
        ...
