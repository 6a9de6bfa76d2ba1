"""The composition root: the one place that builds objects from ``Settings``."""

from __future__ import annotations

import gc
import logging
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scale.backends import make_backend
from scale.clock import SystemClock
from scale.config import Settings
from scale.messaging.base import Transport
from scale.messaging.monitor import MessagingMonitor
from scale.messaging.pool import ThreadHandlerPool
from scale.messaging.probe import QueueProbeThread
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.scheduler.core import Scheduler, SchedulerConfig
from scale.scheduler.loop import LoopRunner
from scale.scheduler.ports import Backend, Clock
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.migrate import update_database
from scale.store.scheduler_store import SqlSchedulerStore

log = logging.getLogger(__name__)


def build_database(settings: Settings) -> Database:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.resolved_database_url)


def build_backend(settings: Settings, clock: Clock, **kwargs: Any) -> Backend:
    if settings.backend == "local":
        return make_backend(
            "local", data_dir=settings.data_dir, num_nodes=settings.nodes, clock=clock, **kwargs
        )
    if settings.backend == "ray":
        return make_backend("ray", address=settings.ray_address, clock=clock, **kwargs)
    from scale.backends.sim import make_sim_nodes

    return make_backend("sim", nodes=make_sim_nodes(settings.sim_nodes), clock=clock, **kwargs)


def scheduler_config(settings: Settings, **overrides: Any) -> SchedulerConfig:
    p = settings.periods
    values: dict[str, Any] = {
        "hostname": socket.getfqdn(),
        "data_dir": str(settings.data_dir),
        "scheduling_s": p.scheduling,
        "sync_s": p.sync,
        "status_s": p.status,
        "task_handling_s": p.task_handling,
        "reconciliation_s": p.reconciliation,
        "messaging_s": p.messaging,
        "min_free_disk_mb": settings.min_free_disk_mb,
        "runtime": settings.runtime,
        "health_period_s": p.health_check,
        "health_retry_s": p.health_retry,
        # Where tasks really run, the message handlers and the database update are system tasks
        # on the nodes; on the simulation nothing runs, so handlers stay in this process.
        "system_tasks": settings.backend != "sim",
        "system_task_env": system_task_env(settings),
    }
    values.update(overrides)
    return SchedulerConfig(**values)


def system_task_env(settings: Settings) -> dict[str, str]:
    """What a ``scale message-handler`` / ``scale db-update`` task needs to reach our state."""
    # Explicit, not inherited: a task starts without our SCALE_* variables (``backends.task_env``),
    # so what the handlers must share with this scheduler is handed over here, already absolute.
    env = {
        "SCALE_DATABASE_URL": settings.resolved_database_url,
        "SCALE_DATA_DIR": str(settings.data_dir),
        "SCALE_LOG_LEVEL": settings.log_level,
    }
    for name, seconds in settings.period.model_dump().items():
        env[f"SCALE_PERIOD_{name.upper()}"] = repr(seconds)
    if settings.broker_url:
        env["SCALE_BROKER_URL"] = settings.broker_url
        env["SCALE_BROKER_QUEUE"] = settings.broker_queue
    return env


def build_transport(settings: Settings, db: Database) -> Transport:
    """A transport for one handler thread or process: RabbitMQ when ``SCALE_BROKER_URL`` is set
    (behind the database outbox), else the database itself. An AMQP connection belongs to one
    thread, so each caller gets its own."""
    if settings.broker_url:
        from scale.messaging.amqp import AmqpTransport

        return AmqpTransport(db, settings.broker_url, queue=settings.broker_queue)
    return DatabaseTransport(db)


#: Generation-0 threshold for a scheduler process (CPython's default is 700). A pass allocates
#: hundreds of thousands of short-lived objects, almost all freed by reference counting; at the
#: default, that many allocations set off the cyclic collector over and over, including full
#: collections of a large, long-lived heap (the nodes, job types, queue entries), which showed
#: as 50-100 ms stalls in the scheduling pass (BENCHMARKS.md, benchmark 1).
SCHEDULER_GC_THRESHOLD = (50_000, 20, 20)


def tune_gc_for_scheduler() -> None:
    """Collect cyclic garbage less often, and leave what exists at start-up (imports, settings)
    out of every later collection. Called once by the processes that run a scheduler, never at
    import: it is process-wide state."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SCHEDULER_GC_THRESHOLD)


@dataclass
class SchedulerService:
    """A scheduler with its loops, its message handlers and its backend, started and stopped as one."""

    scheduler: Scheduler
    runner: LoopRunner
    pool: ThreadHandlerPool
    backend: Backend
    clock: Clock
    db_update_completed: datetime | None = None
    probe: QueueProbeThread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, *, background: bool = True) -> None:
        if self.probe is not None:
            self.probe.start()
        self.scheduler.start(self.clock.now(), db_update_completed=self.db_update_completed)
        if background:
            self._thread = threading.Thread(
                target=self.runner.run, args=(self._stop,), name="scheduler", daemon=True
            )
            self._thread.start()
        else:
            self.runner.run(self._stop)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the loops, flush outbound messages, stop handlers, stop every task (no child left)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.scheduler.messaging_tick(self.clock.now())
        except Exception:
            log.exception("final message flush failed")
        self.pool.close()
        if self.probe is not None:
            self.probe.stop()
        self.backend.close()


def build_scheduler_service(
    settings: Settings,
    db: Database,
    *,
    clock: Clock | None = None,
    backend: Backend | None = None,
    run_db_update: bool = True,
    **config_overrides: Any,
) -> SchedulerService:
    clock = clock or SystemClock()
    completed = None
    if run_db_update:
        update_database(db)
        completed = clock.now()
    pool = ThreadHandlerPool(lambda: MessageWorker(build_transport(settings, db), HANDLERS, now=clock.now))
    backend = backend or build_backend(settings, clock)
    probe = QueueProbeThread(MessagingMonitor(build_transport(settings, db)), db, clock.now)
    scheduler = Scheduler(
        backend=backend,
        store=SqlSchedulerStore(db),
        clock=clock,
        handlers=pool,
        config=scheduler_config(settings, **config_overrides),
        queue_probe=probe,
    )
    return SchedulerService(
        scheduler=scheduler,
        runner=LoopRunner(scheduler.loops(), clock),
        pool=pool,
        backend=backend,
        clock=clock,
        db_update_completed=completed,
        probe=probe,
    )
