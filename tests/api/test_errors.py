"""The error table and the promise that bad input never yields a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc

from scale.api.errors import field_name, status_for, validation_detail
from scale.exceptions import (
    BackendError,
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidRequest,
    NotFound,
    StoreError,
    Unauthorized,
)
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobRow, JobTypeRevisionRow, JobTypeRow, QueueRow, SchedulerRow
from tests.api.factories import count_rows, job_type_body, minimal_manifest

# --------------------------------------------------------------------------- the table (pure)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (NotFound("x"), 404),
        (InvalidRequest([FieldProblem("a", "bad")]), 400),
        (Conflict("x"), 409),
        (Unauthorized("x"), 401),
        (Forbidden("x"), 403),
        (BackendError("x"), 503),
        (StoreError("x"), 503),
        (sa_exc.IntegrityError("INSERT", {}, Exception("dup")), 409),
        (sa_exc.OperationalError("SELECT", {}, Exception("down")), 503),
    ],
)
def test_status_table(exc: Exception, status: int) -> None:
    found = status_for(exc)
    assert found is not None
    assert found[0] == status


def test_database_errors_do_not_leak_sql() -> None:
    found = status_for(sa_exc.IntegrityError("INSERT INTO secret", {}, Exception("dup")))
    assert found is not None
    assert "INSERT" not in found[1]


def test_bugs_are_not_in_the_table() -> None:
    assert status_for(KeyError("x")) is None


def test_invalid_request_detail_names_every_field() -> None:
    exc = InvalidRequest([FieldProblem("a", "bad"), FieldProblem("b.c", "worse")])
    assert status_for(exc) == (400, "a: bad; b.c: worse")


@pytest.mark.parametrize(
    ("loc", "name"),
    [
        (("body", "job_type_id"), "job_type_id"),
        (("body", "input", "files", "f", 0), "input.files.f[0]"),
        (("body",), "body"),
        (("query", "job_id", 1), "job_id"),
        (("path", "job_id"), "job_id"),
        ((), "request"),
    ],
)
def test_field_names_from_loc(loc: tuple[Any, ...], name: str) -> None:
    assert field_name(loc) == name


def test_validation_detail_deduplicates() -> None:
    errors = [
        {"type": "int_type", "loc": ("query", "id", i), "msg": "Input should be a valid integer"}
        for i in (0, 1)
    ]
    assert validation_detail(errors) == "id: Input should be a valid integer"


def test_an_unexpected_error_is_a_logged_500_with_a_json_body(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/v6/boom/")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v6/boom/")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error (RuntimeError); see the API log"}
    assert "a bug" in caplog.text


# --------------------------------------------------------------------------- the battery

_NOT_OBJECTS: list[Any] = [None, [], [1, 2], "text", 0, 1.5, True]
_ODD_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    2**31,
    2**63,
    2**64,
    10**30,
    -(2**70),
    1e308,
    "",
    "x" * 5000,
    "nul\u0000byte",
    "\ud7ff☃",
    [],
    [None],
    {},
    {"nested": {"deep": [1, {"x": None}]}},
]

_RAW_BODIES: list[bytes] = [
    b"",
    b"{",
    b"}",
    b"[",
    b"{,}",
    b'{"a":}',
    b"nul\x00",
    b"\xff\xfe\x00",
    b"NaN",
    b'{"x": NaN}',
    b'{"x": Infinity}',
    b"1e999999",
    b"[" * 1000 + b"]" * 1000,
    b'{"a": 1, "a": 2}',
]


def _scheduler_bodies() -> list[Any]:
    keys = ["is_paused", "num_message_handlers", "system_logging_level", "queue_mode", "other"]
    return [{key: value} for key in keys for value in _ODD_VALUES]


def _job_type_bodies() -> list[Any]:
    bodies: list[Any] = []
    keys = [
        "docker_image",
        "manifest",
        "configuration",
        "icon_code",
        "is_published",
        "is_active",
        "is_paused",
        "max_scheduled",
        "max_tries",
        "auto_update",
        "other",
    ]
    for key in keys:
        bodies += [job_type_body(**{key: value}) for value in _ODD_VALUES]
    for key in ("priority", "settings", "mounts", "output_workspaces", "other"):
        bodies += [job_type_body(configuration={key: value}) for value in _ODD_VALUES]
    for key in ("seedVersion", "job"):
        for value in _ODD_VALUES:
            manifest = minimal_manifest()
            manifest[key] = value
            bodies.append(job_type_body(manifest))
    for key in (
        "name",
        "jobVersion",
        "packageVersion",
        "title",
        "description",
        "timeout",
        "resources",
        "interface",
        "errors",
        "maintainer",
        "tags",
    ):
        for value in _ODD_VALUES:
            manifest = minimal_manifest()
            manifest["job"][key] = value
            bodies.append(job_type_body(manifest))
    long_error = {"code": 1, "name": "e", "title": "t" * 500, "description": "d" * 5000, "category": "data"}
    bodies.append(job_type_body(minimal_manifest(errors=[long_error])))
    bodies.append(job_type_body(minimal_manifest(cpus=1e308, mem=1e308)))
    return bodies


def _job_bodies(type_id: int) -> list[Any]:
    bodies: list[Any] = []
    for value in _ODD_VALUES:
        bodies.append({"job_type_id": value})
        bodies.append({"job_type_id": type_id, "input": value})
        bodies.append({"job_type_id": type_id, "input": {"json": value}})
        bodies.append({"job_type_id": type_id, "input": {"files": value}})
        bodies.append({"job_type_id": type_id, "input": {"json": {"count": value}}})
        bodies.append({"job_type_id": type_id, "input": {"files": {"f": value}}})
        bodies.append({"job_type_id": type_id, "input": {"files": {"f": [value]}}})
        bodies.append({"job_type_id": type_id, "configuration": value})
        bodies.append({"job_type_id": type_id, "other": value})
    return bodies


def _send(client: TestClient, method: str, path: str, body: Any) -> int:
    if isinstance(body, bytes):
        response = client.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        raw = json.dumps(body, allow_nan=True).encode()
        response = client.request(method, path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code < 500, (
        f"{method} {path} {body!r:.200} -> {response.status_code} {response.text}"
    )
    assert "detail" in response.json() or response.status_code in (200, 201)
    # Validation, not the database's refusal, must be what stops a bad value
    assert "by the database" not in response.text, f"{body!r:.200} reached the database"
    code: int = response.status_code
    return code


def test_no_malformed_body_yields_a_5xx_on_any_write_endpoint(client: TestClient, db: Database) -> None:
    # Given a job type with one JSON input (so job input checks have something to check)
    manifest = minimal_manifest("battery", json_inputs=[{"name": "count", "type": "integer"}])
    created = client.post("/v6/job-types/", json=job_type_body(manifest))
    assert created.status_code == 201
    type_id = created.json()["id"]
    tables = (SchedulerRow, JobTypeRow, JobTypeRevisionRow, ErrorRow, JobRow, QueueRow)
    before = count_rows(db, *tables)

    # When every endpoint is sent bodies of every wrong shape
    statuses: list[int] = []
    for path in ("/v6/scheduler/", "/v6/job-types/", "/v6/job-types/validation/", "/v6/jobs/"):
        method = "PATCH" if path == "/v6/scheduler/" else "POST"
        for body in [*_RAW_BODIES, *_NOT_OBJECTS]:
            statuses.append(_send(client, method, path, body))
    for body in _scheduler_bodies():
        statuses.append(_send(client, "PATCH", "/v6/scheduler/", body))
    for body in _job_type_bodies():
        statuses.append(_send(client, "POST", "/v6/job-types/validation/", body))
        statuses.append(_send(client, "POST", "/v6/job-types/", body))
    for body in _job_bodies(type_id):
        statuses.append(_send(client, "POST", "/v6/jobs/", body))

    # Then none was a server error, and the bad ones wrote nothing new
    assert all(code < 500 for code in statuses)
    assert statuses.count(400) > 500
    after = count_rows(db, *tables)
    assert after["SchedulerRow"] == before["SchedulerRow"]
    assert after["JobRow"] == after["QueueRow"]


@pytest.mark.parametrize(
    "path",
    [
        "/v6/jobs/?job_id=99999999999999999999999",
        "/v6/jobs/?started=9999-99-99",
        "/v6/jobs/?started=P99999999999D",
        "/v6/jobs/?job_type_name=%00",
        "/v6/jobs/?order=" + "x" * 5000,
        "/v6/jobs/99999999999999999999999/",
        "/v6/jobs/1/executions/99999999999999/",
        "/v6/job-types/?keyword=%25_%5C",
        "/v6/job-types/?id=-1",
        "/v6/job-types/%00/1.0.0/",
        "/v6/job-types/" + "n" * 3000 + "/",
    ],
)
def test_odd_reads_are_never_5xx(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    ("path", "name"),
    [("/v6/jobs/?job_type_name=a%00b", "job_type_name"), ("/v6/job-types/a%00b/1.0.0/", "path")],
)
def test_nul_in_the_path_or_query_is_400_naming_it(client: TestClient, path: str, name: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{name}: ")


def test_nul_in_a_stored_text_field_is_400_naming_it(client: TestClient, db: Database) -> None:
    before = count_rows(db, JobTypeRow)
    response = client.post("/v6/job-types/", json=job_type_body(minimal_manifest(title="a\x00b")))
    assert response.status_code == 400
    assert "manifest.job.title: must not contain NUL" in response.json()["detail"]
    assert count_rows(db, JobTypeRow) == before
