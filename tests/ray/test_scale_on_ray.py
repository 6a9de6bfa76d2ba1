"""Scale on Ray end to end: ``scale api`` + ``scale scheduler --backend ray`` (PostgreSQL) over a
real 3-node Ray cluster on loopback, talked to over HTTP (issue 5).

The tests share one Scale system and run in file order; the node-loss test is last because it
takes a node away (and puts it back afterwards).
"""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_cluster import create_job_type, executions, exit_code_job_type, job
from tests.ray.conftest import GPU_NODE, HEAD, NODES, WORKER, RayTestCluster, start_scheduler
from tests.ray.test_backend import alive
from tests.util import wait_until

pytestmark = pytest.mark.slow


def job_type(name: str, command: str, **resources: float) -> dict[str, Any]:
    """A job type running ``command`` with the given Seed scalar resources."""
    body = exit_code_job_type()
    body["manifest"]["job"] = {
        **body["manifest"]["job"],
        "name": name,
        "interface": {"command": command},
        "resources": {"scalar": [{"name": k, "value": v} for k, v in resources.items()]},
        "errors": [],
    }
    return body


def queue_jobs(c: Cluster, type_id: int, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        r = c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}})
        assert r.status_code == 201, r.text
        ids.append(int(r.json()["id"]))
    return ids


def all_completed(c: Cluster, ids: list[int]) -> bool:
    r = c.get("/v6/jobs/", params={"page_size": 1000, "status": "COMPLETED"})
    return r.status_code == 200 and set(ids) <= {j["id"] for j in r.json()["results"]}


def wait_completed(c: Cluster, ids: list[int], timeout: float, what: str) -> None:
    """Wait for every job to complete; on timeout say where each job and each node stands."""
    try:
        wait_until(lambda: all_completed(c, ids), timeout=timeout, interval=1, what=what)
    except AssertionError as exc:
        r = c.get("/v6/jobs/", params={"page_size": 1000})
        states = Counter(j["status"] for j in r.json()["results"] if j["id"] in ids)
        status = c.status() or {"nodes": []}
        nodes = {
            n["hostname"]: (n["state"]["name"], n["resources"]["cpus"], n["system_tasks"], n["node_tasks"])
            for n in status["nodes"]
        }
        raise AssertionError(f"{exc}; jobs by status: {dict(states)}; nodes: {nodes}") from None


def node_by_name(status: dict[str, Any], hostname: str) -> dict[str, Any]:
    return next(n for n in status["nodes"] if n["hostname"] == hostname)


def stdout_of(c: Cluster, exe_id: int) -> str:
    r = c.get(f"/v6/job-executions/{exe_id}/logs/stdout/")
    assert r.status_code == 200, r.text
    return r.text


def test_status_lists_the_three_ray_nodes_with_their_totals(scale_on_ray: Cluster, ray_driver: str) -> None:
    c = scale_on_ray
    status = c.wait_status(lambda s: len(s["nodes"]) == 3, timeout=30, what="a status listing 3 nodes")
    assert sorted(n["hostname"] for n in status["nodes"]) == sorted(spec.name for spec in NODES)
    for spec in NODES:
        node = node_by_name(status, spec.name)
        assert node["state"]["name"] in {"READY", "INITIAL_CLEANUP"}
        totals = {name: node["resources"][name]["total"] for name in ("cpus", "mem", "disk", "gpus")}
        assert totals == {"cpus": spec.cpus, "mem": spec.mem_mib, "disk": spec.disk_mb, "gpus": spec.gpus}
    for name, attr in (("cpus", "cpus"), ("mem", "mem_mib"), ("disk", "disk_mb"), ("gpus", "gpus")):
        assert status["resources"][name]["total"] == sum(getattr(spec, attr) for spec in NODES)
    mesos = status["scheduler"]["mesos"]
    host, port = ray_driver.rsplit(":", 1)
    assert (mesos["master_hostname"], mesos["master_port"]) == (host, int(port))
    assert mesos["framework_id"].startswith("scale-ray-")


