"""The database update is safe to run twice, and from several processes at once on a new database."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from scale.domain.errors import BUILTIN_ERRORS
from scale.store.db import Database
from scale.store.migrate import update_database
from scale.store.tables import ErrorRow, SchedulerRow
from tests.conftest import PG_ADMIN_URL, _pg_available


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"scale_fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_concurrent_updates_of_a_new_database_give_one_schema_and_one_catalogue(fresh_url: str) -> None:
    failures: list[BaseException] = []

    def run() -> None:
        db = Database(fresh_url)
        try:
            update_database(db)
        except BaseException as exc:
            failures.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    run()  # and once more afterwards: nothing changes
    assert failures == []
    db = Database(fresh_url)
    with db.read() as s:
        builtin = s.scalar(select(func.count()).select_from(ErrorRow).where(ErrorRow.is_builtin.is_(True)))
        assert builtin == len(BUILTIN_ERRORS)
        assert s.get(SchedulerRow, 1) is not None
    db.dispose()


def test_the_migrations_build_exactly_the_schema_of_the_models(fresh_url: str) -> None:
    """A table or column added to ``tables.py`` without a migration (or the reverse) shows here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from scale.store.tables import Base

    db = Database(fresh_url)
    update_database(db)
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert differences == []


def test_0002_adds_the_token_table_to_a_0001_database_and_drops_it_on_downgrade(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from scale.store.migrate import alembic_config

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert "api_token" not in inspect(db.engine).get_table_names()
    update_database(db)  # an existing 0001 database is brought forward
    assert "api_token" in inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "api_token" not in inspect(db.engine).get_table_names()
    db.dispose()
