"""Shared fixtures: a real database (SQLite file, and this machine's PostgreSQL), a fake clock.

PostgreSQL tests run against 127.0.0.1:5432 (database ``test``, trust auth). They skip with a
visible reason when the server cannot be reached, and fail instead under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from scale.clock import FakeClock
from scale.store.db import Database
from scale.store.migrate import ensure_scheduler_row, load_builtin_errors, update_database
from scale.store.tables import Base

PG_ADMIN_URL = os.environ.get("SCALE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}"
    return None


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    update_database(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"scale_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    update_database(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_pg(url: str) -> Database:
    db = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    load_builtin_errors(db)
    ensure_scheduler_row(db)
    return db


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database with the built-in errors and the scheduler row."""
    if request.param == "sqlite":
        path = tmp_path / "scale.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        database = _reset_pg(request.getfixturevalue("_pg_database"))
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
