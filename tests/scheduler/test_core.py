"""The scheduler end to end on the sim backend (a simulation) with a real database and a fake
clock: every pass is driven by hand, so nothing sleeps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from scale.backends.sim import SimBackend, SimNode
from scale.clock import FakeClock
from scale.domain.resources import RESOURCE_NAMES, Resources
from scale.domain.tasks import TaskSpec
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.scheduler.core import Scheduler, SchedulerConfig
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.scheduler_store import SqlSchedulerStore
from scale.store.tables import ErrorRow, JobExecutionEndRow, JobRow, QueueRow, SchedulerRow
from tests.factories import error_id, make_job_type, make_queued_job, manifest
from tests.status_schema import SPEC_EXAMPLE, mismatches

ERRORS = [
    {"code": 3, "name": "bad-data", "title": "Bad Data", "category": "data"},
    {"code": 4, "name": "bad-algo", "title": "Bad Algorithm", "category": "job"},
]


class CountingPool:
    """Stands in for handler threads: the test drains messages itself, deterministically."""

    def __init__(self) -> None:
        self.size = 0

    def resize(self, count: int) -> None:
        self.size = count

    def alive(self) -> int:
        return self.size


def by_code(spec: TaskSpec) -> tuple[float, int]:
    """Sim script: main exits with the job's CODE input; every task takes 0.5 s."""
    if spec.env.get("SCALE_TASK_TYPE") == "main":
        return 0.5, int(spec.env.get("CODE", "0"))
    return 0.5, 0


@dataclass
class Harness:
    db: Database
    clock: FakeClock
    backend: SimBackend
    scheduler: Scheduler
    worker: MessageWorker

    def step(self, seconds: float = 1.0) -> None:
        self.clock.advance(seconds)
        now = self.clock.now()
        self.scheduler.scheduling_tick(now)
        self.scheduler.task_handling_tick(now)
        self.scheduler.messaging_tick(now)
        self.worker.drain()

    def run_until(self, done: Callable[[], bool], max_steps: int = 200) -> None:
        for _ in range(max_steps):
            if done():
                return
            self.step()
        raise AssertionError("condition not reached")

    def jobs(self) -> list[JobRow]:
        with self.db.read() as s:
            return list(s.scalars(select(JobRow).order_by(JobRow.id)))

    def all_final(self) -> bool:
        return all(j.status in ("COMPLETED", "FAILED", "CANCELED") for j in self.jobs())

    def status(self) -> dict[str, Any]:
        self.scheduler.status_tick(self.clock.now())
        with self.db.read() as s:
            row = s.get(SchedulerRow, 1)
            assert row is not None and row.status is not None
            return row.status


def make_harness(
    db: Database,
    nodes: list[SimNode] | None = None,
    script: Callable[[TaskSpec], tuple[float, int]] = by_code,
    **config: Any,
) -> Harness:
    clock = FakeClock()
    nodes = nodes or [
        SimNode("sim-a", Resources(2, 4096, 10_000, 0)),
        SimNode("sim-b", Resources(2, 4096, 10_000, 0)),
    ]

    def with_node_tasks(spec: TaskSpec) -> tuple[float, int]:
        # Health checks and cleanups pass quickly unless a test scripts them itself.
        if spec.env.get("SCALE_TASK_TYPE") in ("cleanup", "health-check"):
            return 0.5, 0
        return script(spec)

    backend = SimBackend(nodes, clock=clock, script=with_node_tasks)
    scheduler = Scheduler(
        backend=backend,
        store=SqlSchedulerStore(db),
        clock=clock,
        handlers=CountingPool(),
        config=SchedulerConfig(hostname="test-host", data_dir="/tmp/scale-test", **config),
    )
    scheduler.start(clock.now(), db_update_completed=clock.now())
    worker = MessageWorker(DatabaseTransport(db), HANDLERS, now=clock.now)
    worker.drain()
    return Harness(db, clock, backend, scheduler, worker)


def code_job_type(db: Database, **fields: Any) -> int:
    m = manifest(
        "exit-code",
        command="exit ${CODE}",
        errors=ERRORS,
        interface={"command": "exit ${CODE}", "inputs": {"json": [{"name": "CODE", "type": "integer"}]}},
    )
    return make_job_type(db, name="exit-code", manifest=m, **fields)


