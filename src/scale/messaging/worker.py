"""The message handler loop: claim a batch, apply each message with its handler, repeat.

Handlers are injected (``services.handlers.HANDLERS``); this module knows nothing about jobs.

Each claimed message is decoded and validated (``domain.messages.decode``) inside its own
``try``, with the same accounting as a handler that raises: whatever a delivery holds, it ends
applied, retried, or set aside as a dead letter, and never fails the batch it came in. One that
cannot be read is rejected at once (a dead letter with its reason): retrying cannot help.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from scale.domain.messages import CommandMessage, decode
from scale.exceptions import InvalidMessage
from scale.messaging.base import ClaimedMessage, Transport
from scale.messaging.stats import REPORT_EVERY_S, new_handler_id, report_handler

log = logging.getLogger(__name__)

#: A handler applies one decoded message inside the given session and may return follow-ups.
#: (``Any``: each handler takes its own message class; ``HANDLERS`` is keyed by that class's TYPE.)
Handler = Callable[[Session, Any, datetime], list[CommandMessage] | None]


class MessageWorker:
    def __init__(
        self,
        transport: Transport,
        handlers: Mapping[str, Handler],
        *,
        batch_size: int = 20,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.transport = transport
        self.handlers = handlers
        self.batch_size = batch_size
        self.now = now
        self.applied = 0
        self.failed = 0
        #: of ``failed``, those rejected as unreadable (dead letters at once)
        self.rejected = 0

    def tick(self) -> int:
        """Handle one batch; returns how many messages were handled (applied or failed)."""
        claimed = self.transport.claim(self.batch_size)
        for message in claimed:
            self._apply(message)
        return len(claimed)

    def drain(self, max_batches: int = 10_000) -> int:
        """Handle messages until none are left to claim (tests and one-shot runs use this)."""
        total = 0
        for _ in range(max_batches):
            n = self.tick()
            if n == 0:
                break
            total += n
        return total

    def _apply(self, message: ClaimedMessage) -> bool:
        try:
            if message.problem is not None:
                raise InvalidMessage(message.problem)
            command = decode(message.type, message.body)
            handler = self.handlers.get(command.TYPE)
            if handler is None:
                raise LookupError(f"no handler for message type {command.TYPE!r}")
            with self.transport.db.session() as session:
                follow_ups = handler(session, command, self.now()) or []
                self.transport.ack(session, message.id)
                if follow_ups:
                    self.transport.add(session, follow_ups)
        except InvalidMessage as exc:  # unreadable: retrying cannot help
            self._reject(message, str(exc))
            return False
        except Exception as exc:  # anything else (reading included) counts as a failed attempt
            self.failed += 1
            dead = self.transport.fail(message.id, f"{type(exc).__name__}: {exc}")
            log.warning(
                "message %s (%s) failed%s: %s", message.id, message.type, " (dead)" if dead else "", exc
            )
            return False
        self.applied += 1
        try:
            self.transport.done(message.id)
        except Exception:
            # Applied and committed: the worst case is a redelivery, which the handler ignores.
            log.warning("message %s applied but not acknowledged", message.id, exc_info=True)
        return True

    def _reject(self, message: ClaimedMessage, reason: str) -> None:
        self.failed += 1
        self.rejected += 1
        log.warning(
            "message %s (%.100r) cannot be read, set aside as a dead letter: %s",
            message.id,
            message.type,
            reason,
        )
        self.transport.reject(message.id, f"{InvalidMessage.__name__}: {reason}")

    def run(
        self, stop: threading.Event, idle_wait: float = 0.2, *, report_every_s: float = REPORT_EVERY_S
    ) -> None:
        """Loop until ``stop`` is set; waits a little when there is nothing to do.

        Every ``report_every_s`` (and once when stopping) the totals are written for the
        scheduler's throughput figure (``messaging/stats.py``).
        """
        handler_id = new_handler_id()
        last_report = float("-inf")
        try:
            while not stop.is_set():
                try:
                    n = self.tick()
                except Exception:
                    log.exception("message handler tick failed")
                    n = 0
                if time.monotonic() - last_report >= report_every_s:
                    last_report = time.monotonic()
                    self._report(handler_id)
                if n == 0:
                    stop.wait(idle_wait)
            self._report(handler_id)
        finally:
            self.transport.close()

    def _report(self, handler_id: str) -> None:
        try:
            report_handler(self.transport.db, handler_id, self.applied, self.failed, self.now())
        except Exception:
            log.warning("could not report handler totals", exc_info=True)
