"""The OpenAPI document is truthful: schemathesis drives every operation of a live server (uvicorn
on loopback, a temporary SQLite database with a job type, jobs, a node and an execution) with
generated requests, authorised with a write token, and checks each response against the document.

Checks, on valid (positive) and invalid (negative) requests alike: no 5xx, the status code is
documented, the body matches the documented schema, the content type and headers too, and a
declared token requirement is really enforced (schemathesis repeats a successful request without
the token and expects a 401/403). schemathesis's ``negative_data_rejection`` is left out: it
counts a repeated single-valued query parameter (``?is_active=x&is_active=false``) as invalid,
while this API, like Scale (Django's ``QueryDict.get``), takes the last value. Bounded so it stays well
under two minutes on two cores: a fixed number of examples per operation, no shrinking, no
deadline, derandomized so a run is repeatable.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scale.api.app import create_app
from scale.config import Settings
from scale.services.accounts import create_account
from scale.services.tokens import create_token
from scale.store.db import Database
from scale.store.migrate import update_database
from tests.api.factories import insert_execution, insert_node, job_type_body

#: Generated examples per operation: positive (valid by the document) and negative (invalid).
POSITIVE_EXAMPLES = 50
NEGATIVE_EXAMPLES = 20

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    ignored_auth,
]


@dataclass
class LiveApi:
    base_url: str
    token: str
    #: A signed-in operator's session cookie, so that ``GET /v6/accounts/profile/`` answers 200.
    session: str
    #: Path values that exist in the seeded database, for one request per operation that succeeds.
    known: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[LiveApi]:
    db = Database(f"sqlite:///{tmp_path / 'contract.db'}")
    update_database(db)
    now = datetime.now(UTC)
    token = create_token(db, now=now, name="contract").token
    settings = Settings(data_dir=tmp_path / "data")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="contract-api", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.02)
        known = _seed(base_url, token, db, settings, now)
        create_account(db, username="contract", password="contract password", now=now)
        signed_in = httpx.post(
            f"{base_url}/v6/accounts/login/", json={"username": "contract", "password": "contract password"}
        )
        assert signed_in.status_code == 200, signed_in.text
        yield LiveApi(base_url, token, signed_in.cookies["sessionid"], known)
    finally:
        server.should_exit = True
        thread.join(30)
        db.dispose()


def _seed(base_url: str, token: str, db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}) as c:
        created = c.post("/v6/job-types/", json=job_type_body())
        assert created.status_code == 201, created.text
        job_type_id = created.json()["id"]
        jobs = []
        for _ in range(3):
            job = c.post("/v6/jobs/", json={"job_type_id": job_type_id})
            assert job.status_code == 201, job.text
            jobs.append(job.json()["id"])
        assert c.post("/v6/jobs/cancel/", json={"job_ids": [jobs[2]]}).status_code == 202
    node_id = insert_node(db, "node-1", now=now)
    exe_id = insert_execution(db, jobs[0], 1, node_id=node_id, started=now, end_status="FAILED", exit_code=1)
    logs = settings.data_dir / "executions" / "node-1" / f"scale_{jobs[0]}_1" / "logs"
    logs.mkdir(parents=True)
    (logs / "main.stdout").write_text("hello\n")
    return {
        "name": "test-job",
        "version": "1.0.0",
        "revision_num": 1,
        "job_id": jobs[0],
        "exe_num": 1,
        "exe_id": exe_id,
        "stream": "stdout",
        "node_id": node_id,
        "error_id": 1,
        "metrics_type": "job-types",
    }


def test_every_operation_keeps_to_the_openapi_document(live_api: LiveApi) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api.base_url}/openapi.json")
    auth = {"Authorization": f"Token {live_api.token}", "Cookie": f"sessionid={live_api.session}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 41  # the dashboards' reads and sign-in (issue 17) included

    def call(case: Any) -> Any:
        return case.call_and_validate(base_url=live_api.base_url, headers=auth, checks=CHECKS)

    for operation in operations:
        if operation.method.upper() == "GET":
            # One read of things that exist, so success responses are checked on real data too.
            path_names = [p.name for p in operation.path_parameters]
            known = operation.Case(path_parameters={n: live_api.known[n] for n in path_names})
            try:
                response = call(known)
                if not 200 <= response.status_code < 300:
                    failures.append(f"{operation.label} {known.path_parameters}: {response.status_code}")
            except BaseException as exc:  # schemathesis raises a group of every failed check
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{operation.label} with existing values: {exc}")
        for mode, examples in (
            (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):

            @settings(
                max_examples=examples,
                phases=[Phase.explicit, Phase.generate],
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                call(case)

            try:
                run()
            except Unsatisfiable:
                # Nothing in the operation can be made invalid (no parameters, free-form strings).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
