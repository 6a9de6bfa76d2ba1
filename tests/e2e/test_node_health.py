"""Node health on real local nodes (issue 4): initial cleanup, then READY; a disk floor above what
is free turns the nodes DEGRADED (no new jobs, running ones go on); a lower floor brings READY back.

The floor is process configuration (``SCALE_MIN_FREE_DISK_MB``), so it changes with a scheduler
restart, which also shows that running work survives one.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_cluster import create_job_type, job
from tests.e2e.test_restart import gated_job_type
from tests.util import wait_until

pytestmark = pytest.mark.slow

HUGE_FLOOR_MB = str(10**12)  # more free disk than any machine has


def node_states(status: dict[str, Any]) -> dict[str, str]:
    return {n["hostname"]: n["state"]["name"] for n in status["nodes"]}


def restart_scheduler(c: Cluster, **env: str) -> None:
    c.stop("scheduler", sig=signal.SIGKILL)
    saved = dict(c.env)
    c.env.update(env)
    try:
        c.start("scheduler", "scheduler", "--data-dir", str(c.data_dir / "data"), "--nodes", "2")
    finally:
        c.env.clear()
        c.env.update(saved)


def test_low_disk_degrades_nodes_which_keep_running_work_and_recover(
    split_cluster: Cluster, tmp_path: Path
) -> None:
    c = split_cluster
    status = c.wait_status(
        lambda s: len(s["nodes"]) == 2 and set(node_states(s).values()) == {"READY"},
        timeout=30,
        what="both nodes READY",
    )
    for node in status["nodes"]:  # each went through its initial cleanup to get there
        assert (c.data_dir / "data" / "node-tasks" / str(node["id"]) / "cleanup.stdout").exists()

    started_dir, gate = tmp_path / "started", tmp_path / "gate"
    started_dir.mkdir()
    type_id = create_job_type(c, gated_job_type(started_dir, gate))
    # One job: on a 2-core machine each node has one cpu, and the health check needs 0.1 of it
    running = [int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"])]
    wait_until(lambda: len(list(started_dir.iterdir())) == 1, timeout=30, what="the job running")

    restart_scheduler(c, SCALE_MIN_FREE_DISK_MB=HUGE_FLOOR_MB)
    status = c.wait_status(
        lambda s: len(s["nodes"]) == 2 and set(node_states(s).values()) == {"DEGRADED"},
        timeout=30,
        what="both nodes DEGRADED by the disk floor",
    )
    for node in status["nodes"]:
        assert "LOW_DISK_SPACE" in {e["name"] for e in node["errors"]}
    waiting = int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"])
    wait_until(
        lambda: "node degraded" in (job(c, waiting).get("queue_reasons") or {}),
        timeout=30,
        what="the new job to wait because the nodes are degraded",
    )
    assert job(c, waiting)["status"] == "QUEUED"
    assert {job(c, i)["status"] for i in running} == {"RUNNING"}  # the running work goes on

    restart_scheduler(c)
    c.wait_status(
        lambda s: len(s["nodes"]) == 2 and set(node_states(s).values()) == {"READY"},
        timeout=30,
        what="both nodes READY again with the default floor",
    )
    gate.touch()
    ids = [*running, waiting]
    wait_until(
        lambda: all(job(c, i)["status"] == "COMPLETED" for i in ids), timeout=60, what="all jobs to complete"
    )
    assert [job(c, i)["num_exes"] for i in ids] == [1, 1]
