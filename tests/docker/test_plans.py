"""Which runtime an execution gets and the tasks planned for it (no engine needed): the
scheduler's ``--runtime``, a job type's ``runtime:`` Seed tag, and what a container task carries."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any

import pytest

from scale.clock import FakeClock
from scale.domain import seed
from scale.domain.resources import Resources
from scale.domain.states import TaskKind
from scale.scheduler.core import JobTypeInfo, Scheduler, SchedulerConfig
from scale.scheduler.executions import RunningExecution
from scale.scheduler.ports import JobTypeRecord
from tests.factories import manifest

RES = Resources(cpus=0.5, mem=256.0, disk=10.0)


def scheduler(runtime: str) -> Scheduler:
    config = SchedulerConfig(hostname="h", data_dir="/data", python="/py", runtime=runtime)
    none: Any = None  # _task_plans and _task_spec touch neither the backend nor the store
    return Scheduler(backend=none, store=none, clock=FakeClock(), handlers=none, config=config)


def info(*, image: str = "algo:2", tags: tuple[str, ...] = (), is_system: bool = False) -> JobTypeInfo:
    body = manifest("algo", command="run ${X}", tags=list(tags))
    body["job"]["interface"]["inputs"] = {"json": [{"name": "X", "type": "string"}]}
    record = JobTypeRecord(
        id=1,
        name="algo",
        version="1.0.0",
        title=None,
        description=None,
        is_system=is_system,
        icon_code=None,
        is_active=True,
        is_paused=False,
        max_scheduled=None,
        max_tries=3,
        revision_num=1,
        docker_image=image,
        manifest=body,
    )
    return JobTypeInfo(record, seed.parse_manifest(body))


def kinds(s: Scheduler, i: JobTypeInfo) -> list[TaskKind]:
    return [p.kind for p in s._task_plans(i, {"json": {"X": "a b"}}, RES)]


@pytest.mark.parametrize(
    ("runtime", "tags", "image", "is_system", "in_docker"),
    [
        ("docker", (), "algo:2", False, True),
        ("process", (), "algo:2", False, False),
        ("process", ("runtime:docker",), "algo:2", False, True),
        ("docker", ("runtime:process",), "algo:2", False, False),
        ("docker", (), "", False, False),  # no image: a process
        ("docker", ("runtime:docker",), "algo:2", True, False),  # system job types: processes
    ],
)
def test_the_runtime_of_a_job_type(
    runtime: str, tags: tuple[str, ...], image: str, is_system: bool, in_docker: bool
) -> None:
    plans = scheduler(runtime)._task_plans(info(image=image, tags=tags, is_system=is_system), {}, RES)
    if is_system:
        assert [p.kind for p in plans] == [TaskKind.MAIN]
    elif in_docker:
        assert [p.kind for p in plans] == [TaskKind.PULL, TaskKind.PRE, TaskKind.MAIN, TaskKind.POST]
    else:
        assert [p.kind for p in plans] == [TaskKind.PRE, TaskKind.MAIN, TaskKind.POST]
    assert all(
        (p.image is not None) == (in_docker and p.kind in (TaskKind.PULL, TaskKind.MAIN)) for p in plans
    )


def test_a_container_main_task_carries_its_image_variables_and_name() -> None:
    s = scheduler("docker")
    plans = s._task_plans(info(), {"json": {"X": "a b"}}, RES)
    pull, _pre, main, _post = plans
    assert pull.command == "/py -m scale.runtime pull algo:2"
    assert pull.timeout_s == 1800.0
    assert shlex.split(main.command) == ["/py", "-m", "scale.runtime", "run", "algo:2", "run a b"]
    passed = main.env["SCALE_CONTAINER_ENV"].split(",")
    assert passed == sorted(["X", "ALLOCATED_CPUS", "ALLOCATED_MEM", "ALLOCATED_DISK", "ALLOCATED_GPUS"])
    assert main.env["ALLOCATED_MEM"] == "256"

    exe = RunningExecution(
        job_exe_id=9,
        job_id=4,
        exe_num=1,
        job_type_id=1,
        node_id=1,
        agent_id="a",
        cluster_id="scale_job_fw_4x1",
        priority=100,
        resources=RES,
        started=datetime(2026, 1, 1, tzinfo=UTC),
        tasks=plans,
        workdir="/data/executions/h/scale_job_fw_4x1",
        index=2,
    )
    spec = s._task_spec(exe)
    assert spec.image == "algo:2"
    assert spec.env["SCALE_CONTAINER_NAME"] == "scale_job_fw_4x1_main"
    assert spec.stdout_path == "/data/executions/h/scale_job_fw_4x1/logs/main.stdout"
