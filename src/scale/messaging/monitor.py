"""What the status's ``dependencies.msg_queue`` needs from the message transport: the
outbound backlog (outbox rows plus, on RabbitMQ, the broker queue), the dead letters, and
whether the broker answers.

The scheduler calls ``sample`` from its status loop; it never raises, so a broker that is down
turns ``msg_queue`` not OK instead of stopping the status. A monitor owns its own broker
connection (pika connections belong to one thread), which it reopens after an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scale.messaging.amqp import AmqpTransport
from scale.messaging.base import Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessagingStats:
    #: "database" or "amqp"
    transport: str
    #: messages waiting in the database ``message`` table (on AMQP: not yet relayed)
    outbox: int
    #: messages ready in the broker queue (None when the broker did not answer; 0 without one)
    broker: int | None
    #: consumers attached to the broker queue (None without a broker or when it did not answer)
    consumers: int | None
    dead: int
    #: why the broker could not be asked, when it could not
    error: str | None = None

    @property
    def backlog(self) -> int:
        return self.outbox + (self.broker or 0)


class MessagingMonitor:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def sample(self) -> MessagingStats:
        # On AMQP the transport's own backlog() asks the broker; the outbox alone is the database's.
        rows = self.transport.outbox if isinstance(self.transport, AmqpTransport) else self.transport
        outbox, dead = rows.backlog(), rows.dead_count()
        if not isinstance(self.transport, AmqpTransport):
            return MessagingStats(self.transport.name, outbox, 0, None, dead)
        try:
            depth, consumers = self.transport.queue_counts()
        except Exception as exc:  # reported in the status, never raised into the status loop
            log.warning("message broker did not answer: %s", exc)
            self.transport.close()
            return MessagingStats(self.transport.name, outbox, None, None, dead, error=f"{exc!r}")
        return MessagingStats(self.transport.name, outbox, depth, consumers, dead)

    def close(self) -> None:
        self.transport.close()