def test_jobs_run_to_their_end_with_the_right_errors_and_counts(db: Database) -> None:
    type_id = code_job_type(db)
    h = make_harness(db)
    codes = [0, 3, 4, 9] * 3
    for code in codes:
        make_queued_job(db, type_id, CODE=code)
    h.run_until(h.all_final)

    with db.read() as s:
        names = {e.id: e.name for e in s.scalars(select(ErrorRow))}
        ends = list(s.scalars(select(JobExecutionEndRow)))
    jobs = h.jobs()
    by_code_status = {(int(j.input["json"]["CODE"]), j.status, names.get(j.error_id or 0)) for j in jobs}
    assert by_code_status == {
        (0, "COMPLETED", None),
        (3, "FAILED", "bad-data"),
        (4, "FAILED", "bad-algo"),
        (9, "FAILED", "algorithm-unknown"),
    }
    assert all(j.num_exes == 1 for j in jobs)  # none of these errors is retried

    # The status counts match what the database says ran on each node
    status = h.status()
    assert mismatches(SPEC_EXAMPLE, status) == []
    assert status["scheduler"]["warnings"] == []
    deps = status["dependencies"]
    assert set(deps) == {"database", "msg_queue", "nodes", "logs"}
    assert all(d["OK"] for d in deps.values()), deps
    assert deps["nodes"]["detail"]["num_nodes"] == 2
    assert deps["msg_queue"]["detail"]["queue_depth"] == 0
    expected: Counter[tuple[int, str]] = Counter()
    for end in ends:
        key = "completed" if end.status == "COMPLETED" else (end.error_category or "").lower()
        expected[(end.node_id or 0, key)] += 1
    for node in status["nodes"]:
        je = node["job_executions"]
        assert je["completed"]["total"] == expected[(node["id"], "completed")]
        for cat in ("data", "algorithm", "system"):
            assert je["failed"][cat]["total"] == expected[(node["id"], cat)]
    assert sum(n["job_executions"]["completed"]["total"] for n in status["nodes"]) == 3
    assert sum(n["job_executions"]["failed"]["data"]["total"] for n in status["nodes"]) == 3
    assert sum(n["job_executions"]["failed"]["algorithm"]["total"] for n in status["nodes"]) == 6


def test_resources_add_up_and_running_matches_tasks(db: Database) -> None:
    type_id = code_job_type(db)
    h = make_harness(db, script=lambda spec: (30.0, 0))
    for _ in range(5):
        make_queued_job(db, type_id, CODE=0)
    h.step()
    h.step()
    status = h.status()
    running_tasks = [exe for exe in h.scheduler.executions.values() if exe.task_id]
    assert running_tasks, "some tasks should be running"
    for node in status["nodes"]:
        for name in RESOURCE_NAMES:
            r = node["resources"][name]
            assert r["offered"] + r["running"] + r["free"] + r["unavailable"] == pytest.approx(
                r["total"], abs=0.01
            )
        expected_cpus = sum(
            e.current.resources.cpus for e in running_tasks if e.node_id == node["id"] and e.current
        )
        assert node["resources"]["cpus"]["running"] == pytest.approx(expected_cpus, abs=0.01)
    assert status["resources"]["cpus"]["total"] == 4


def test_pause_keeps_jobs_queued_and_stops_nodes(db: Database) -> None:
    type_id = code_job_type(db)
    h = make_harness(db)
    with db.session() as s:
        row = s.get(SchedulerRow, 1)
        assert row is not None
        row.is_paused = True
    h.scheduler.sync_tick(h.clock.now())
    job_id = make_queued_job(db, type_id, CODE=0)
    for _ in range(5):
        h.step()
    status = h.status()
    assert status["scheduler"]["state"]["name"] == "PAUSED"
    assert {n["state"]["name"] for n in status["nodes"]} == {"SCHEDULER_STOPPED"}
    assert status["num_offers"] == 0
    assert h.jobs()[0].status == "QUEUED"
    with db.session() as s:
        row = s.get(SchedulerRow, 1)
        assert row is not None
        row.is_paused = False
    h.scheduler.sync_tick(h.clock.now())
    h.run_until(h.all_final)
    assert h.jobs()[0].status == "COMPLETED" and h.jobs()[0].id == job_id


def test_a_job_no_node_can_hold_waits_with_a_reason_and_blocks_nobody(db: Database) -> None:
    small = code_job_type(db)
    big_manifest = manifest("too-big", resources={"scalar": [{"name": "mem", "value": 1_000_000}]})
    big = make_job_type(db, name="too-big", manifest=big_manifest)
    big_job = make_queued_job(db, big, priority=1)
    with db.session() as s:
        q = s.get(QueueRow, big_job)
        assert q is not None
        q.resources = {"cpus": 1, "mem": 1_000_000, "disk": 0, "gpus": 0}
    small_jobs = [make_queued_job(db, small, priority=100, CODE=0) for _ in range(4)]
    h = make_harness(db)
    h.run_until(lambda: all(j.status == "COMPLETED" for j in h.jobs() if j.id in small_jobs))
    with db.read() as s:
        q = s.get(QueueRow, big_job)
        assert q is not None and q.unplaced_reasons == {"insufficient mem": 2}
    [warning] = h.status()["scheduler"]["warnings"]
    assert warning["name"] == f"INSUFFICIENT_RESOURCES_{big}"
    assert warning["title"] == "Insufficient Resources for too-big 1.0.0"
    assert "mem" in warning["description"]
    assert warning["started"] <= warning["last_updated"]


