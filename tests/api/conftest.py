"""API fixtures: a TestClient over ``create_app`` with the real database (SQLite and PostgreSQL,
from ``tests/conftest.py``'s ``db``) and a FakeClock the tests move by hand.
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
from scale.store.db import Database

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
def client(app: FastAPI) -> Iterator[TestClient]:
    """Server errors are raised in the test (not turned into 500s), so a bug can never hide."""
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client
