"""Node tasks on the sim backend (a simulation): initial cleanup, health checks, cleanup batches,
and the node states and conditions they drive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scale.backends.sim import SimBackend, SimNode
from scale.clock import FakeClock
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import TaskSpec, TaskUpdate
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.scheduler.core import Scheduler, SchedulerConfig
from scale.scheduler.node_tasks import NodeTasks
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.scheduler_store import SqlSchedulerStore
from tests.factories import make_job_type, make_queued_job, manifest
from tests.scheduler.test_core import CountingPool, Harness

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def harness(db: Database, health_exit: dict[str, int], seen: list[TaskSpec]) -> Harness:
    clock = FakeClock()

    def script(spec: TaskSpec) -> tuple[float, int]:
        seen.append(spec)
        if spec.env.get("SCALE_TASK_TYPE") == "health-check":
            return 0.5, health_exit.get("code", 0)
        return 0.5, 0

    backend = SimBackend([SimNode("sim-a", Resources(2, 4096, 10_000, 0))], clock=clock, script=script)
    scheduler = Scheduler(
        backend=backend,
        store=SqlSchedulerStore(db),
        clock=clock,
        handlers=CountingPool(),
        config=SchedulerConfig(hostname="h", data_dir="/tmp/scale-node-tasks"),
    )
    scheduler.start(clock.now())
    return Harness(
        db, clock, backend, scheduler, MessageWorker(DatabaseTransport(db), HANDLERS, now=clock.now)
    )


def node_json(h: Harness) -> dict[str, object]:
    [node] = h.status()["nodes"]
    return node  # type: ignore[no-any-return]


def test_a_new_node_cleans_up_first_then_is_ready(db: Database) -> None:
    seen: list[TaskSpec] = []
    h = harness(db, {}, seen)
    h.step()
    node = node_json(h)
    assert node["state"]["name"] == "INITIAL_CLEANUP"  # type: ignore[index]
    kinds = {t["type"]: t["count"] for t in node["node_tasks"]}  # type: ignore[attr-defined]
    assert kinds == {"cleanup": 1, "health-check": 1}
    assert node["resources"]["cpus"]["running"] == 0.2  # type: ignore[index]
    h.step()
    node = node_json(h)
    assert node["state"]["name"] == "READY" and node["node_tasks"] == []  # type: ignore[index]
    cleanup = next(s for s in seen if s.env.get("SCALE_TASK_TYPE") == "cleanup")
    assert "--initial" in cleanup.command and cleanup.command.endswith("/executions/sim-a --initial")


def test_a_failed_health_check_degrades_the_node_until_the_next_good_one(db: Database) -> None:
    health = {"code": 3}
    h = harness(db, health, [])
    h.step()
    h.step()
    node = node_json(h)
    assert node["state"]["name"] == "DEGRADED"  # type: ignore[index]
    [error] = node["errors"]  # type: ignore[misc]
    assert error["name"] == "LOW_DISK_SPACE" and error["started"] == error["last_updated"]
    # No new jobs go to a degraded node
    type_id = make_job_type(db, name="quick", manifest=manifest("quick"))
    job_id = make_queued_job(db, type_id)
    h.step()
    assert h.jobs()[0].status == "QUEUED" and h.jobs()[0].id == job_id
    # The next check comes 2 minutes after the failure; when it passes the error is gone
    health["code"] = 0
    h.clock.advance(120)
    h.step()
    h.step()
    node = node_json(h)
    assert node["errors"] == [] and node["state"]["name"] == "READY"  # type: ignore[index]
    h.run_until(h.all_final)


def test_finished_executions_are_cleaned_in_batches(db: Database) -> None:
    seen: list[TaskSpec] = []
    h = harness(db, {}, seen)
    type_id = make_job_type(db, name="quick", manifest=manifest("quick"))
    for _ in range(3):
        make_queued_job(db, type_id)
    h.run_until(h.all_final)
    h.run_until(lambda: not h.scheduler.node_tasks[1].pending_cleanup, max_steps=10)
    batches = [
        s.command for s in seen if s.env.get("SCALE_TASK_TYPE") == "cleanup" and "--initial" not in s.command
    ]
    assert batches and all("scale_job_" in c for c in batches)
    assert sum(c.count("scale_job_") for c in batches) == 3


def test_paused_nodes_do_not_clean_and_slow_cleanup_warns_at_100() -> None:
    tasks = NodeTasks(
        node_id=1, python="python3", data_dir="/d", exe_root="/d/executions/n", initial_cleanup_done=True
    )
    for i in range(100):
        tasks.add_finished_execution(f"exe-{i}", T0)
    assert [w.name for w in tasks.warnings.values()] == ["SLOW_CLEANUP"]
    assert "100 job executions" in tasks.warnings["SLOW_CLEANUP"].description
    tasks.next_health = T0 + timedelta(hours=1)
    assert tasks.due(T0, framework="f", paused=True, keep=[]) == []
    [plan] = tasks.due(T0, framework="f", paused=False, keep=[])
    assert len(plan.batch) == 25
    tasks.launched(plan, T0)
    tasks.on_update(TaskUpdate(plan.task_id, "a", TaskState.FINISHED, T0, 0), T0)
    assert len(tasks.pending_cleanup) == 75 and tasks.warnings == {}


def test_a_failed_cleanup_warns_and_is_retried_later() -> None:
    tasks = NodeTasks(node_id=1, python="python3", data_dir="/d", exe_root="/d/executions/n")
    tasks.next_health = T0 + timedelta(hours=1)
    [plan] = tasks.due(T0, framework="f", paused=False, keep=["keep-me"])
    assert plan.command.endswith("--initial keep-me")
    tasks.launched(plan, T0)
    tasks.on_update(TaskUpdate(plan.task_id, "a", TaskState.FAILED, T0, 4), T0)
    assert "CLEANUP_FAILURE" in tasks.warnings and not tasks.initial_cleanup_done
    assert tasks.due(T0 + timedelta(minutes=1), framework="f", paused=False, keep=[]) == []
    assert len(tasks.due(T0 + timedelta(minutes=2), framework="f", paused=False, keep=[])) == 1
