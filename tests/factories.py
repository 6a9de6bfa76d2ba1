"""Builders with sensible defaults for rows the tests need (Nomad's mock.Node() style)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from scale.domain import seed
from scale.services.job_types import _save_errors
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobRow, JobTypeRow, NodeRow, QueueRow

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def manifest(
    name: str = "test-job", *, command: str = "exit 0", timeout: int = 60, **job: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "jobVersion": "1.0.0",
        "packageVersion": "1.0.0",
        "title": name.replace("-", " ").title(),
        "description": f"{name} for tests",
        "maintainer": {"name": "Tests", "email": "tests@example.com"},
        "timeout": timeout,
        "interface": {"command": command},
    }
    body.update(job)
    return {"seedVersion": "1.0.0", "job": body}


def make_job_type(db: Database, *, name: str = "test-job", max_tries: int = 3, **fields: Any) -> int:
    with db.session() as s:
        row = JobTypeRow(
            name=name,
            version="1.0.0",
            title=name,
            description="d",
            manifest=fields.pop("manifest", manifest(name)),
            configuration={"priority": 100},
            max_tries=max_tries,
            created=T0,
            last_modified=T0,
            **fields,
        )
        s.add(row)
        s.flush()
        # The job type's own exit-code errors, as the job-types service saves them
        _save_errors(s, seed.parse_manifest(row.manifest), T0)
        return row.id


def make_node(db: Database, hostname: str = "host-1") -> int:
    with db.session() as s:
        row = NodeRow(
            hostname=hostname, agent_id="a1", created=T0, last_modified=T0, is_active=True, is_paused=False
        )
        s.add(row)
        s.flush()
        return row.id


def make_queued_job(
    db: Database,
    job_type_id: int,
    *,
    priority: int = 100,
    max_tries: int = 3,
    when: datetime = T0,
    **inp: Any,
) -> int:
    res = {"cpus": 0.25, "mem": 128.0, "disk": 0.0, "gpus": 0.0}
    with db.session() as s:
        job = JobRow(
            job_type_id=job_type_id,
            status="QUEUED",
            priority=priority,
            input={"json": inp},
            resources=res,
            num_exes=1,
            max_tries=max_tries,
            timeout=60,
            created=when,
            queued=when,
            last_status_change=when,
            last_modified=when,
        )
        s.add(job)
        s.flush()
        s.add(
            QueueRow(
                job_id=job.id,
                job_type_id=job_type_id,
                exe_num=1,
                priority=priority,
                queued=when,
                resources=res,
            )
        )
        return job.id


def error_id(db: Database, name: str) -> int:
    with db.read() as s:
        row = s.scalars(select(ErrorRow).where(ErrorRow.name == name, ErrorRow.job_type_name.is_(None))).one()
        return row.id
