"""The scheduling pass: order, best fit, reservations, no head-of-line blocking, reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scale.domain.resources import Resources
from scale.scheduler.planning import PlanInput, PlanNode, QueuedJob, RunningWork, WaitingTask, schedule_pass

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def node(
    node_id: int, cpus: float, mem: float, *, offered: Resources | None = None, ready: bool = True
) -> PlanNode:
    total = Resources(cpus, mem, 1000, 0)
    return PlanNode(
        node_id=node_id,
        offered=offered if offered is not None else total,
        total=total,
        capacity=total,
        takes_new_jobs=ready,
        runs_tasks=True,
        refusal="" if ready else "node paused",
    )


def job(
    job_id: int, cpus: float, mem: float, *, priority: int = 100, type_id: int = 1, age: int = 0
) -> QueuedJob:
    return QueuedJob(job_id, type_id, 1, priority, T0 + timedelta(seconds=age), Resources(cpus, mem, 0, 0))


def test_best_fit_chooses_the_tightest_node() -> None:
    # Given a big node and a small node that both fit the job
    plan = schedule_pass(PlanInput(nodes=[node(1, 16, 64_000), node(2, 2, 4_000)], queue=[job(1, 1, 1_000)]))
    # Then the small node is chosen
    assert [(p.job.job_id, p.node_id) for p in plan.placements] == [(1, 2)]


def test_jobs_are_placed_in_the_given_queue_order_until_offers_run_out() -> None:
    queue = [job(i, 1, 100, age=i) for i in range(1, 6)]
    plan = schedule_pass(PlanInput(nodes=[node(1, 3, 10_000)], queue=queue))
    assert [p.job.job_id for p in plan.placements] == [1, 2, 3]
    assert set(plan.unplaced) == {4, 5}
    assert plan.unplaced[4] == {"insufficient cpus": 1}


def test_a_job_that_fits_no_node_does_not_block_smaller_jobs_behind_it() -> None:
    huge = job(1, 1, 1_000_000, priority=1)
    small = [job(i, 1, 100, priority=50, age=i) for i in range(2, 5)]
    plan = schedule_pass(PlanInput(nodes=[node(1, 4, 8_000), node(2, 4, 8_000)], queue=[huge, *small]))
    assert {p.job.job_id for p in plan.placements} == {2, 3, 4}
    assert plan.unplaced[1] == {"insufficient mem": 2}
    assert plan.reservations == {}


def test_a_big_job_that_would_fit_later_reserves_a_node_against_lower_priority_work() -> None:
    # Node 1 is half busy with low-priority work; node 2 is small.
    n1 = node(1, 8, 8_000, offered=Resources(4, 4_000, 1000, 0))
    n2 = node(2, 2, 2_000)
    big = job(1, 8, 8_000, priority=10)
    low = [job(i, 1, 500, priority=200, age=i) for i in range(2, 6)]
    plan = schedule_pass(
        PlanInput(
            nodes=[n1, n2],
            queue=[big, *low],
            running=[RunningWork(1, 500, Resources(4, 4_000, 0, 0))],
        )
    )
    assert plan.reservations == {1: 1}
    # Lower-priority jobs only went to the unreserved node
    assert {p.node_id for p in plan.placements} == {2}
    assert len(plan.placements) == 2


def test_higher_priority_running_work_means_no_reservation() -> None:
    n1 = node(1, 8, 8_000, offered=Resources(4, 4_000, 1000, 0))
    plan = schedule_pass(
        PlanInput(
            nodes=[n1],
            queue=[job(1, 8, 8_000, priority=10)],
            running=[RunningWork(1, 1, Resources(4, 4_000, 0, 0))],
        )
    )
    assert plan.reservations == {}


def test_not_ready_nodes_take_no_new_jobs_and_are_named_in_reasons() -> None:
    plan = schedule_pass(PlanInput(nodes=[node(1, 8, 8_000, ready=False)], queue=[job(1, 1, 100)]))
    assert plan.placements == []
    assert plan.unplaced[1] == {"node paused": 1}


def test_waiting_tasks_go_first_and_only_on_their_own_node() -> None:
    n1 = node(1, 2, 2_000)
    waiting = [WaitingTask(key=77, node_id=1, resources=Resources(2, 2_000, 0, 0), priority=100)]
    plan = schedule_pass(PlanInput(nodes=[n1], waiting_tasks=waiting, queue=[job(1, 1, 100)]))
    assert plan.next_tasks == [77]
    assert plan.placements == []


def test_paused_scheduler_places_waiting_tasks_but_no_new_jobs() -> None:
    waiting = [WaitingTask(key=5, node_id=1, resources=Resources(1, 100, 0, 0), priority=1)]
    plan = schedule_pass(
        PlanInput(
            nodes=[node(1, 4, 4_000)], waiting_tasks=waiting, queue=[job(1, 1, 100)], schedule_new_jobs=False
        )
    )
    assert plan.next_tasks == [5]
    assert plan.placements == []


def test_max_scheduled_and_paused_types_are_respected() -> None:
    queue = [job(1, 1, 100, type_id=1), job(2, 1, 100, type_id=1), job(3, 1, 100, type_id=2)]
    plan = schedule_pass(
        PlanInput(nodes=[node(1, 8, 8_000)], queue=queue, type_limits={1: 1}, paused_types=frozenset({2}))
    )
    assert [p.job.job_id for p in plan.placements] == [1]
    assert plan.unplaced[2] == {"job type at max_scheduled": 1}
    assert plan.unplaced[3] == {"job type paused": 1}


def test_plan_accounts_used_resources_per_node() -> None:
    plan = schedule_pass(PlanInput(nodes=[node(1, 8, 8_000)], queue=[job(1, 1, 100), job(2, 2, 200)]))
    assert plan.used[1] == Resources(3, 300, 0, 0)


def test_no_nodes_gives_a_reason() -> None:
    plan = schedule_pass(PlanInput(nodes=[], queue=[job(1, 1, 1)]))
    assert plan.unplaced[1] == {"no nodes": 1}


def test_a_job_type_no_node_can_ever_hold_is_reported_unfit() -> None:
    plan = schedule_pass(
        PlanInput(
            nodes=[node(1, 4, 8_000), node(2, 2, 4_000)], queue=[job(1, 1, 64_000, type_id=7), job(2, 1, 100)]
        )
    )
    assert plan.unfit_types == {7: ["mem"]}
    busy = schedule_pass(PlanInput(nodes=[node(1, 1, 8_000, offered=Resources())], queue=[job(1, 1, 100)]))
    assert busy.unfit_types == {}
