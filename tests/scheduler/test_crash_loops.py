"""Crash loops of the scheduler's own tasks (issue 13): exponential backoff, a warning that names
the task, the node, the count and the last stderr line, and a reset after a success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scale.domain.states import TaskKind, TaskState
from scale.domain.tasks import TaskSpec, TaskUpdate
from scale.scheduler.crash_loops import STABLE_AFTER, CrashLoop, CrashLoops
from scale.scheduler.node_tasks import NodeTasks
from scale.scheduler.system_tasks import SystemTaskKind, SystemTasks
from scale.store.db import Database
from tests.scheduler.test_core import make_harness

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HANDLER = SystemTaskKind.MESSAGE_HANDLER


def test_the_wait_doubles_from_one_second_up_to_the_cap() -> None:
    waits = [CrashLoop(n, T0, "h", "").wait().total_seconds() for n in range(1, 10)]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_may_launch_only_after_the_wait_and_success_resets() -> None:
    loops = CrashLoops()
    loops.failed("x", "node-1", "boom", T0)
    loops.failed("x", "node-1", "", T0)  # no new words: the last ones are kept
    assert not loops.may_launch("x", T0 + timedelta(seconds=1.9))
    assert loops.may_launch("x", T0 + timedelta(seconds=2))
    (warning,) = loops.warnings({"x": "Thing"})
    assert warning.name == "TASK_FAILING_X"
    assert "node-1" in warning.description and "2 times in a row" in warning.description
    assert warning.description.endswith(": boom")
    loops.succeeded("x")
    assert loops.may_launch("x", T0) and loops.warnings({}) == []


def _ended(task_id: str, state: TaskState, when: datetime, tail: str = "") -> TaskUpdate:
    return TaskUpdate(task_id, "agent-1", state, when, 1, "exited with code 1", stderr_tail=tail)


def test_a_handler_failing_at_start_is_relaunched_at_most_8_times_in_60_s_then_recovers() -> None:
    books = SystemTasks(framework_id="f", run_db_update=False)
    now, launches = T0, 0
    while now < T0 + timedelta(seconds=60):
        if books.missing(now) == [HANDLER]:
            task_id = books.launched(HANDLER, "agent-1", now)
            launches += 1
            books.on_update(TaskUpdate(task_id, "agent-1", TaskState.RUNNING, now), now)
            ends = now + timedelta(seconds=0.3)
            books.on_update(_ended(task_id, TaskState.FAILED, ends, "ImportError: no"), ends, "node-1")
        now += timedelta(seconds=0.5)  # a scheduling pass every half second
    assert 2 <= launches <= 9  # the first launch and at most 8 relaunches
    (warning,) = books.crash_warnings()
    assert warning.name == "TASK_FAILING_MESSAGE_HANDLER" and warning.title == "Message Handler Failing"
    assert f"failed {launches} times in a row" in warning.description
    assert "node-1" in warning.description and warning.description.endswith("ImportError: no")

    # The cause is gone: the next launch stays up, and after a while the loop is over.
    while books.missing(now) != [HANDLER]:
        now += timedelta(seconds=0.5)
    task_id = books.launched(HANDLER, "agent-1", now)
    books.on_update(TaskUpdate(task_id, "agent-1", TaskState.RUNNING, now), now)
    assert books.crash_warnings()  # not yet: it could still die at start
    now += STABLE_AFTER
    assert books.missing(now) == []
    assert books.crash_warnings() == []


def test_handlers_stopped_on_purpose_or_lost_with_their_node_are_not_failures() -> None:
    books = SystemTasks(framework_id="f", run_db_update=False, desired_handlers=2)
    first = books.launched(HANDLER, "agent-1", T0)
    second = books.launched(HANDLER, "agent-1", T0)
    books.desired_handlers = 1
    (extra,) = books.extras()
    books.on_update(_ended(extra, TaskState.KILLED, T0), T0)
    other = first if extra == second else second
    books.on_update(_ended(other, TaskState.LOST, T0), T0)
    assert books.crashes.get(HANDLER) is None
    assert books.missing(T0) == [HANDLER]


def test_a_failed_health_check_says_why_in_the_node_error_and_warns_when_it_repeats() -> None:
    tasks = NodeTasks(node_id=3, python="python3", data_dir="/d", exe_root="/e", hostname="node-3")
    now = T0
    for _ in range(2):
        (plan,) = [
            p for p in tasks.due(now, framework="f", paused=True, keep=[]) if p.kind == TaskKind.HEALTH_CHECK
        ]
        tasks.launched(plan, now)
        tail = "/usr/bin/python3: No module named scale.taskrunner"
        tasks.on_update(TaskUpdate(plan.task_id, "a", TaskState.FAILED, now, 1, "", stderr_tail=tail), now)
        now = tasks.next_health or now
    error = tasks.errors["HEALTH_FAIL"]
    assert error.description == (
        "The last node health check failed: exit code 1: /usr/bin/python3: No module named scale.taskrunner"
    )
    (warning,) = tasks.crash_warnings()
    assert warning.name == "TASK_FAILING_HEALTH_CHECK@node-3"
    assert "node node-3 failed 2 times in a row" in warning.description


def test_the_scheduler_backs_off_a_crashing_handler_and_shows_it_in_the_status(db: Database) -> None:
    launched: list[str] = []

    def failing_handler(spec: TaskSpec) -> tuple[float, int]:
        if spec.env.get("SCALE_TASK_TYPE") == "message-handler":
            launched.append(spec.task_id)
            return 0.2, 1
        return 1.0, 0

    h = make_harness(db, script=failing_handler, system_tasks=True)
    start = h.clock.now()
    for _ in range(120):  # 60 s of half-second passes
        h.step(0.5)
    assert h.clock.now() - start >= timedelta(seconds=60)
    assert 2 <= len(launched) <= 9, launched
    warnings = {w["name"]: w for w in h.status()["scheduler"]["warnings"]}
    description = warnings["TASK_FAILING_MESSAGE_HANDLER"]["description"]
    assert f"failed {len(launched)} times in a row" in description
