"""RabbitMQ (AMQP 0-9-1) transport, behind a transactional outbox in the database.

Why an outbox: a producer's change and its message must commit together, and no broker can
join a database transaction. So producers keep writing ``message`` rows inside their own
transaction (``add``, exactly as on the database transport), and a relay moves those rows to
a durable queue as persistent messages, deleting a row only after the broker confirmed it
(publisher confirms). A relay killed between the confirm and the delete publishes the row
again after its lease runs out: a duplicate, never a loss.

Consumers take messages with manual acks and a prefetch window, apply each in a database
transaction, commit, then ack. A consumer killed between commit and ack gets the message
redelivered to another one; the handlers are idempotent (``services.handlers``), so applying
it twice changes nothing the second time.

Failure counting: a failed message is republished to the back of the queue with the attempt
count and the error in its headers, then the original is acked. We count in a header rather
than rely on a quorum queue's ``x-delivery-count``: it works on the plain durable classic
queue of any RabbitMQ, a failing message goes to the *back* of the queue so it never holds up
the ones behind it, and the error of the last try travels with it, which the dead-letter
store must show. On the fifth failure the message is written to the ``message`` table as a
dead row (what ``GET /v6/messages/dead-letters/`` lists) and acked. The price: a message that
kills its consumer process outright (rather than raising) is redelivered without being counted,
and a consumer killed between republishing (or writing the dead row) and acking leaves one
extra copy (or one extra dead row): duplicates, never losses.

Nothing a publisher sends is trusted: the delivery callback only buffers the raw delivery, and
its headers are read per delivery in ``claim`` (``_envelope``) and its body by the worker, each
inside that one message's failure accounting. A delivery that cannot be read (a header of the
wrong type, a body that is not JSON or not of its type's shape) is rejected: written as a dead
row at once, with its raw body and the reason, and acked, so it never holds a place in the
prefetch window (issue 14, case 4).

pika's ``BlockingConnection`` is synchronous, which fits the thread-per-handler pool, and not
thread-safe: each handler thread or process owns one ``AmqpTransport``. It connects lazily, so
the connection is made by the thread that uses it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from sqlalchemy import Text, cast, delete, select
from sqlalchemy.orm import Session

from scale.domain.json_fields import parse_json
from scale.domain.messages import CommandMessage
from scale.exceptions import InvalidMessage
from scale.messaging.base import ClaimedMessage, parse_stored_time
from scale.messaging.transport import MAX_ATTEMPTS, DatabaseTransport
from scale.store.db import Database
from scale.store.tables import MessageRow

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "scale.messages"
ATTEMPTS_HEADER = "x-scale-attempts"
ERROR_HEADER = "x-scale-error"
CREATED_HEADER = "x-scale-created"
#: what an AMQP short string (the message's ``type`` property) can hold
MAX_TYPE_BYTES = 255


@dataclass(frozen=True)
class _Delivery:
    """A delivery as the broker gave it; ``_envelope`` reads its headers."""

    tag: int
    type: str
    headers: object
    body: bytes
    attempts: int = 0
    created: datetime | None = None


def _envelope(headers: object) -> tuple[int, datetime | None]:
    """(attempts so far, when the message was made) from a delivery's headers, strictly: any
    publisher can set them, so a value of the wrong type raises ``InvalidMessage``."""
    if headers is None:
        return 0, None
    if not isinstance(headers, dict):
        raise InvalidMessage(f"headers: expected a table, got {type(headers).__name__}")
    attempts = headers.get(ATTEMPTS_HEADER, 0)
    if type(attempts) is not int or attempts < 0:
        raise InvalidMessage(
            f"header {ATTEMPTS_HEADER}: expected a count (an integer ≥ 0), got {attempts!r:.100}"
        )
    created_text = headers.get(CREATED_HEADER)
    if created_text is None:
        return attempts, None
    try:
        if not isinstance(created_text, str):
            raise ValueError
        created = datetime.fromisoformat(created_text)
        if created.tzinfo is None:
            raise ValueError
    except ValueError:
        expected = "an ISO 8601 time with its UTC offset"
        raise InvalidMessage(
            f"header {CREATED_HEADER}: expected {expected}, got {created_text!r:.100}"
        ) from None
    return attempts, created


def dead_letter_body(raw: bytes) -> Any:
    """What a dead row keeps of a body: its JSON value when it is JSON, else the raw bytes as
    text (bytes that are not UTF-8 as ``\\x..`` escapes) under ``undecodable``."""
    try:
        return parse_json(raw)
    except InvalidMessage:
        return {"undecodable": raw.decode("utf-8", errors="backslashreplace")}


class AmqpTransport:
    """One consumer's (and relay's) view of the broker. See the module docstring."""

    name = "amqp"

    def __init__(
        self,
        db: Database,
        url: str,
        *,
        queue: str = DEFAULT_QUEUE,
        prefetch: int = 20,
        max_attempts: int = MAX_ATTEMPTS,
        relay_batch: int = 200,
        outbox_lease_s: float = 30.0,
        poll_s: float = 0.2,
    ) -> None:
        self.db = db
        self.url = url
        self.queue = queue
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.relay_batch = relay_batch
        self.poll_s = poll_s
        # The outbox is the database transport's table; its lease keeps two relays from
        # publishing the same rows (both SQLite and PostgreSQL, SKIP LOCKED on the latter).
        self.outbox = DatabaseTransport(db, lease_s=outbox_lease_s, max_attempts=max_attempts)
        self.relayed = 0
        self._conn: BlockingConnection | None = None
        self._publisher: BlockingChannel | None = None
        self._consumer: BlockingChannel | None = None
        self._buffer: deque[_Delivery] = deque()
        self._inflight: dict[int, _Delivery] = {}

    # ------------------------------------------------------------------ producing

    def add(self, session: Session, messages: Sequence[CommandMessage], now: datetime | None = None) -> None:
        """Write to the outbox inside the caller's transaction; the relay publishes later."""
        self.outbox.add(session, messages, now)

    def send(self, messages: Sequence[CommandMessage]) -> None:
        self.outbox.send(messages)

    def relay(self) -> int:
        """Publish a batch of outbox rows (confirmed by the broker), then delete them."""
        rows = self.outbox.claim(self.relay_batch)
        publishable = []
        for row in rows:
            # The one field a broker can refuse (an AMQP short string); a row written by hand
            # with a longer type would fail the whole batch on every relay, for good.
            if len(row.type.encode()) > MAX_TYPE_BYTES:
                self.outbox.reject(row.id, f"InvalidMessage: type: longer than {MAX_TYPE_BYTES} bytes")
            else:
                publishable.append(row)
        rows = publishable
        if not rows:
            return 0
        ids = [row.id for row in rows]
        with self.db.read() as session:  # kept in a header, so a dead letter shows when it was made
            # As text, read row by row: a row someone wrote by hand must not stop the relay.
            query = select(MessageRow.id, cast(MessageRow.created, Text)).where(MessageRow.id.in_(ids))
            created = {row_id: parse_stored_time(when) for row_id, when in session.execute(query)}
        with self._broker_errors():
            channel = self._publish_channel()
            for row in rows:
                self._publish(channel, row.type, row.body, attempts=row.attempts, created=created.get(row.id))
        with self.db.session() as session:
            session.execute(delete(MessageRow).where(MessageRow.id.in_(ids), MessageRow.dead.is_(False)))
        self.relayed += len(rows)
        return len(rows)

    # ------------------------------------------------------------------ consuming

    def claim(self, limit: int = 20) -> list[ClaimedMessage]:
        """Relay what the outbox holds, then take up to ``limit`` deliveries (waiting up to
        ``poll_s`` for the first one). A relay that fails does not stop the consuming: what is
        in the queue already is applied, and the outbox is tried again at the next claim."""
        try:
            self.relay()
        except Exception:
            log.warning("relaying the outbox to the broker failed", exc_info=True)
        with self._broker_errors():
            self._consume_channel()
            assert self._conn is not None
            self._conn.process_data_events(time_limit=0)
            if not self._buffer and self.poll_s > 0:
                self._conn.process_data_events(time_limit=self.poll_s)
        claimed: list[ClaimedMessage] = []
        while self._buffer and len(claimed) < limit:
            delivery = self._buffer.popleft()
            problem = None
            try:
                attempts, created = _envelope(delivery.headers)
                delivery = replace(delivery, attempts=attempts, created=created)
            except InvalidMessage as exc:
                problem = str(exc)  # the worker rejects it: a dead letter, acked
            self._inflight[delivery.tag] = delivery
            claimed.append(
                ClaimedMessage(delivery.tag, delivery.type, delivery.body, delivery.attempts, problem)
            )
        return claimed

    def ack(self, session: Session, message_id: int) -> None:
        """Nothing to do inside the transaction: the broker ack comes in ``done``."""

    def done(self, message_id: int) -> None:
        if self._inflight.pop(message_id, None) is None:
            return
        with self._broker_errors():
            assert self._consumer is not None
            self._consumer.basic_ack(delivery_tag=message_id)

    def fail(self, message_id: int, error: str) -> bool:
        delivery = self._inflight.pop(message_id, None)
        if delivery is None:
            return False
        attempts = delivery.attempts + 1
        error = error[-4000:]
        dead = attempts >= self.max_attempts
        if dead:
            try:
                self._write_dead(delivery, attempts, error)
            except Exception:
                self.close()  # the broker redelivers it, rather than this consumer holding it
                raise
        with self._broker_errors():
            if not dead:
                self._publish(
                    self._publish_channel(),
                    delivery.type,
                    delivery.body,
                    attempts=attempts,
                    created=delivery.created,
                    error=error,
                )
            assert self._consumer is not None
            self._consumer.basic_ack(delivery_tag=message_id)
        return dead

    def reject(self, message_id: int, reason: str) -> None:
        """A dead row at once, with the raw body and the reason; then ack. If the row cannot be
        written the connection is dropped, so the broker gives the delivery to a consumer again
        rather than this one holding its place in the window."""
        delivery = self._inflight.pop(message_id, None)
        if delivery is None:
            return
        try:
            self._write_dead(delivery, delivery.attempts + 1, reason[-4000:])
        except Exception:
            self.close()
            raise
        with self._broker_errors():
            assert self._consumer is not None
            self._consumer.basic_ack(delivery_tag=message_id)

    def _write_dead(self, delivery: _Delivery, attempts: int, error: str) -> None:
        # Dead letters live where the database transport keeps them, so one API lists both.
        with self.db.session() as session:
            session.add(
                MessageRow(
                    type=delivery.type[:100],
                    body=dead_letter_body(delivery.body),
                    created=delivery.created or datetime.now(UTC),
                    attempts=attempts,
                    last_error=error,
                    dead=True,
                )
            )

    # ------------------------------------------------------------------ monitoring

    def depth(self) -> int:
        """Messages ready in the broker queue (those a consumer holds unacked are not counted)."""
        return self.queue_counts()[0]

    def queue_counts(self) -> tuple[int, int]:
        """(messages ready, consumers attached) on the broker queue."""
        with self._broker_errors():
            result = self._publish_channel().queue_declare(self.queue, durable=True, passive=True)
        return int(result.method.message_count), int(result.method.consumer_count)

    def backlog(self) -> int:
        return self.outbox.backlog() + self.depth()

    def dead_count(self) -> int:
        return self.outbox.dead_count()

    def close(self) -> None:
        """Close the connection; unacked deliveries go back to the queue for another consumer."""
        conn, self._conn = self._conn, None
        self._publisher = self._consumer = None
        self._buffer.clear()
        self._inflight.clear()
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except Exception:  # closing is best effort: the broker requeues on disconnect anyway
                log.debug("closing the AMQP connection failed", exc_info=True)

    def delete_queue(self) -> None:
        """Drop the queue and what it holds (tests, and tearing down a cluster)."""
        with self._broker_errors():
            self._publish_channel().queue_delete(self.queue)
        self.close()

    # ------------------------------------------------------------------ internals

    def _connection(self) -> BlockingConnection:
        if self._conn is None or not self._conn.is_open:
            params = pika.URLParameters(self.url)
            if "blocked_connection_timeout" not in self.url:
                # A broker short of memory or disk blocks publishers; give up (and retry later)
                # rather than hang a handler or the status loop for good.
                params.blocked_connection_timeout = 30.0
            self._conn = pika.BlockingConnection(params)
            self._publisher = self._consumer = None
        return self._conn

    def _publish_channel(self) -> BlockingChannel:
        if self._publisher is None or not self._publisher.is_open:
            channel = self._connection().channel()
            channel.confirm_delivery()
            channel.queue_declare(self.queue, durable=True)
            self._publisher = channel
        return self._publisher

    def _consume_channel(self) -> BlockingChannel:
        if self._consumer is None or not self._consumer.is_open:
            channel = self._connection().channel()
            channel.queue_declare(self.queue, durable=True)
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.basic_consume(self.queue, self._on_message, auto_ack=False)
            self._consumer = channel
            self._buffer.clear()
            self._inflight.clear()
        return self._consumer

    def _publish(
        self,
        channel: BlockingChannel,
        type_: str,
        body: bytes,
        *,
        attempts: int,
        created: datetime | None,
        error: str | None = None,
    ) -> None:
        headers: dict[str, Any] = {ATTEMPTS_HEADER: attempts}
        if created is not None:
            headers[CREATED_HEADER] = created.isoformat()
        if error is not None:
            headers[ERROR_HEADER] = error
        # With confirms on, basic_publish returns once the broker has the (persistent, durable)
        # message, and raises if it was refused or could not be routed.
        channel.basic_publish(
            exchange="",
            routing_key=self.queue,
            body=body,
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                type=type_,
                headers=headers,
            ),
            mandatory=True,
        )

    def _on_message(
        self,
        channel: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        """Buffer the delivery as it came: reading it can fail, and must fail for this delivery
        alone, inside the worker's accounting (a raise here would escape every later claim)."""
        self._buffer.append(
            _Delivery(
                tag=method.delivery_tag,
                type=properties.type if isinstance(properties.type, str) else "",
                headers=properties.headers,
                body=body if isinstance(body, bytes) else bytes(body or b""),
            )
        )

    @contextmanager
    def _broker_errors(self) -> Iterator[None]:
        """On a broker error drop the connection (the broker requeues what we held) and re-raise;
        the next call connects afresh."""
        try:
            yield
        except (pika.exceptions.AMQPError, OSError):
            self.close()
            raise