def test_a_job_no_node_can_run_stays_queued_with_its_reason_and_blocks_nothing(scale_on_ray: Cluster) -> None:
    c = scale_on_ray
    c.wait_status(lambda s: len(s["nodes"]) == 3, timeout=30, what="3 nodes")
    huge = create_job_type(c, job_type("too-big", "true", cpus=64.0, mem=128.0))
    small = create_job_type(c, job_type("small", "true", cpus=0.25, mem=64.0))
    (stuck,) = queue_jobs(c, huge, 1)
    others = queue_jobs(c, small, 3)
    wait_until(lambda: all_completed(c, others), timeout=90, interval=0.5, what="the small jobs to complete")
    detail = job(c, stuck)
    assert detail["status"] == "QUEUED"
    assert detail["queue_reasons"] == {"insufficient cpus": len(NODES)}


def test_thirty_jobs_run_gpu_jobs_only_on_the_gpu_node_and_counts_match(scale_on_ray: Cluster) -> None:
    c = scale_on_ray
    c.wait_status(lambda s: len(s["nodes"]) == 3, timeout=30, what="3 nodes")
    command = 'echo "gpus=[$CUDA_VISIBLE_DEVICES]"'
    cpu_type = create_job_type(c, job_type("cpu-work", command, cpus=0.5, mem=128.0))
    gpu_type = create_job_type(c, job_type("gpu-work", command, cpus=0.25, mem=128.0, gpus=1.0))
    ids = {job_id: cpu_type for job_id in queue_jobs(c, cpu_type, 24)}
    ids.update({job_id: gpu_type for job_id in queue_jobs(c, gpu_type, 6)})
    wait_completed(c, list(ids), timeout=240, what="all 30 jobs to complete")
    elapsed = [
        (datetime.fromisoformat(e["ended"]) - datetime.fromisoformat(e["started"])).total_seconds()
        for job_id in ids
        for e in executions(c, job_id)
    ]
    print(f"30 jobs: execution seconds min {min(elapsed):.1f} max {max(elapsed):.1f}")

    per_node: Counter[tuple[int, int]] = Counter()
    for job_id, type_id in ids.items():
        assert job(c, job_id)["num_exes"] == 1
        (exe,) = executions(c, job_id)
        per_node[(exe["node"]["id"], type_id)] += 1
        output = stdout_of(c, exe["id"])
        if type_id == gpu_type:
            assert exe["node"]["hostname"] == GPU_NODE.name
            assert "gpus=[0]" in output, output
        else:
            assert "gpus=[]" in output, output

    def counts_match(s: dict[str, Any]) -> bool:
        for node in s["nodes"]:
            counted = {
                e["job_type_id"]: e["count"] for e in node["job_executions"]["completed"]["by_job_type"]
            }
            for type_id in (cpu_type, gpu_type):
                if counted.get(type_id, 0) != per_node[(node["id"], type_id)]:
                    return False
        return True

    c.wait_status(counts_match, timeout=15, what="status counts per node to match the jobs API")


def gated_type(c: Cluster, name: str, started_dir: Path, gate: Path, cpus: float) -> int:
    """A job type that waits for ``gate``. Each job names a file in ``started_dir`` after the pid of
    the process that waits: a grandchild of the Ray worker, as a real job's programs are, which a
    worker that shuts down does not kill by itself (only its direct children)."""
    command = f"sh -c 'while [ ! -e {gate} ]; do sleep 0.1; done' & touch {started_dir}/$!; wait $!"
    return create_job_type(c, job_type(name, command, cpus=cpus, mem=64.0))


