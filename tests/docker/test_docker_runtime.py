"""Job types in Docker containers (issue 7), end to end: ``scale up --runtime docker`` on two
local nodes against this session's engine, talked to over HTTP."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import ABSENT_IMAGE, IMAGE, Engine, docker_cluster
from tests.e2e.conftest import Cluster
from tests.e2e.test_cluster import (
    DATA_CODE,
    JOB_CODE,
    SYSTEM_FAILURE,
    UNMAPPED_CODE,
    all_ended,
    create_job_type,
    executions,
    exit_code_job_type,
    job,
    queue,
)
from tests.util import wait_until

pytestmark = pytest.mark.slow

#: Printed only where the image's ``/scratch`` volume exists, that is inside the container.
IN_CONTAINER = 'if [ -d /scratch ]; then echo "in a container, code ${CODE}"; fi; '


def in_docker(body: dict[str, Any], *, name: str | None = None, command: str | None = None) -> dict[str, Any]:
    """A copy of a job type body that runs in ``IMAGE`` (optionally renamed, other command)."""
    body = copy.deepcopy(body)
    body["docker_image"] = IMAGE
    manifest_job = body["manifest"]["job"]
    if name is not None:
        manifest_job["name"] = name
    if command is not None:
        manifest_job["interface"] = {"command": command}
        manifest_job["errors"] = []
    return body


def one_try(body: dict[str, Any], **resources: float) -> dict[str, Any]:
    """``max_tries`` 1 (a system error is not retried) and the given scalar resources."""
    body["max_tries"] = 1
    if resources:
        body["manifest"]["job"]["resources"] = {
            "scalar": [{"name": key, "value": value} for key, value in resources.items()]
        }
    return body


@pytest.fixture(scope="module")
def cluster(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not docker_engine.running:
        docker_engine.start()
    with docker_cluster(tmp_path_factory.mktemp("docker-cluster"), docker_engine) as c:
        c.wait_status(
            lambda s: len(s["nodes"]) == 2 and {n["state"]["name"] for n in s["nodes"]} == {"READY"},
            timeout=60,
            what="2 READY nodes",
        )
        yield c


def running_container(engine: Engine, job_id: int) -> str:
    """The name of job ``job_id``'s (first execution's) main container, once it runs."""

    def find() -> str | None:
        names = engine.containers("label=scale.cluster_id", "status=running")
        return next((n for n in names if n.endswith(f"_{job_id}x1_main")), None)

    name: str = wait_until(find, timeout=60, interval=0.2, what=f"job {job_id}'s container to run")
    return name


def inspect(engine: Engine, name: str, template: str) -> str:
    done = engine.docker("inspect", "--format", template, name)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_exit_codes_pass_through_containers_and_each_job_ran_in_one(cluster: Cluster, engine: Engine) -> None:
    c = cluster
    body = in_docker(exit_code_job_type())
    body["manifest"]["job"]["interface"]["command"] = (
        IN_CONTAINER + body["manifest"]["job"]["interface"]["command"]
    )
    type_id = create_job_type(c, body)
    codes = [0, DATA_CODE, JOB_CODE, UNMAPPED_CODE, SYSTEM_FAILURE]
    ids = {queue(c, type_id, code): code for code in codes}
    wait_until(lambda: all_ended(c, list(ids)), timeout=150, interval=0.5, what="the jobs to end")

    expected_error = {
        0: None,
        DATA_CODE: "bad-data",
        JOB_CODE: "bad-algo",
        UNMAPPED_CODE: "algorithm-unknown",
        SYSTEM_FAILURE: "filesystem-io",
    }
    finished = 0
    for job_id, code in ids.items():
        j = job(c, job_id)
        assert j["status"] == ("COMPLETED" if code == 0 else "FAILED"), j
        assert (j["error"] or {}).get("name") == expected_error[code]
        assert j["num_exes"] == (3 if code == SYSTEM_FAILURE else 1), j
        for exe in executions(c, job_id):
            finished += 1
            detail = c.get(f"/v6/jobs/{job_id}/executions/{exe['exe_num']}/").json()
            results = {r["type"]: r for r in detail["task_results"]}
            # pull, pre, main in the container, post (not reached when main failed)
            assert list(results) == (
                ["pull", "pre", "main", "post"] if code in (0, SYSTEM_FAILURE) else ["pull", "pre", "main"]
            ), detail
            assert results["pull"]["image"] == results["main"]["image"] == IMAGE
            assert results["main"]["container_name"] == f"{exe['cluster_id']}_main"
            assert results["main"]["exit_code"] == (0 if code == SYSTEM_FAILURE else code)
            # The container's output is the execution's log
            logs = c.get(f"/v6/job-executions/{exe['id']}/logs/combined/")
            assert logs.status_code == 200
            assert f"in a container, code {code}" in logs.text, logs.text
            assert f"container {exe['cluster_id']}_main image {IMAGE}" in logs.text
    assert finished == 7

    # The status counts what ran, as with the process runtime
    def counted(s: dict[str, Any]) -> bool:
        total = {"completed": 0, "data": 0, "algorithm": 0, "system": 0}
        for node in s["nodes"]:
            total["completed"] += node["job_executions"]["completed"]["total"]
            for category in ("data", "algorithm", "system"):
                total[category] += node["job_executions"]["failed"][category]["total"]
        return total == {"completed": 1, "data": 1, "algorithm": 2, "system": 3}

    c.wait_status(counted, timeout=20, what="the status to count 7 executions")

    # No container or volume of a finished execution is left, and the nodes' cleanup tasks ran
    # against the engine
    wait_until(
        lambda: not engine.containers("label=scale.cluster_id") and not engine.volumes(),
        timeout=30,
        what="no container or volume left",
    )
    cleanups = list((c.data_dir / "data" / "node-tasks").glob("*/cleanup.stdout"))
    assert cleanups and all("container(s)" in p.read_text() for p in cleanups)


def test_over_memory_is_an_engine_kill_and_a_system_error(cluster: Cluster, engine: Engine) -> None:
    c = cluster
    command = (
        "while [ ! -e go ]; do sleep 0.1; done; echo allocating; dd if=/dev/zero of=/dev/null bs=400M count=1"
    )
    body = one_try(in_docker(exit_code_job_type(), name="memory-hog", command=command), cpus=0.5, mem=128)
    type_id = create_job_type(c, body)
    job_id = int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"])
    name = running_container(engine, job_id)

    # The allocation is on the container: 0.5 cpu, 128 MiB (no swap beyond it), no network
    assert inspect(
        engine, name, "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"
    ) == (f"{500_000_000} {128 * 2**20} {128 * 2**20}")
    assert inspect(engine, name, "{{.HostConfig.NetworkMode}}") == "none"
    workdir = Path(inspect(engine, name, "{{.Config.WorkingDir}}"))
    assert inspect(engine, name, '{{index .Config.Labels "scale.cluster_id"}}') == workdir.name
    (workdir / "go").touch()

    wait_until(lambda: job(c, job_id)["status"] == "FAILED", timeout=60, what="the job to fail")
    j = job(c, job_id)
    assert j["error"]["name"] == "docker-terminated"
    assert j["error"]["category"] == "SYSTEM"
    exe = executions(c, job_id)[0]
    assert "out of memory" in c.get(f"/v6/job-executions/{exe['id']}/logs/stderr/").text
    wait_until(lambda: name not in engine.containers(), timeout=30, what="the container to be removed")


def test_cancel_kills_the_container(cluster: Cluster, engine: Engine) -> None:
    c = cluster
    type_id = create_job_type(c, in_docker(exit_code_job_type(), name="sleeper", command="sleep 300"))
    job_id = int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"])
    name = running_container(engine, job_id)

    assert c.post("/v6/jobs/cancel/", {"job_ids": [job_id]}).status_code == 202
    canceled_at = time.monotonic()
    wait_until(lambda: name not in engine.containers(), timeout=10, interval=0.1, what="the container to go")
    gone_after = time.monotonic() - canceled_at
    assert gone_after <= 10
    wait_until(lambda: job(c, job_id)["status"] == "CANCELED", timeout=30, what="the job to be CANCELED")


def test_a_timeout_kills_the_container(cluster: Cluster, engine: Engine) -> None:
    c = cluster
    body = in_docker(exit_code_job_type(), name="overtime", command="sleep 300")
    body["manifest"]["job"]["timeout"] = 2
    type_id = create_job_type(c, body)
    job_id = int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"])
    name = running_container(engine, job_id)
    wait_until(lambda: name not in engine.containers(), timeout=20, interval=0.2, what="the container to go")
    wait_until(lambda: job(c, job_id)["status"] == "FAILED", timeout=30, what="the job to fail")
    assert job(c, job_id)["error"]["name"] == "timeout"


def test_an_image_that_cannot_be_pulled_fails_with_pull(cluster: Cluster) -> None:
    c = cluster
    body = one_try(in_docker(exit_code_job_type(), name="absent-image", command="true"))
    body["docker_image"] = ABSENT_IMAGE
    type_id = create_job_type(c, body)
    job_id = int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"])
    wait_until(lambda: job(c, job_id)["status"] == "FAILED", timeout=60, what="the job to fail")
    j = job(c, job_id)
    assert j["error"]["name"] == "pull"
    assert j["error"]["category"] == "SYSTEM"
    detail = c.get(f"/v6/jobs/{job_id}/executions/1/").json()
    assert [(r["type"], r["status"], r["image"]) for r in detail["task_results"]] == [
        ("pull", "FAILED", ABSENT_IMAGE)
    ]
