"""Every /v6 operation of the app, found from its routes, and a small world to call them against.

Tests that must hold for every endpoint (access control, conventions) walk :func:`operations`
so a new endpoint is covered without being listed; the world then needs a sample path value
and (for a write) a body for it, and says so with a KeyError naming what is missing.
"""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from scale.api.auth import Access, access_for
from scale.config import Settings
from scale.services.accounts import create_account
from scale.store.db import Database
from scale.store.tables import ApiTokenRow, Base, JobExecutionRow
from tests.api.factories import insert_execution, insert_node, job_type_body, minimal_manifest
from tests.factories import T0, make_queued_job

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) under /v6, from the app's routes (not from a list here)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path_format
        if path and path.startswith("/v6/"):
            found.update((method, path) for method in route.methods or () if method != "HEAD")
    return sorted(found)


def write_operations(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in operations(app) if access_for(m, p.removeprefix("/v6")) is Access.WRITE]


def read_operations(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in operations(app) if access_for(m, p.removeprefix("/v6")) is Access.READ]


class World:
    """One of everything, so every read answers 200 and every sample write succeeds."""

    def __init__(self, client: TestClient, db: Database, settings: Settings) -> None:
        created = client.post("/v6/job-types/", json=job_type_body())
        assert created.status_code == 201, created.text
        self.job_type_id: int = created.json()["id"]
        self.job_id = make_queued_job(db, self.job_type_id)
        self.node_id = insert_node(db, "host-1", now=T0)
        self.exe_id = insert_execution(db, self.job_id, 1, node_id=self.node_id, started=T0)
        with db.read() as session:
            cluster_id = session.scalar(
                select(JobExecutionRow.cluster_id).where(JobExecutionRow.id == self.exe_id)
            )
        logs = settings.data_dir / "executions" / "host-1" / str(cluster_id) / "logs"
        logs.mkdir(parents=True)
        (logs / "main.stdout").write_text("out\n")
        self.username, self.password = "operator", "correct horse battery"
        create_account(db, username=self.username, password=self.password, now=T0)
        self.values = {
            "name": "test-job",
            "version": "1.0.0",
            "revision_num": "1",
            "job_id": str(self.job_id),
            "exe_num": "1",
            "exe_id": str(self.exe_id),
            "stream": "stdout",
            "node_id": str(self.node_id),
            "error_id": "1",
            "metrics_type": "job-types",
        }

    def url(self, path: str) -> str:
        """The template with this world's values; a KeyError names a parameter to add above."""
        return path.format(**self.values)

    def body(self, method: str, path: str) -> Any:
        """A request body that succeeds with a write token (KeyError: add one for a new write)."""
        bodies: dict[tuple[str, str], Any] = {
            ("PATCH", "/v6/scheduler/"): {"is_paused": True},
            ("POST", "/v6/job-types/"): job_type_body(minimal_manifest("other-job")),
            ("POST", "/v6/job-types/validation/"): job_type_body(),
            ("PATCH", "/v6/job-types/{name}/{version}/"): {"is_paused": True},
            ("POST", "/v6/jobs/"): {"job_type_id": self.job_type_id},
            ("POST", "/v6/jobs/cancel/"): {"job_ids": [self.job_id]},
            ("POST", "/v6/jobs/requeue/"): {"job_ids": [self.job_id], "priority": 5},
            ("PATCH", "/v6/nodes/{node_id}/"): {"is_paused": True, "pause_reason": "auth test"},
            ("POST", "/v6/accounts/login/"): {"username": self.username, "password": self.password},
            ("POST", "/v6/accounts/logout/"): None,
        }
        return bodies[(method, path)] if method not in SAFE else None


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the tokens' (whose ``last_used`` moves on each check)."""
    with db.read() as session:
        return {
            table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name != ApiTokenRow.__tablename__
        }
