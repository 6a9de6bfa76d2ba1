"""Access control: writes need a write token, reads are open unless ``public_read`` is off,
``/v6/version/`` is always open, and tokens are stored hashed.

Every operation is found by walking the app's routes, so a new endpoint is covered (or the test
fails asking for a sample path value and body) without anyone remembering to add it here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from scale.api.app import create_app
from scale.clock import FakeClock
from scale.config import Settings
from scale.services.tokens import LAST_USED_RESOLUTION, TokenScope, create_token, revoke_token
from scale.store.db import Database
from scale.store.tables import ApiTokenRow
from tests.api.world import SAFE, World, read_operations, snapshot, write_operations

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

# --------------------------------------------------------------------------- helpers


def send(client: TestClient, method: str, url: str, body: Any, **headers: str) -> Any:
    return client.request(method, url, json=body, headers=headers or None)


# --------------------------------------------------------------------------- writes


def test_the_app_has_the_write_and_read_operations_this_file_expects(app: FastAPI) -> None:
    writes = write_operations(app)
    assert ("PATCH", "/v6/nodes/{node_id}/") in writes and ("POST", "/v6/jobs/cancel/") in writes
    assert all(m not in SAFE for m, _ in writes)
    reads = read_operations(app)
    assert ("GET", "/v6/jobs/") in reads and ("POST", "/v6/job-types/validation/") in reads
    assert ("GET", "/v6/version/") not in reads  # always open, not a read that may close


def test_every_write_refuses_a_missing_bad_or_revoked_token_and_a_read_only_one(
    app: FastAPI,
    anon_client: TestClient,
    read_client: TestClient,
    client: TestClient,
    db: Database,
    clock: FakeClock,
    world: World,
) -> None:
    revoked = create_token(db, now=clock.now(), name="revoked")
    revoke_token(db, revoked.view.id)
    before = snapshot(db)
    for method, path in write_operations(app):
        url, body = world.url(path), world.body(method, path)
        where = f"{method} {path}"
        for headers in (
            {},
            {"Authorization": "Token not-a-token"},
            {"Authorization": f"Token {revoked.token}"},
            {"Authorization": f"Bearer {revoked.token}"},
            {"Authorization": "Token"},
        ):
            response = send(anon_client, method, url, body, **headers)
            assert response.status_code == 401, (where, headers, response.text)
            assert response.headers["WWW-Authenticate"] == "Token", where
            assert response.json()["detail"].startswith("Authorization: "), where
        # Checked before the input: a body that would be a 400 is still a 401 / 403.
        assert send(anon_client, method, url, {"no such field": 1}).status_code == 401, where
        broken = anon_client.request(method, url, content=b"{", headers={"content-type": "application/json"})
        assert broken.status_code == 401, (where, broken.text)
        assert broken.headers["WWW-Authenticate"] == "Token", where
        forbidden = send(read_client, method, url, body)
        assert forbidden.status_code == 403, (where, forbidden.text)
        assert "read-only" in forbidden.json()["detail"], where
        assert send(read_client, method, url, {"no such field": 1}).status_code == 403, where
        broken = read_client.request(method, url, content=b"{", headers={"content-type": "application/json"})
        assert broken.status_code == 403, (where, broken.text)
    assert snapshot(db) == before, "a refused write changed the database"
    # The same requests with the write token go through: the refusals above were about the token.
    for method, path in write_operations(app):
        response = send(client, method, world.url(path), world.body(method, path))
        assert 200 <= response.status_code < 300, (method, path, response.text)


def test_the_token_scheme_is_case_insensitive(anon_client: TestClient, write_token: str) -> None:
    response = anon_client.patch(
        "/v6/scheduler/", json={"is_paused": True}, headers={"Authorization": f"token  {write_token}"}
    )
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------- reads


def test_every_read_is_open_by_default_and_ignores_a_bad_token(
    app: FastAPI, anon_client: TestClient, world: World
) -> None:
    for method, path in read_operations(app):
        body = world.body(method, path)
        response = send(anon_client, method, world.url(path), body)
        assert response.status_code in {200, 204}, (method, path, response.text)
        stale = send(anon_client, method, world.url(path), body, Authorization="Token revoked-long-ago")
        assert stale.status_code in {200, 204}, (method, path, stale.text)


@pytest.fixture
def closed_app(tmp_path: Path, db: Database, clock: FakeClock) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path / "data", public_read=False), db, clock=clock)


@pytest.fixture
def closed_anon(closed_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(closed_app, raise_server_exceptions=True) as c:
        yield c


def test_with_public_read_off_every_read_needs_a_valid_token(
    closed_app: FastAPI,
    closed_anon: TestClient,
    read_token: str,
    db: Database,
    clock: FakeClock,
    world: World,
) -> None:
    revoked = create_token(db, now=clock.now(), scope=TokenScope.READ)
    revoke_token(db, revoked.view.id)
    reads = read_operations(closed_app)
    assert reads
    for method, path in reads:
        url, body = world.url(path), world.body(method, path)
        refused = send(closed_anon, method, url, body)
        assert refused.status_code == 401, (method, path, refused.text)
        assert refused.headers["WWW-Authenticate"] == "Token"
        assert send(closed_anon, method, url, body, Authorization=f"Token {revoked.token}").status_code == 401
        allowed = send(closed_anon, method, url, body, Authorization=f"Token {read_token}")
        assert allowed.status_code in {200, 204}, (method, path, allowed.text)


def test_status_follows_the_read_rule(
    closed_anon: TestClient, anon_client: TestClient, read_token: str
) -> None:
    assert anon_client.get("/v6/status/").status_code == 204  # open, and no scheduler has reported
    assert closed_anon.get("/v6/status/").status_code == 401
    auth = {"Authorization": f"Token {read_token}"}
    assert closed_anon.get("/v6/status/", headers=auth).status_code == 204


def test_version_is_always_open(closed_anon: TestClient, anon_client: TestClient) -> None:
    for c in (closed_anon, anon_client):
        assert c.get("/v6/version/").status_code == 200
        assert c.get("/v6/version/", headers={"Authorization": "Token nonsense"}).status_code == 200
    assert closed_anon.get("/openapi.json").status_code == 200
    assert closed_anon.get("/docs").status_code == 200


# --------------------------------------------------------------------------- tokens


def test_tokens_are_stored_hashed(db: Database, clock: FakeClock) -> None:
    new = create_token(db, now=clock.now(), name="ci")
    with db.read() as session:
        row = session.get(ApiTokenRow, new.view.id)
        assert row is not None
        assert row.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
        every_value = [str(v) for r in session.execute(select(ApiTokenRow.__table__)) for v in r]
    assert not any(new.token in value for value in every_value)
    if db.dialect == "sqlite":
        db.dispose()  # checkpoint the WAL so the file holds everything
        assert new.token.encode() not in Path(db.url.removeprefix("sqlite:///")).read_bytes()


def test_last_used_is_recorded_at_most_once_a_minute(
    anon_client: TestClient, db: Database, clock: FakeClock
) -> None:
    new = create_token(db, now=clock.now())
    auth = {"Authorization": f"Token {new.token}"}

    def last_used() -> Any:
        with db.read() as session:
            return session.scalar(select(ApiTokenRow.last_used).where(ApiTokenRow.id == new.view.id))

    assert last_used() is None
    assert anon_client.patch("/v6/scheduler/", json={"is_paused": True}, headers=auth).status_code == 200
    first = last_used()
    assert first == clock.now()
    clock.advance(1)
    anon_client.patch("/v6/scheduler/", json={"is_paused": False}, headers=auth)
    assert last_used() == first
    clock.advance(LAST_USED_RESOLUTION.total_seconds())
    anon_client.patch("/v6/scheduler/", json={"is_paused": False}, headers=auth)
    assert last_used() == first + timedelta(seconds=1) + LAST_USED_RESOLUTION


def test_a_token_name_longer_than_the_column_is_refused(db: Database, clock: FakeClock) -> None:
    from scale.exceptions import InvalidRequest

    with pytest.raises(InvalidRequest, match="name"):
        create_token(db, now=clock.now(), name="x" * 101)


# --------------------------------------------------------------------------- the CLI


def _scale(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALE_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "scale", *args, "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_scale_token_create_prints_a_token_that_works(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = _scale(data_dir, "token", "create", "--name", "ci")
    assert created.returncode == 0, created.stderr
    assert len(created.stdout.splitlines()) == 1  # the token, alone: TOKEN=$(scale token create)
    token = created.stdout.strip()
    read_only = _scale(data_dir, "token", "create", "--read-only").stdout.strip()

    db = Database(f"sqlite:///{(data_dir / 'scale.db').resolve()}")
    try:
        app = create_app(Settings(data_dir=data_dir), db)
        with TestClient(app, raise_server_exceptions=True) as c:

            def pause(with_token: str | None) -> int:
                headers = {"Authorization": f"Token {with_token}"} if with_token else {}
                return c.patch("/v6/scheduler/", json={"is_paused": True}, headers=headers).status_code

            assert pause(None) == 401
            assert pause(token) == 200
            assert pause(read_only) == 403

            listed = _scale(data_dir, "token", "list")
            assert listed.returncode == 0, listed.stderr
            assert "ci" in listed.stdout and token not in listed.stdout
            assert listed.stdout.count("active") == 2
            with db.read() as session:
                token_id = session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.name == "ci"))
            revoked = _scale(data_dir, "token", "revoke", str(token_id))
            assert revoked.returncode == 0, revoked.stderr
            assert pause(token) == 401
            assert _scale(data_dir, "token", "revoke", "999").returncode == 1
    finally:
        db.dispose()


# --------------------------------------------------------------------------- the document


def test_openapi_declares_the_scheme_and_the_401_403_responses(app: FastAPI, closed_app: FastAPI) -> None:
    with TestClient(app) as c:
        doc = c.get("/openapi.json").json()
    with TestClient(closed_app) as c:
        closed = c.get("/openapi.json").json()
    scheme = {"type": "apiKey", "in": "header", "name": "Authorization"}
    assert scheme.items() <= doc["components"]["securitySchemes"]["Token"].items()
    for method, path in write_operations(app):
        for document in (doc, closed):
            op = document["paths"][path][method.lower()]
            assert op["security"] == [{"Token": []}], (method, path)
            assert {"401", "403"} <= set(op["responses"]), (method, path)
    for method, path in read_operations(app):
        open_op, closed_op = doc["paths"][path][method.lower()], closed["paths"][path][method.lower()]
        assert "security" not in open_op and "401" not in open_op["responses"], (method, path)
        assert closed_op["security"] == [{"Token": []}] and "401" in closed_op["responses"], (method, path)
        assert "403" not in closed_op["responses"], (method, path)
    for document in (doc, closed):
        version = document["paths"]["/v6/version/"]["get"]
        assert "security" not in version and "401" not in version["responses"]
        every = [op for ops in document["paths"].values() for op in ops.values()]
        assert all("422" not in op["responses"] and "400" in op["responses"] for op in every)
