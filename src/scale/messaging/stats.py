"""Handler throughput across processes: each handler reports its running totals; the scheduler
turns the sum into a rate.

Message handlers run as separate processes on the nodes, so counters in memory are invisible
to the scheduler. Each handler upserts one ``message_handler`` row (applied, failed, last seen)
every few seconds; ``HandlerThroughput`` samples the sums and divides the change by the time
between samples. A handler that stopped reporting still counts in the totals (its work was
done) but not among the live handlers.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from scale.store.db import Database
from scale.store.tables import MessageHandlerRow

#: How often a handler writes its totals.
REPORT_EVERY_S = 5.0
#: A handler not heard from for this long is not counted as live.
LIVE_WITHIN = timedelta(seconds=30)


def new_handler_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def report_handler(db: Database, handler_id: str, applied: int, failed: int, now: datetime) -> None:
    """Write this handler's totals (one short transaction)."""
    with db.session() as s:
        row = s.get(MessageHandlerRow, handler_id)
        if row is None:
            s.add(
                MessageHandlerRow(
                    handler_id=handler_id, applied=applied, failed=failed, started=now, last_seen=now
                )
            )
        else:
            row.applied, row.failed, row.last_seen = applied, failed, now


@dataclass(frozen=True)
class HandlerTotals:
    applied: int
    failed: int
    live: int


def read_totals(db: Database, now: datetime) -> HandlerTotals:
    with db.read() as s:
        applied, failed = s.execute(
            select(
                func.coalesce(func.sum(MessageHandlerRow.applied), 0),
                func.coalesce(func.sum(MessageHandlerRow.failed), 0),
            )
        ).one()
        live = s.scalar(
            select(func.count())
            .select_from(MessageHandlerRow)
            .where(MessageHandlerRow.last_seen >= now - LIVE_WITHIN)
        )
    return HandlerTotals(int(applied), int(failed), int(live or 0))


class HandlerThroughput:
    """Messages applied per second by all handlers, between the last two samples."""

    def __init__(self) -> None:
        self._last: tuple[float, HandlerTotals] | None = None
        self.per_sec = 0.0

    def update(self, monotonic: float, totals: HandlerTotals) -> float:
        if self._last is not None:
            then, before = self._last
            elapsed = monotonic - then
            if elapsed > 0:
                self.per_sec = max(0.0, (totals.applied - before.applied) / elapsed)
        self._last = (monotonic, totals)
        return self.per_sec
