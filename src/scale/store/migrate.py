"""The database update: schema migrations (Alembic) plus data updates (the error catalogue).

``scale db-update`` and the scheduler's start both call :func:`update_database`; it is safe to
run any number of times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from scale.domain.errors import BUILTIN_ERRORS
from scale.store.db import Database
from scale.store.tables import ErrorRow, SchedulerRow

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_schema(db: Database) -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def load_builtin_errors(db: Database, now: datetime | None = None) -> None:
    """Insert or refresh the built-in error catalogue (titles and retry flags may change)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        existing = {
            row.name: row
            for row in session.scalars(
                select(ErrorRow).where(ErrorRow.is_builtin.is_(True), ErrorRow.job_type_name.is_(None))
            )
        }
        for err in BUILTIN_ERRORS:
            row = existing.get(err.name)
            if row is None:
                session.add(
                    ErrorRow(
                        name=err.name,
                        title=err.title,
                        description=err.description,
                        category=err.category.value,
                        is_builtin=True,
                        should_be_retried=err.should_be_retried,
                        job_type_name=None,
                        created=now,
                        last_modified=now,
                    )
                )
            elif (row.title, row.description, row.category, row.should_be_retried) != (
                err.title,
                err.description,
                err.category.value,
                err.should_be_retried,
            ):
                row.title, row.description = err.title, err.description
                row.category, row.should_be_retried = err.category.value, err.should_be_retried
                row.last_modified = now


def ensure_scheduler_row(db: Database) -> None:
    with db.session() as session:
        if session.get(SchedulerRow, 1) is None:
            session.add(SchedulerRow(id=1, is_paused=False, num_message_handlers=1, queue_mode="FIFO"))


#: PostgreSQL advisory lock key held while the database is updated ("scale" in ASCII).
UPDATE_LOCK_KEY = 0x7363616C65


def update_database(db: Database) -> None:
    """Bring the database to the current version: schema, built-in errors, the scheduler row.

    ``scale api`` and ``scale scheduler`` may start together on a new database; on PostgreSQL
    an advisory lock makes the second wait for the first instead of racing it (SQLite writers
    are serialised by ``BEGIN IMMEDIATE`` already).
    """
    if db.dialect != "postgresql":
        _update(db)
        return
    with db.engine.connect() as lock_conn:
        lock_conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPDATE_LOCK_KEY})
        lock_conn.commit()
        try:
            _update(db)
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPDATE_LOCK_KEY})
            lock_conn.commit()


def _update(db: Database) -> None:
    upgrade_schema(db)
    load_builtin_errors(db)
    ensure_scheduler_row(db)
