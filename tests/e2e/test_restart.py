"""A scheduler killed with work in flight: the next one adopts the running tasks (issue 4).

Real processes: ``scale api`` and ``scale scheduler --nodes 2`` on the local backend, where each
task runs under a supervisor that outlives the scheduler.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_cluster import create_job_type, executions, exit_code_job_type, job
from tests.util import wait_until

pytestmark = pytest.mark.slow

NUM_JOBS = 10


def gated_job_type(started_dir: Path, gate: Path) -> dict[str, Any]:
    """Each job marks that its main task runs, then waits for the gate file."""
    body = exit_code_job_type()
    body["manifest"]["job"] = {
        **body["manifest"]["job"],
        "name": "gated",
        "interface": {
            "command": f"touch {started_dir}/$$; while [ ! -e {gate} ]; do sleep 0.1; done; exit 0"
        },
        "resources": {"scalar": [{"name": "cpus", "value": 0.05}, {"name": "mem", "value": 16}]},
        "errors": [],
    }
    return body


def test_killed_scheduler_restarts_adopts_running_jobs_and_counts_each_once(
    split_cluster: Cluster, tmp_path: Path
) -> None:
    c = split_cluster
    c.wait_status(timeout=20)
    started_dir, gate = tmp_path / "started", tmp_path / "gate"
    started_dir.mkdir()
    type_id = create_job_type(c, gated_job_type(started_dir, gate))
    ids = []
    for _ in range(NUM_JOBS):
        r = c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}})
        assert r.status_code == 201, r.text
        ids.append(int(r.json()["id"]))

    # Scale's smallest request is 0.25 cpu, so a small machine holds only some of the ten at once;
    # the others wait in the queue. Pause (no new job starts), then kill once every placed job is
    # in its main task: the kill must find no job between two of its tasks, where it would be
    # scheduler-lost and rerun by design.
    wait_until(lambda: len(list(started_dir.iterdir())) >= 4, timeout=60, what="jobs to run")
    assert c.patch("/v6/scheduler/", {"is_paused": True}).status_code in (200, 204)

    def settled() -> bool:
        jobs = c.get("/v6/jobs/", params={"job_type_id": type_id, "page_size": 100}).json()["results"]
        running = [j for j in jobs if j["status"] == "RUNNING"]
        waiting = [j for j in jobs if j["status"] != "RUNNING"]
        idle = all(j["status"] == "QUEUED" and not executions(c, j["id"]) for j in waiting)
        return idle and len(list(started_dir.iterdir())) == len(running)

    wait_until(settled, timeout=60, what="every placed job to be in its main task")
    pids = [int(p.name) for p in started_dir.iterdir()]

    c.stop("scheduler", sig=signal.SIGKILL)
    for pid in pids:
        os.kill(pid, 0)  # the work outlives the scheduler

    restarted = datetime.now(UTC)
    c.start("scheduler", "scheduler", "--data-dir", str(c.data_dir / "data"), "--nodes", "2")
    c.wait_status(
        lambda s: datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00")) > restarted,
        timeout=15,
        what="a status from the new scheduler within 15 s of the restart",
    )
    assert c.patch("/v6/scheduler/", {"is_paused": False}).status_code in (200, 204)
    gate.touch()
    wait_until(
        lambda: all(job(c, i)["status"] == "COMPLETED" for i in ids), timeout=60, what="every job to complete"
    )
    for job_id in ids:
        assert job(c, job_id)["num_exes"] == 1, f"adopted work ran again: {executions(c, job_id)}"
        (only,) = executions(c, job_id)
        assert only["status"] == "COMPLETED"
    status = c.wait_status(
        lambda s: sum(n["job_executions"]["completed"]["total"] for n in s["nodes"]) >= NUM_JOBS,
        timeout=20,
        what="the counts to include every job",
    )
    nodes = status["nodes"]
    assert sum(n["job_executions"]["completed"]["total"] for n in nodes) == NUM_JOBS
    assert (
        sum(
            n["job_executions"]["failed"][cat]["total"]
            for n in nodes
            for cat in ("data", "algorithm", "system")
        )
        == 0
    )