def test_lost_node_fails_its_executions_with_node_lost_and_they_retry_elsewhere(db: Database) -> None:
    type_id = code_job_type(db)
    h = make_harness(db, script=lambda spec: (3.0, 0))
    jobs = [make_queued_job(db, type_id, CODE=0) for _ in range(4)]
    h.step()
    h.step()
    lost_agent = next(iter(h.scheduler.executions.values())).agent_id
    lost_node = next(iter(h.scheduler.executions.values())).node_id
    h.backend.lose_agent(lost_agent)
    h.run_until(h.all_final)
    with db.read() as s:
        names = {e.id: e.name for e in s.scalars(select(ErrorRow))}
        ends = list(s.scalars(select(JobExecutionEndRow)))
    lost = [e for e in ends if names.get(e.error_id or 0) == "node-lost"]
    assert lost and all(e.node_id == lost_node for e in lost)
    assert all(j.status == "COMPLETED" for j in h.jobs() if j.id in jobs)
    status = h.status()
    assert {n["hostname"]: n["state"]["name"] for n in status["nodes"]}[
        "sim-a" if lost_agent.endswith("a") or "sim-a" in lost_agent else "sim-b"
    ] == "OFFLINE"


def test_main_task_timeout_fails_with_timeout(db: Database) -> None:
    m = manifest("slow", timeout=5)
    type_id = make_job_type(db, name="slow", manifest=m)
    h = make_harness(
        db, script=lambda spec: (1000.0, 0) if spec.env.get("SCALE_TASK_TYPE") == "main" else (0.5, 0)
    )
    make_queued_job(db, type_id)
    h.run_until(h.all_final, max_steps=60)
    with db.read() as s:
        job = s.scalars(select(JobRow)).one()
        error = s.get(ErrorRow, job.error_id)
    assert job.status == "FAILED" and error is not None and error.name == "timeout"


def test_restart_rebuilds_counts_from_the_database(db: Database) -> None:
    type_id = code_job_type(db)
    h = make_harness(db)
    for code in (0, 0, 3):
        make_queued_job(db, type_id, CODE=code)
    h.run_until(h.all_final)
    before = {n["hostname"]: n["job_executions"] for n in h.status()["nodes"]}
    h2 = make_harness(db)
    h2.clock.advance(0)
    after = {n["hostname"]: n["job_executions"] for n in h2.status()["nodes"]}
    for host, je in before.items():
        assert after[host]["completed"] == je["completed"]
        assert after[host]["failed"] == je["failed"]


def test_work_a_new_backend_no_longer_has_ends_scheduler_lost_once_and_is_retried(db: Database) -> None:
    """A simulation keeps nothing across schedulers (``recover`` is empty), so every execution
    the first scheduler left running must end FAILED with scheduler-lost, once, and its job run
    again to completion; the counts of the new scheduler equal the database's ends."""
    type_id = code_job_type(db)
    h = make_harness(db, script=lambda spec: (30.0, 0))
    for _ in range(4):
        make_queued_job(db, type_id, CODE=0)
    h.step()
    h.step()
    assert len(h.scheduler.executions) == 4
    h2 = make_harness(db, script=lambda spec: (1.0, 0))  # the first one is gone without a word
    h2.run_until(h2.all_final)
    jobs = h2.jobs()
    assert all(j.status == "COMPLETED" and j.num_exes == 2 for j in jobs)
    with db.read() as s:
        ends = list(s.scalars(select(JobExecutionEndRow)))
    lost = error_id(db, "scheduler-lost")
    assert len(ends) == 8 and len({e.job_exe_id for e in ends}) == 8
    assert sorted(e.status for e in ends) == ["COMPLETED"] * 4 + ["FAILED"] * 4
    assert all(e.error_id == lost for e in ends if e.status == "FAILED")
    status = h2.status()
    assert sum(n["job_executions"]["completed"]["total"] for n in status["nodes"]) == 4
    assert sum(n["job_executions"]["failed"]["system"]["total"] for n in status["nodes"]) == 4


