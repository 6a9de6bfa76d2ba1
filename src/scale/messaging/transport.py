"""The database transport for command messages (the default; RabbitMQ is ``messaging.amqp``).

A handler claims a batch by stamping a lease on rows nobody holds (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, so several handlers never wait on each other), applies each message and deletes
its row in the same transaction as the change it made: on this transport a message is applied
exactly once even though handlers are written for at-least-once delivery. A message that fails
``max_attempts`` times is marked dead and stops blocking the ones behind it; one that cannot be
read at all (``reject``) is marked dead at once.

A claim reads each row's body as the text the database holds (``CAST(body AS TEXT)``), not
through the JSON column type: a row whose body is not JSON (SQLite stores any text) or not an
object must become a dead letter of its own, not make the whole claim raise and stall every
message behind it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.orm import Session

from scale.domain.messages import CommandMessage, encode
from scale.messaging.base import ClaimedMessage
from scale.store.db import Database
from scale.store.tables import MessageRow

MAX_ATTEMPTS = 5


class DatabaseTransport:
    name = "database"

    def __init__(self, db: Database, *, lease_s: float = 60.0, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.db = db
        self.lease_s = lease_s
        self.max_attempts = max_attempts

    def add(self, session: Session, messages: Sequence[CommandMessage], now: datetime | None = None) -> None:
        """Queue messages inside the caller's transaction, so they commit with its changes."""
        now = now or datetime.now(UTC)
        encoded = (encode(m) for m in messages)
        session.add_all(MessageRow(type=type_, body=body, created=now) for type_, body in encoded)

    def send(self, messages: Sequence[CommandMessage]) -> None:
        if not messages:
            return
        with self.db.session() as session:
            self.add(session, messages)

    def claim(self, limit: int = 20) -> list[ClaimedMessage]:
        now = time.time()
        with self.db.session() as session:
            query = (
                select(MessageRow.id)
                .where(MessageRow.dead.is_(False), MessageRow.claimed_until < now)
                .order_by(MessageRow.id)
                .limit(limit)
            )
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if not ids:
                return []
            session.execute(
                update(MessageRow).where(MessageRow.id.in_(ids)).values(claimed_until=now + self.lease_s)
            )
            rows = session.execute(
                select(MessageRow.id, MessageRow.type, cast(MessageRow.body, Text), MessageRow.attempts)
                .where(MessageRow.id.in_(ids))
                .order_by(MessageRow.id)
            )
            return [
                ClaimedMessage(
                    row_id, type_ or "", (body or "").encode(), attempts if type(attempts) is int else 0
                )
                for row_id, type_, body, attempts in rows
            ]

    def ack(self, session: Session, message_id: int) -> None:
        """Delete an applied message inside the transaction that applied it."""
        session.execute(delete(MessageRow).where(MessageRow.id == message_id))

    def done(self, message_id: int) -> None:
        """Nothing left to do: the row went with the applying transaction."""

    def close(self) -> None:
        """Nothing held: an unfinished claim simply runs out its lease."""

    def fail(self, message_id: int, error: str) -> bool:
        """Record a failed attempt and release the claim; returns True when the message is now dead."""
        with self.db.session() as session:
            row = session.get(MessageRow, message_id)
            if row is None:
                return False
            row.attempts += 1
            row.last_error = error[-4000:]
            row.claimed_until = 0.0
            row.dead = row.attempts >= self.max_attempts
            return row.dead

    def reject(self, message_id: int, reason: str) -> None:
        """Dead at once: the row keeps the body as it was written, with the reason."""
        with self.db.session() as session:
            session.execute(
                update(MessageRow)
                .where(MessageRow.id == message_id)
                .values(
                    attempts=MessageRow.attempts + 1,
                    last_error=reason[-4000:],
                    claimed_until=0.0,
                    dead=True,
                )
            )

    def backlog(self) -> int:
        with self.db.read() as session:
            count = session.scalar(
                select(func.count()).select_from(MessageRow).where(MessageRow.dead.is_(False))
            )
            return int(count or 0)

    def dead_count(self) -> int:
        with self.db.read() as session:
            count = session.scalar(
                select(func.count()).select_from(MessageRow).where(MessageRow.dead.is_(True))
            )
            return int(count or 0)
