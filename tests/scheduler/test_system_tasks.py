"""System tasks on the SIMULATION backend: message handlers and the database update as tasks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from scale.backends.sim import SimNode
from scale.domain.resources import Resources
from scale.domain.tasks import TaskSpec
from scale.store.db import Database
from scale.store.tables import SchedulerRow
from tests.factories import make_queued_job
from tests.scheduler.test_core import Harness, by_code, code_job_type, make_harness

HANDLER = "message-handler"


def script(spec: TaskSpec) -> tuple[float, int]:
    """Handlers run until killed; the database update takes a second; jobs as ``by_code``."""
    kind = spec.env.get("SCALE_TASK_TYPE")
    if kind == HANDLER:
        return 10_000.0, 0
    if kind == "db-update":
        return 1.0, 0
    return by_code(spec)


def set_handlers(h: Harness, count: int) -> None:
    with h.db.session() as s:
        s.execute(update(SchedulerRow).values(num_message_handlers=count))
    h.scheduler.sync_tick(h.clock.now())


def handler_tasks(h: Harness) -> dict[str, str]:
    """task id -> agent id of every handler task the scheduler counts."""
    return {t.task_id: t.agent_id for t in h.scheduler.system_tasks.tasks.values() if t.kind == HANDLER}


def services(status: dict[str, Any]) -> tuple[int, int]:
    (messaging,) = status["system"]["services"]
    return messaging["actual_count"], messaging["desired_count"]


def shown_handlers(status: dict[str, Any]) -> int:
    return sum(t["count"] for n in status["nodes"] for t in n["system_tasks"] if t["type"] == HANDLER)


def test_handlers_follow_the_setting_and_lost_ones_are_replaced(db: Database) -> None:
    h = make_harness(db, script=script, system_tasks=True)
    h.run_until(lambda: len(handler_tasks(h)) == 1 and h.scheduler.system_tasks.running_handlers() == 1)
    status = h.status()
    assert services(status) == (1, 1)
    assert shown_handlers(status) == 1

    set_handlers(h, 3)
    h.run_until(lambda: h.scheduler.system_tasks.running_handlers() == 3)
    status = h.status()
    assert services(status) == (3, 3) and shown_handlers(status) == 3
    # Spread over the nodes rather than piled on one
    assert len(set(handler_tasks(h).values())) == 2

    set_handlers(h, 1)
    h.run_until(lambda: len(handler_tasks(h)) == 1)
    assert services(h.status()) == (1, 1)
    # The extras were really killed, not just forgotten
    live = [
        t for t in h.backend._tasks.values() if t.spec.env.get("SCALE_TASK_TYPE") == HANDLER and not t.ended
    ]
    assert len(live) == 1

    (survivor,) = handler_tasks(h)
    h.backend.kill(survivor)  # a handler that dies for any reason
    h.run_until(
        lambda: (
            bool(handler_tasks(h))
            and survivor not in handler_tasks(h)
            and h.scheduler.system_tasks.running_handlers() == 1
        )
    )
    assert services(h.status()) == (1, 1)


def test_database_update_runs_as_a_task_and_reports_completion(db: Database) -> None:
    h = make_harness(db, script=script, system_tasks=True)
    assert h.status()["system"]["database_update"] == {"is_completed": False, "completed": None}
    h.run_until(lambda: h.scheduler.system_tasks.db_update_completed is not None)
    done = h.status()["system"]["database_update"]
    assert done["is_completed"] is True and done["completed"] is not None
    for _ in range(3):
        h.step()
    assert not [t for t in h.scheduler.system_tasks.tasks.values() if t.kind == "db-update"]


def test_no_new_jobs_while_a_system_task_waits_for_a_place(db: Database) -> None:
    """A node too small for a handler (0.5 cpu, 512 MiB) leaves it waiting: jobs stay queued."""
    type_id = code_job_type(db)
    small = [SimNode("sim-small", Resources(0.4, 4096, 10_000, 0))]
    h = make_harness(db, nodes=small, script=script, system_tasks=True)
    make_queued_job(db, type_id, CODE=0)
    for _ in range(5):
        h.step()
    assert [j.status for j in h.jobs()] == ["QUEUED"]
    warnings = h.status()["scheduler"]["warnings"]
    assert [w["name"] for w in warnings] == ["WAITING_SYSTEM_TASKS"]
    assert warnings[0]["description"] == "No new jobs scheduled due to waiting system tasks"
