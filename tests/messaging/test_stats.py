"""Handler throughput across processes: handlers report totals, the probe turns them into a rate."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from scale.domain.messages import from_json
from scale.messaging.monitor import MessagingMonitor
from scale.messaging.probe import QueueProbeThread
from scale.messaging.stats import HandlerThroughput, HandlerTotals, read_totals
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from tests.util import wait_until


def now() -> datetime:
    return datetime.now(UTC)


def test_a_running_handler_reports_its_totals_and_the_probe_shows_the_throughput(db: Database) -> None:
    transport = DatabaseTransport(db)
    probe = QueueProbeThread(MessagingMonitor(DatabaseTransport(db)), db, now)
    first = probe.sample()
    assert first.transport == "database" and first.detail["handlers_reporting"] == 0
    transport.send([from_json("restart_scheduler", {"when": now().isoformat()}) for _ in range(30)])
    assert probe.sample().backlog == 30

    stop = threading.Event()
    worker = MessageWorker(DatabaseTransport(db), HANDLERS)
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"report_every_s": 0.05})
    thread.start()
    try:
        wait_until(lambda: read_totals(db, now()).applied == 30, timeout=20, what="the totals to be reported")
    finally:
        stop.set()
        thread.join(10)
    stats = probe.sample()
    assert stats.backlog == 0
    assert stats.detail["handlers_reporting"] == 1
    assert stats.detail["messages_applied"] == 30
    assert stats.detail["messages_applied_per_sec"] > 0
    probe.stop()


def test_throughput_is_the_change_in_applied_over_the_time_between_samples() -> None:
    rate = HandlerThroughput()
    assert rate.update(10.0, HandlerTotals(applied=100, failed=0, live=2)) == 0.0
    assert rate.update(12.0, HandlerTotals(applied=160, failed=1, live=2)) == 30.0
    # A handler's row never goes backwards, but a rate never goes negative either
    assert rate.update(13.0, HandlerTotals(applied=150, failed=1, live=1)) == 0.0
