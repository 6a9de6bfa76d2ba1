"""Samples the message transport and the handlers' throughput on a thread of its own.

The status must never wait on a slow broker (issue 4: the checks behind ``dependencies`` run
outside the status build), so this thread samples every few seconds and the status loop only
reads the newest sample (``Scheduler.queue_probe``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from scale.messaging.monitor import MessagingMonitor
from scale.messaging.stats import HandlerThroughput, read_totals
from scale.scheduler.ports import QueueStats
from scale.store.db import Database

log = logging.getLogger(__name__)


class QueueProbeThread:
    def __init__(
        self, monitor: MessagingMonitor, db: Database, now: Callable[[], datetime], *, period_s: float = 2.0
    ) -> None:
        self.monitor = monitor
        self.db = db
        self.now = now
        self.period_s = period_s
        self.throughput = HandlerThroughput()
        self._latest: QueueStats | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def latest(self) -> QueueStats | None:
        return self._latest

    def sample(self) -> QueueStats:
        stats = self.monitor.sample()
        detail: dict[str, object] = {"outbox": stats.outbox}
        if stats.transport != "database":
            detail["broker_depth"] = stats.broker
            detail["consumers"] = stats.consumers
        try:
            totals = read_totals(self.db, self.now())
            detail["handlers_reporting"] = totals.live
            detail["messages_applied"] = totals.applied
            detail["messages_applied_per_sec"] = round(self.throughput.update(time.monotonic(), totals), 2)
        except Exception as exc:  # the status shows what it can; the database check reports this
            log.warning("could not read handler totals: %s", exc)
        self._latest = QueueStats(stats.transport, stats.backlog, stats.dead, detail, stats.error)
        return self._latest

    def start(self) -> None:
        # Sampling happens only on the probe's thread: a broker connection belongs to one thread.
        self._thread = threading.Thread(target=self._run, name="queue-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:
                log.exception("queue probe failed")
            if self._stop.wait(self.period_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.monitor.close()
