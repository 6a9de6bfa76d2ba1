"""A cluster that has really run jobs, for the dashboard endpoints' tests: the scheduler on the sim
backend (a simulation) with message handlers and a fake clock driven by hand, and the API over
the same database and clock. Nothing is inserted behind the scheduler's back: every job, execution
and end record below was made by the scheduler and its message handlers."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from scale.api.app import create_app
from scale.config import Settings
from scale.domain.tasks import TaskSpec
from scale.services.tokens import create_token
from scale.store.db import Database
from scale.store.tables import JobExecutionRow, JobRow, NodeRow
from tests.factories import manifest
from tests.scheduler.test_core import ERRORS, Harness, make_harness

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

#: The job input that keeps a job's main task running (for RUNNING jobs).
HOLD = 99
#: Exit codes of the finished jobs: 0 completes; 3 is a DATA error and 4 an ALGORITHM error (the
#: exit-code job type's manifest); 9 is unmapped (algorithm-unknown, ALGORITHM).
FINISHED_CODES = (0, 0, 0, 3, 4, 9)


def _script(spec: TaskSpec) -> tuple[float, int]:
    if spec.env.get("SCALE_TASK_TYPE") == "main":
        code = int(spec.env.get("CODE", "0"))
        return (100_000.0, 0) if code == HOLD else (0.5, code)
    return 0.5, 0


@dataclass
class Executed:
    harness: Harness
    client: TestClient
    settings: Settings
    type_id: int
    running_job_ids: list[int]

    def jobs(self, **params: object) -> list[dict[str, object]]:
        """Every job the jobs API lists with ``params``."""
        response = self.client.get("/v6/jobs/", params={"page_size": 1000, **params})
        assert response.status_code == 200, response.text
        results: list[dict[str, object]] = response.json()["results"]
        return results

    def write_log(self, job_id: int, text: str = "line one\nline two\n") -> int:
        """Write a main-task stdout for the job's first execution where the local backend would
        (the sim backend runs no processes); returns the execution's id."""
        db = self.harness.db
        with db.read() as session:
            exe = session.scalars(select(JobExecutionRow).where(JobExecutionRow.job_id == job_id)).first()
            assert exe is not None
            node = session.get(NodeRow, exe.node_id)
            assert node is not None
            exe_id, hostname, cluster_id = exe.id, node.hostname, exe.cluster_id
        logs = self.settings.data_dir / "executions" / hostname / cluster_id / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "main.stdout").write_text(text)
        return exe_id


@contextmanager
def executed_cluster(db: Database, tmp_path: Path) -> Iterator[Executed]:
    """Six jobs run to their end (three complete, three fail), then two more left RUNNING; the
    clock is then an hour past that."""
    h = make_harness(db, script=_script)
    settings = Settings(data_dir=tmp_path / "data")
    token = create_token(db, now=h.clock.now(), name="executed").token
    app = create_app(settings, db, clock=h.clock)
    with TestClient(app, headers={"Authorization": f"Token {token}"}) as client:
        # The job type and the jobs are made through the API, as an operator would.
        created = client.post("/v6/job-types/", json={"docker_image": "", "manifest": _manifest()})
        assert created.status_code == 201, created.text
        type_id: int = created.json()["id"]

        def post_job(code: int) -> int:
            job = client.post("/v6/jobs/", json={"job_type_id": type_id, "input": {"json": {"CODE": code}}})
            assert job.status_code == 201, job.text
            job_id: int = job.json()["id"]
            return job_id

        for code in FINISHED_CODES:
            post_job(code)
        h.run_until(h.all_final)
        h.clock.advance(600)
        running = [post_job(HOLD) for _ in range(2)]

        def both_running() -> bool:
            with db.read() as session:
                statuses = set(session.scalars(select(JobRow.status).where(JobRow.id.in_(running))))
            return statuses == {"RUNNING"}

        h.run_until(both_running)
        # An hour on, so the load has a whole hour with the two running (the status's 3 h still
        # hold all of it).
        h.clock.advance(3600)
        yield Executed(h, client, settings, type_id, running)


def _manifest() -> dict[str, Any]:
    return manifest(
        "exit-code",
        command="exit ${CODE}",
        errors=ERRORS,
        interface={"command": "exit ${CODE}", "inputs": {"json": [{"name": "CODE", "type": "integer"}]}},
        resources={"scalar": [{"name": "cpus", "value": 0.5}, {"name": "mem", "value": 128}]},
    )
