"""A live system for the operator tools (dashboard, CLI, /metrics): ``scale up --nodes 3`` on
SQLite, or ``scale api`` + ``scale scheduler --nodes 3`` on PostgreSQL, with jobs running, failed
and queued (one that can never be placed, so it waits with a reason). Real processes on
loopback, every wait on a condition with a timeout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_PERIODS, Cluster, _answers, _pg_url_for_test, free_port
from tests.util import wait_until

#: The status period of the live system: tests wait "within one status period" on it.
STATUS_PERIOD_S = 1.0
NODES = 3


def _manifest(name: str, command: str, inputs: list[dict[str, Any]], **job: Any) -> dict[str, Any]:
    return {
        "docker_image": "",
        "manifest": {
            "seedVersion": "1.0.0",
            "job": {
                "name": name,
                "jobVersion": "1.0.0",
                "packageVersion": "1.0.0",
                "title": name.replace("-", " ").title(),
                "description": f"{name} for the operator tool tests",
                "maintainer": {"name": "Tests", "email": "tests@example.com"},
                "timeout": 600,
                "interface": {"command": command, "inputs": {"json": inputs}},
                "errors": [{"code": 3, "name": "bad-data", "title": "Bad Data", "category": "data"}],
                **job,
            },
        },
        "configuration": {"priority": 50},
    }


#: Sleeps SECONDS, then exits with CODE: running jobs (long sleeps) and failed ones (CODE 3).
SLEEPER = _manifest(
    "sleeper",
    'echo "sleeping ${SECONDS}s"; sleep ${SECONDS}; exit ${CODE}',
    [{"name": "SECONDS", "type": "integer"}, {"name": "CODE", "type": "integer"}],
    resources={"scalar": [{"name": "cpus", "value": 0.05}, {"name": "mem", "value": 16}]},
)
#: Asks for more memory than any node has: queued for ever, with "insufficient mem".
GIANT = _manifest(
    "giant",
    "true",
    [],
    resources={"scalar": [{"name": "mem", "value": 1024 * 1024 * 1024}]},
)


@contextmanager
def live_system(tmp_path: Path, db_kind: str = "sqlite") -> Iterator[Cluster]:
    """Three local nodes; on PostgreSQL the API and the scheduler are separate processes."""
    port = free_port()
    env = {**os.environ, **FAST_PERIODS, "SCALE_PERIOD_STATUS": str(STATUS_PERIOD_S)}
    env.pop("SCALE_DATABASE_URL", None)
    c = Cluster(f"http://127.0.0.1:{port}", tmp_path, env)
    pg = _pg_url_for_test() if db_kind == "postgresql" else None
    if pg is not None:
        env["SCALE_DATABASE_URL"] = next(pg)
    data = str(tmp_path / "data")
    try:
        if pg is not None:
            c.token = c.create_token("--name", "ops")
            c.start("scheduler", "scheduler", "--data-dir", data, "--nodes", str(NODES))
            c.start("api", "api", "--port", str(port), "--data-dir", data)
        else:
            c.start("up", "up", "--port", str(port), "--data-dir", data, "--nodes", str(NODES))
        wait_until(lambda: _answers(c), timeout=60, what="the API to answer")
        if pg is None:
            printed = c.printed_tokens("up")
            assert printed, f"scale up printed no API token line:\n{c.log_tail('up')}"
            c.token = printed[0]
        yield c
    finally:
        c.close()
        if pg is not None:
            next(pg, None)


def create_type(c: Cluster, body: dict[str, Any]) -> int:
    r = c.post("/v6/job-types/", body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def submit(c: Cluster, type_id: int, data: dict[str, Any]) -> int:
    r = c.post("/v6/jobs/", {"job_type_id": type_id, "input": {"json": data}})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def job_count(c: Cluster, status: str) -> int:
    r = c.get("/v6/jobs/", params={"status": status, "page_size": 1})
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


def populate(c: Cluster) -> dict[str, list[int]]:
    """Two running jobs, two failed ones and one queued for ever; returns their ids by kind."""
    c.wait_status(
        lambda s: len(s["nodes"]) == NODES and all(n["state"]["name"] == "READY" for n in s["nodes"]),
        timeout=90,
        what=f"{NODES} READY nodes",
    )
    sleeper, giant = create_type(c, SLEEPER), create_type(c, GIANT)
    jobs = {
        "running": [submit(c, sleeper, {"SECONDS": 900, "CODE": 0}) for _ in range(2)],
        "failed": [submit(c, sleeper, {"SECONDS": 0, "CODE": 3}) for _ in range(2)],
        "queued": [submit(c, giant, {})],
    }
    wait_until(
        lambda: job_count(c, "RUNNING") == 2 and job_count(c, "FAILED") == 2,
        timeout=120,
        interval=0.5,
        what="2 running and 2 failed jobs",
    )

    def has_reason() -> bool:
        r = c.get(f"/v6/jobs/{jobs['queued'][0]}/")
        return r.status_code == 200 and bool(r.json().get("queue_reasons"))

    wait_until(has_reason, timeout=60, interval=0.5, what="the queued job to get a reason")
    return jobs


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, dict[str, list[int]]]]:
    """``scale up --nodes 3`` with jobs running, failed and queued, shared by a module's tests."""
    with live_system(tmp_path_factory.mktemp("ops")) as c:
        yield c, populate(c)
