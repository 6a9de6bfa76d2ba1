"""API fixtures: a TestClient over ``create_app`` with the real database (SQLite and PostgreSQL,
from ``tests/conftest.py``'s ``db``) and a FakeClock the tests move by hand.

``client`` carries a write token; ``anon_client`` none; ``read_client`` a read-only one.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from scale.api.app import create_app
from scale.clock import FakeClock
from scale.config import Settings
from scale.services.tokens import TokenScope, create_token
from scale.store.db import Database
from tests.api.world import World

# Starlette warns (a UserWarning, an error under this project's filterwarnings) that it prefers
# ``httpx2``; the ``httpx`` this project depends on works the same for the test client.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def app(settings: Settings, db: Database, clock: FakeClock) -> FastAPI:
    return create_app(settings, db, clock=clock)


@pytest.fixture
def write_token(db: Database, clock: FakeClock) -> str:
    return create_token(db, now=clock.now(), name="tests", scope=TokenScope.WRITE).token


@pytest.fixture
def read_token(db: Database, clock: FakeClock) -> str:
    return create_token(db, now=clock.now(), name="tests (read)", scope=TokenScope.READ).token


def _client(app: FastAPI, token: str | None) -> TestClient:
    headers = {"Authorization": f"Token {token}"} if token is not None else {}
    return TestClient(app, raise_server_exceptions=True, headers=headers)


@pytest.fixture
def client(app: FastAPI, write_token: str) -> Iterator[TestClient]:
    """A client with a write token, so it may do anything. Server errors are raised in the test
    (not turned into 500s), so a bug can never hide."""
    with _client(app, write_token) as test_client:
        yield test_client


@pytest.fixture
def anon_client(app: FastAPI) -> Iterator[TestClient]:
    """A client that sends no token."""
    with _client(app, None) as test_client:
        yield test_client


@pytest.fixture
def read_client(app: FastAPI, read_token: str) -> Iterator[TestClient]:
    """A client with a read-only token."""
    with _client(app, read_token) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, db: Database, settings: Settings) -> World:
    """One of everything (job type, job, node, execution with logs) for every-endpoint tests."""
    return World(client, db, settings)
