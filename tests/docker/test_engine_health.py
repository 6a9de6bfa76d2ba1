"""Node health with the Docker runtime: the health check asks the engine (``docker info``). Stop
the engine and the next check turns the node DEGRADED with the runtime error and no new job goes
there; start it again and the node is READY and runs the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import Engine, docker_cluster, in_docker_body
from tests.e2e.test_cluster import create_job_type, job
from tests.util import wait_until

pytestmark = pytest.mark.slow


def node_errors(status: dict[str, Any]) -> list[str]:
    return [e["name"] for e in status["nodes"][0]["errors"]]


def test_a_stopped_engine_degrades_the_node_until_it_answers_again(engine: Engine, tmp_path: Path) -> None:
    with docker_cluster(tmp_path, engine, nodes=1) as c:
        ready = c.wait_status(
            lambda s: len(s["nodes"]) == 1 and s["nodes"][0]["state"]["name"] == "READY",
            timeout=60,
            what="the node READY",
        )
        assert node_errors(ready) == []
        type_id = create_job_type(c, in_docker_body("after-restart", "echo ran"))

        engine.stop()
        degraded = c.wait_status(
            lambda s: s["nodes"][0]["state"]["name"] == "DEGRADED", timeout=30, what="the node DEGRADED"
        )
        assert node_errors(degraded) == ["BAD_DAEMON"]
        assert degraded["nodes"][0]["errors"][0]["title"] == "Docker Not Responding"

        # No new job goes to a DEGRADED node: still queued two status builds later
        job_id = int(c.post("/v6/jobs/", {"job_type_id": type_id, "input": {}}).json()["id"])
        later = c.wait_status(lambda s: s["timestamp"] > degraded["timestamp"], timeout=15)
        latest = c.wait_status(lambda s: s["timestamp"] > later["timestamp"], timeout=15)
        assert latest["nodes"][0]["state"]["name"] == "DEGRADED"
        assert job(c, job_id)["status"] == "QUEUED"

        engine.start()
        back = c.wait_status(
            lambda s: s["nodes"][0]["state"]["name"] == "READY", timeout=30, what="the node READY again"
        )
        assert node_errors(back) == []
        wait_until(lambda: job(c, job_id)["status"] == "COMPLETED", timeout=60, what="the job to run")
