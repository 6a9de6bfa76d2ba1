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
