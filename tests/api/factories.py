"""Builders for API tests: Seed manifests, job-type bodies, and rows the API only reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from scale.store.db import Database
from scale.store.tables import Base, JobExecutionEndRow, JobExecutionRow, JobRow, NodeRow


def minimal_manifest(
    name: str = "test-job",
    version: str = "1.0.0",
    *,
    command: str = "echo hello",
    timeout: int = 60,
    cpus: float = 0.5,
    mem: float = 256.0,
    disk: float | None = None,
    json_inputs: Sequence[dict[str, Any]] = (),
    file_inputs: Sequence[dict[str, Any]] = (),
    errors: Sequence[dict[str, Any]] = (),
    **job: Any,
) -> dict[str, Any]:
    """A valid Seed 1.0.0 manifest with only what the schema requires plus resources."""
    scalar: list[dict[str, Any]] = [{"name": "cpus", "value": cpus}, {"name": "mem", "value": mem}]
    if disk is not None:
        scalar.append({"name": "disk", "value": disk})
    interface: dict[str, Any] = {"command": command}
    if json_inputs or file_inputs:
        interface["inputs"] = {}
        if json_inputs:
            interface["inputs"]["json"] = list(json_inputs)
        if file_inputs:
            interface["inputs"]["files"] = list(file_inputs)
    body: dict[str, Any] = {
        "name": name,
        "jobVersion": version,
        "packageVersion": "1.0.0",
        "title": name.replace("-", " ").title(),
        "description": f"{name} for API tests",
        "maintainer": {"name": "Tests", "email": "tests@example.com"},
        "timeout": timeout,
        "resources": {"scalar": scalar},
        "interface": interface,
    }
    if errors:
        body["errors"] = list(errors)
    body.update(job)
    return {"seedVersion": "1.0.0", "job": body}


_DEFAULT: Any = object()


def job_type_body(manifest: Any = _DEFAULT, **fields: Any) -> dict[str, Any]:
    """A POST /v6/job-types/ body; ``manifest`` may be any value (None included) to test rejection."""
    body: dict[str, Any] = {
        "docker_image": "",
        "manifest": minimal_manifest() if manifest is _DEFAULT else manifest,
    }
    body.update(fields)
    return body


def count_rows(db: Database, *tables: type[Base]) -> dict[str, int]:
    """Rows per table, to prove a rejected request wrote nothing."""
    with db.read() as session:
        return {
            table.__name__: session.scalar(select(func.count()).select_from(table)) or 0 for table in tables
        }


def insert_node(db: Database, hostname: str, *, now: datetime) -> int:
    with db.session() as session:
        row = NodeRow(hostname=hostname, agent_id=f"agent-{hostname}", created=now, last_modified=now)
        session.add(row)
        session.flush()
        return row.id


def insert_execution(
    db: Database,
    job_id: int,
    exe_num: int,
    *,
    node_id: int,
    started: datetime,
    end_status: str | None = None,
    error_id: int | None = None,
    exit_code: int | None = None,
) -> int:
    """An execution of ``job_id``; with ``end_status`` also its end record (else it is RUNNING)."""
    with db.session() as session:
        job = session.get(JobRow, job_id)
        assert job is not None
        exe = JobExecutionRow(
            job_id=job_id,
            exe_num=exe_num,
            job_type_id=job.job_type_id,
            node_id=node_id,
            cluster_id=f"scale_{job_id}_{exe_num}",
            resources=job.resources,
            timeout=job.timeout,
            priority=job.priority,
            queued=started - timedelta(seconds=5),
            started=started,
            created=started,
        )
        session.add(exe)
        session.flush()
        if end_status is not None:
            session.add(
                JobExecutionEndRow(
                    job_exe_id=exe.id,
                    job_id=job_id,
                    exe_num=exe_num,
                    job_type_id=job.job_type_id,
                    node_id=node_id,
                    status=end_status,
                    error_id=error_id,
                    error_category=None,
                    exit_code=exit_code,
                    task_results=[{"type": "main", "exit_code": exit_code}],
                    started=started,
                    ended=started + timedelta(seconds=30),
                    created=started + timedelta(seconds=30),
                )
            )
        return exe.id