def test_a_job_type_created_after_the_last_sync_runs_without_waiting_for_sync(db: Database) -> None:
    h = make_harness(db)
    type_id = code_job_type(db)  # created after start(): not in the scheduler's cache yet
    make_queued_job(db, type_id, CODE=3)
    h.run_until(h.all_final, max_steps=8)  # no sync_tick in between
    with db.read() as s:
        job = s.scalars(select(JobRow)).one()
        error = s.get(ErrorRow, job.error_id)
    assert job.status == "FAILED" and error is not None and error.name == "bad-data"


def _set_node(db: Database, hostname: str, **fields: Any) -> None:
    from scale.store.tables import NodeRow

    with db.session() as s:
        row = s.scalars(select(NodeRow).where(NodeRow.hostname == hostname)).one()
        for key, value in fields.items():
            setattr(row, key, value)


def test_a_paused_node_shows_paused_at_the_next_status_and_takes_no_new_work(db: Database) -> None:
    type_id = code_job_type(db)
    h = make_harness(db, script=lambda spec: (2.0, 0))
    h.run_until(lambda: {n["state"]["name"] for n in h.status()["nodes"]} == {"READY"}, max_steps=5)
    _set_node(db, "sim-a", is_paused=True, pause_reason="maintenance")
    states = {n["hostname"]: n["state"]["name"] for n in h.status()["nodes"]}
    assert states == {"sim-a": "PAUSED", "sim-b": "READY"}
    for _ in range(6):
        make_queued_job(db, type_id, CODE=0)
    h.run_until(h.all_final)
    with db.read() as s:
        nodes = {e.node_id for e in s.scalars(select(JobExecutionEndRow))}
    assert nodes == {h.scheduler.node_by_agent["sim-agent-0002"]}


def test_deprecating_a_node_fails_its_work_with_node_lost_and_it_completes_elsewhere(db: Database) -> None:
    type_id = code_job_type(db)
    h = make_harness(db, script=lambda spec: (5.0, 0))
    jobs = [make_queued_job(db, type_id, CODE=0) for _ in range(6)]
    h.step()
    h.step()
    on_a = [e for e in h.scheduler.executions.values() if e.agent_id == "sim-agent-0001"]
    assert on_a, "some work should run on sim-a"
    _set_node(db, "sim-a", is_active=False)
    h.scheduler.status_tick(h.clock.now())
    h.run_until(h.all_final)
    with db.read() as s:
        names = {e.id: e.name for e in s.scalars(select(ErrorRow))}
        ends = list(s.scalars(select(JobExecutionEndRow)))
    lost = [e for e in ends if names.get(e.error_id or 0) == "node-lost"]
    assert len(lost) == len(on_a)
    assert all(j.status == "COMPLETED" for j in h.jobs() if j.id in jobs)
    completed_nodes = {e.node_id for e in ends if e.status == "COMPLETED"}
    assert on_a[0].node_id not in completed_nodes
    assert "sim-a" not in {n["hostname"] for n in h.status()["nodes"] if n["state"]["name"] == "READY"}


def test_cancel_kills_running_work_which_ends_canceled_and_requeue_runs_it_again(db: Database) -> None:
    from scale.services.job_actions import JobSelection, cancel_jobs, requeue_jobs

    type_id = code_job_type(db)
    h = make_harness(
        db, script=lambda spec: (100.0, 0) if spec.env.get("SCALE_TASK_TYPE") == "main" else (0.5, 0)
    )
    jobs = [make_queued_job(db, type_id, CODE=0) for _ in range(2)]
    h.run_until(lambda: len([e for e in h.scheduler.executions.values() if e.current and e.index == 1]) == 2)
    assert cancel_jobs(db, JobSelection(job_ids=jobs), now=h.clock.now()) == 2
    h.scheduler.status_tick(h.clock.now())
    h.step()
    h.step()
    assert h.scheduler.executions == {}
    with db.read() as s:
        ends = list(s.scalars(select(JobExecutionEndRow)))
    assert sorted(e.status for e in ends) == ["CANCELED", "CANCELED"]
    assert {j.status for j in h.jobs()} == {"CANCELED"}
    status = h.status()
    assert all(n["job_executions"]["completed"]["total"] == 0 for n in status["nodes"])
    assert all(n["job_executions"]["failed"]["total"] == 0 for n in status["nodes"])
    # Requeue: they run again as a second execution
    assert requeue_jobs(db, JobSelection(job_ids=jobs), now=h.clock.now(), priority=5) == 2
    h.backend._script = lambda spec: (0.5, 0)  # type: ignore[assignment]
    h.run_until(h.all_final)
    assert {(j.status, j.num_exes, j.priority) for j in h.jobs()} == {("COMPLETED", 2, 5)}