def test_a_restarted_scheduler_adopts_the_running_jobs(
    scale_on_ray: Cluster, ray_driver: str, tmp_path: Path
) -> None:
    c = scale_on_ray
    c.wait_status(lambda s: len(s["nodes"]) == 3, timeout=30, what="3 nodes")
    started_dir, gate = tmp_path / "started", tmp_path / "gate"
    started_dir.mkdir()
    ids = queue_jobs(c, gated_type(c, "gated-restart", started_dir, gate, cpus=0.25), 6)
    wait_until(lambda: len(list(started_dir.iterdir())) == 6, timeout=90, what="every main task to run")

    c.stop("scheduler", sig=signal.SIGTERM)
    restarted = datetime.now(UTC)
    start_scheduler(c, ray_driver)
    c.wait_status(
        lambda s: datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00")) > restarted,
        timeout=15,
        what="a status from the new scheduler within 15 s of the restart",
    )
    gate.touch()
    wait_until(lambda: all_completed(c, ids), timeout=60, interval=0.5, what="every job to complete")
    for job_id in ids:
        assert job(c, job_id)["num_exes"] == 1, "adopted work must not run again"
        (only,) = executions(c, job_id)
        assert only["status"] == "COMPLETED"


def test_a_lost_node_goes_offline_and_its_jobs_run_elsewhere(
    scale_on_ray: Cluster, ray_cluster: RayTestCluster, tmp_path: Path
) -> None:
    c = scale_on_ray
    c.wait_status(lambda s: len(s["nodes"]) == 3, timeout=30, what="3 nodes")
    started_dir, gate = tmp_path / "started", tmp_path / "gate"
    started_dir.mkdir()
    ids = queue_jobs(c, gated_type(c, "gated-loss", started_dir, gate, cpus=0.5), 8)

    def running_on_worker() -> list[int]:
        """The jobs running on the worker, once at least 4 run and each running one has started
        its command (written its pid), so that the pids on record are exactly the running jobs'."""
        started = len(list(started_dir.iterdir()))
        if started < 4:
            return []
        running = [
            (job_id, exes[0])
            for job_id in ids
            if (exes := executions(c, job_id)) and exes[0]["status"] == "RUNNING"
        ]
        if len(running) != started:
            return []
        return [job_id for job_id, exe in running if exe["node"]["hostname"] == WORKER.name]

    doomed = wait_until(running_on_worker, timeout=90, interval=0.5, what="jobs running on the worker node")
    try:
        started = [int(f.name) for f in started_dir.iterdir()]
        killed_at = datetime.now(UTC)
        ray_cluster.kill_node(WORKER.name)
        offline = c.wait_status(
            lambda s: node_by_name(s, WORKER.name)["state"]["name"] == "OFFLINE",
            timeout=10,
            what="the killed node OFFLINE in the status within 10 s",
        )
        assert datetime.fromisoformat(offline["timestamp"].replace("Z", "+00:00")) > killed_at
        assert {n["state"]["name"] for n in offline["nodes"] if n["hostname"] != WORKER.name} <= {
            "READY",
            "INITIAL_CLEANUP",
        }

        def lost() -> bool:
            return all(any(e["status"] == "FAILED" for e in executions(c, job_id)) for job_id in doomed)

        wait_until(lost, timeout=20, interval=0.5, what="the worker's executions to fail")
        # The lost node's task processes are ended (by each task's watchdog) while the gate is
        # still shut; the jobs on the other nodes keep running. All nodes share this machine, so
        # the pids the jobs wrote are visible here.
        wait_until(
            lambda: sum(map(alive, started)) == len(started) - len(doomed),
            timeout=15,
            interval=0.5,
            what="the lost node's task processes to be gone and only those",
        )
        gate.touch()
        wait_until(lambda: all_completed(c, ids), timeout=120, interval=1, what="every job to complete")
        for job_id in doomed:
            first, second = sorted(executions(c, job_id), key=lambda e: e["exe_num"])
            assert first["node"]["hostname"] == WORKER.name
            assert (first["status"], first["error"]["name"]) == ("FAILED", "node-lost")
            assert second["status"] == "COMPLETED"
            assert second["node"]["hostname"] in {HEAD.name, GPU_NODE.name}
    finally:
        gate.touch()
        if WORKER.name not in ray_cluster.nodes:
            ray_cluster.add_node(WORKER)
